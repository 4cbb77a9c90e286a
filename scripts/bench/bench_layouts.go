package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/functions/updaterankings"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// LayoutRun is one rankings layout's run of the same events, at the same deliveries in flight
// and offered rate, through UpdateRankings' handler in this process (shared/rankings/log.go).
type LayoutRun struct {
	Layout          rankings.Layout `json:"layout"`
	Events          int             `json:"events"`
	EventsPS        float64         `json:"events_per_s"`
	CommitsPerEvent float64         `json:"commits_per_event"`
	WritesPerEvent  float64         `json:"writes_per_event"`
	ReadsPerEvent   float64         `json:"reads_per_event"`
	Ops             FirestoreOps    `json:"ops"`
	HotTagCount     int64           `json:"hot_tag_count"`
	HotTagWant      int64           `json:"hot_tag_want"`
}

// benchLayouts delivers n events of the benchmark's mix to UpdateRankings' handler on a store
// of each layout in turn, markers first (the baseline), each through HTTP push requests at
// inFlight and offered, on the stack's rankings database behind the counting proxy.
func benchLayouts(ctx context.Context, proxy *opsProxy, project string, n, inFlight int, offered float64, log *slog.Logger) ([]LayoutRun, error) {
	var out []LayoutRun
	for _, layout := range []rankings.Layout{rankings.LayoutMarkers, rankings.LayoutLog} {
		fs, err := firestore.NewClientWithDatabase(ctx, project, rankings.DefaultDatabase)
		if err != nil {
			return nil, err
		}
		store := rankings.NewStore(fs, rankings.Options{Layout: layout, Log: log})
		u := updaterankings.NewUpdater(store, nil, log)
		srv := httptest.NewServer(pushdelivery.Handler(updaterankings.EntryPoint, func(context.Context) (*updaterankings.Updater, error) { return u, nil }, log))
		msgs, hot := rankingMessages(n, "layout-"+string(layout))
		hot0, err := hotCount(ctx, fs, layout, log)
		if err != nil {
			return nil, err
		}
		log.Info("rankings: layout run", "layout", layout, "events", n, "in_flight", inFlight, "offered", offered)
		ops0 := proxy.Snapshot()
		start := time.Now()
		err = deliverEach(ctx, inFlight, offered, msgs, func(ctx context.Context, m localstack.PushMessage) (int, error) {
			return pushTo(ctx, srv.URL, project, m)
		})
		run := LayoutRun{Layout: layout, Events: n, EventsPS: float64(n) / time.Since(start).Seconds(), Ops: proxy.Snapshot().Sub(ops0), HotTagWant: int64(hot)}
		srv.Close()
		store.Close()
		if err == nil {
			var hot1 int64
			hot1, err = hotCount(ctx, fs, layout, log)
			run.HotTagCount = hot1 - hot0 // the runs before counted the same hashtag
		}
		fs.Close()
		if err != nil {
			return nil, fmt.Errorf("the %s layout's run: %w", layout, err)
		}
		run.CommitsPerEvent = float64(run.Ops.Calls["Commit"]) / float64(n)
		run.WritesPerEvent = float64(run.Ops.Writes) / float64(n)
		run.ReadsPerEvent = float64(run.Ops.Reads) / float64(n)
		log.Info("rankings: layout run done", "layout", layout, "events_per_s", run.EventsPS, "writes_per_event", run.WritesPerEvent,
			"commits_per_event", run.CommitsPerEvent, "ops", run.Ops.String())
		out = append(out, run)
	}
	return out, nil
}

// pushTo delivers m to a push endpoint at url as the rankings subscription would.
func pushTo(ctx context.Context, url, project string, m localstack.PushMessage) (int, error) {
	req, err := pushdelivery.PushRequest(ctx, url, localstack.PushBody{Message: m, Subscription: publish.SubscriptionName(project, localstack.RankingsSub)}, "")
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("delivering message %s: %w", m.MessageID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if !pushdelivery.Acked(resp.StatusCode) {
		return resp.StatusCode, fmt.Errorf("delivering message %s: status %d", m.MessageID, resp.StatusCode)
	}
	return resp.StatusCode, nil
}

func printLayouts(w io.Writer, runs []LayoutRun) {
	if len(runs) < 2 {
		return
	}
	base := runs[0]
	for _, r := range runs[1:] {
		fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f %7.1fx\n", "rankings layout", fmt.Sprintf("events/s, %s vs %s", r.Layout, base.Layout), r.EventsPS, base.EventsPS, r.EventsPS/base.EventsPS)
		fmt.Fprintf(w, "%-20s %-40s %14.3f %14.3f\n", "rankings layout", "Firestore documents written per event", r.WritesPerEvent, base.WritesPerEvent)
		fmt.Fprintf(w, "%-20s %-40s %14.3f %14.3f\n", "rankings layout", "Firestore commits per event", r.CommitsPerEvent, base.CommitsPerEvent)
		fmt.Fprintf(w, "%-20s %-40s %14.3f %14.3f\n", "rankings layout", "Firestore documents read per event", r.ReadsPerEvent, base.ReadsPerEvent)
		fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", "rankings layout", "hot hashtag count (want "+fmt.Sprint(r.HotTagWant)+")", r.HotTagCount, base.HotTagCount)
	}
}

// hotCount is the hot hashtag's count in the 1d window, as a reader of layout sees it.
func hotCount(ctx context.Context, fs *firestore.Client, layout rankings.Layout, log *slog.Logger) (int64, error) {
	r := rankings.NewStore(fs, rankings.Options{Layout: layout, ReadOnly: true, Log: log})
	defer r.Close()
	items, err := r.Top(ctx, rankings.Hashtags, rankings.Windows[2], time.Now())
	for _, it := range items {
		if it.Key == "hot" {
			return it.Count, err
		}
	}
	return 0, err
}
