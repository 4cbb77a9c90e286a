package main

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/functions/serverankings"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// RankingsConfig sizes the rankings benchmark.
type RankingsConfig struct {
	Events   int
	InFlight int
	// Offered paces the deliveries at this many a second (still at most InFlight at once), as
	// Pub/Sub offers a steady stream; 0 delivers as fast as InFlight allows.
	Offered        float64
	BaselineEvents int
	// Layout is UpdateRankings' RANKINGS_LAYOUT in the functions process ("": its default).
	Layout string
	// LayoutEvents is how many events each layout's run of benchLayouts delivers (0: none).
	LayoutEvents     int
	Readers          int
	ReadFor          time.Duration
	FreshnessSamples int
	Log              *slog.Logger
	Logs             io.Writer
}

// RankingsResult is what the ranking path keeps up with and how fast and fresh it serves.
type RankingsResult struct {
	Events   int     `json:"events"`
	InFlight int     `json:"in_flight"`
	Offered  float64 `json:"offered_per_s,omitempty"`
	EventsPS float64 `json:"events_per_s"`
	// BaselineEventsPS is one Firestore transaction per event (read the event's marker, create it
	// and increment one counter document per key), the direct translation of the Redis INCR
	// design, at the same concurrency.
	BaselineEvents   int     `json:"baseline_events"`
	BaselineEventsPS float64 `json:"baseline_events_per_s"`
	Ratio            float64 `json:"ratio"`
	// Ops and BaselineOps are the Firestore calls of each, counted by a pass-through proxy in
	// front of the emulator; CommitsPerEvent and WritesPerEvent divide them by the events.
	Ops                     FirestoreOps `json:"ops"`
	CommitsPerEvent         float64      `json:"commits_per_event"`
	WritesPerEvent          float64      `json:"writes_per_event"`
	BaselineOps             FirestoreOps `json:"baseline_ops"`
	BaselineCommitsPerEvent float64      `json:"baseline_commits_per_event"`
	BaselineWritesPerEvent  float64      `json:"baseline_writes_per_event"`
	// LoadAverage is the machine's 1-minute load average before and after the throughput runs.
	LoadBefore float64 `json:"load_before"`
	LoadAfter  float64 `json:"load_after"`
	// HotTagCount is the hot hashtag's count in the 1d window, which must equal the tweets sent.
	HotTagCount int64 `json:"hot_tag_count"`
	HotTagWant  int64 `json:"hot_tag_want"`
	// Layouts are the same events through each rankings layout at the same concurrency.
	Layouts []LayoutRun `json:"layouts,omitempty"`

	Readers      int     `json:"readers"`
	Requests     int     `json:"requests"`
	ServeP50Ms   float64 `json:"serve_p50_ms"`
	ServeP99Ms   float64 `json:"serve_p99_ms"`
	NoCacheP50Ms float64 `json:"no_cache_p50_ms"`
	NoCacheP99Ms float64 `json:"no_cache_p99_ms"`

	// Freshness: publish -> visible in ServeRankings (ranking: with its 5 s cache), and
	// CollectEvents accepted a view -> visible in the user's recent views.
	RankingFreshP50Ms float64 `json:"ranking_fresh_p50_ms"`
	RankingFreshMaxMs float64 `json:"ranking_fresh_max_ms"`
	ViewFreshP50Ms    float64 `json:"view_fresh_p50_ms"`
	ViewFreshMaxMs    float64 `json:"view_fresh_max_ms"`
}

// benchRankings runs the local stack with the rankings on and measures: events/s delivered to
// UpdateRankings (a hot hashtag in every tweet) against the one-transaction-per-event
// baseline; ServeRankings' latency with many readers against the same handler without its
// instance cache; and how fresh rankings and recent views are.
func benchRankings(ctx context.Context, c RankingsConfig) (*RankingsResult, error) {
	// The bench starts the Firestore emulator behind a proxy that counts its calls, and the stack
	// uses it through FIRESTORE_EMULATOR_HOST.
	proxy, stop, err := countedFirestore(ctx, c.Log, c.Logs)
	if err != nil {
		return nil, err
	}
	defer stop()
	s, err := localstack.Start(ctx, localstack.Options{Project: fmt.Sprintf("bench-rk-%d", time.Now().UnixNano()), Log: c.Log, Logs: c.Logs,
		Rankings: true, LoaderInFlight: c.InFlight, FunctionsEnv: rankingsEnv(c.Layout)})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	res := &RankingsResult{Events: c.Events, InFlight: c.InFlight, Offered: c.Offered, BaselineEvents: c.BaselineEvents, Readers: c.Readers, LoadBefore: loadAverage()}

	// 1. Throughput: every message straight to UpdateRankings, InFlight at a time.
	c.Log.Info("rankings: delivering events to UpdateRankings", "events", c.Events)
	msgs, hot := rankingMessages(c.Events, "bench")
	res.HotTagWant = int64(hot)
	ops0 := proxy.Snapshot()
	start := time.Now()
	if err := deliverEach(ctx, c.InFlight, c.Offered, msgs, s.DeliverRankingMessage); err != nil {
		return nil, err
	}
	res.EventsPS = float64(len(msgs)) / time.Since(start).Seconds()
	res.Ops = proxy.Snapshot().Sub(ops0)
	res.CommitsPerEvent, res.WritesPerEvent = float64(res.Ops.Calls["Commit"])/float64(len(msgs)), float64(res.Ops.Writes)/float64(len(msgs))
	top, err := s.ServedRanking(ctx, rankings.Hashtags, "1d", 1)
	if err != nil {
		return nil, err
	}
	if len(top.Items) > 0 && top.Items[0].Key == "hot" {
		res.HotTagCount = top.Items[0].Count
	}

	// The baseline, at the same concurrency, on the same emulator.
	c.Log.Info("rankings: baseline, one transaction per event", "events", c.BaselineEvents)
	// The stack's rankings database, where its UpdateRankings writes: the no-cache comparison
	// below serves the same data.
	fs, err := firestore.NewClientWithDatabase(ctx, s.Project, rankings.DefaultDatabase)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	base, _ := rankingMessages(c.BaselineEvents, "base")
	ops0 = proxy.Snapshot()
	start = time.Now()
	if err := deliverEach(ctx, c.InFlight, c.Offered, base, func(ctx context.Context, m localstack.PushMessage) (int, error) {
		return 200, baselineApply(ctx, fs, m)
	}); err != nil {
		return nil, err
	}
	res.BaselineEventsPS = float64(len(base)) / time.Since(start).Seconds()
	res.Ratio = res.EventsPS / res.BaselineEventsPS
	res.BaselineOps = proxy.Snapshot().Sub(ops0)
	res.BaselineCommitsPerEvent = float64(res.BaselineOps.Calls["Commit"]) / float64(len(base))
	res.BaselineWritesPerEvent = float64(res.BaselineOps.Writes) / float64(len(base))
	if c.LayoutEvents > 0 {
		if res.Layouts, err = benchLayouts(ctx, proxy, s.Project, c.LayoutEvents, c.InFlight, c.Offered, c.Log); err != nil {
			return nil, err
		}
	}
	res.LoadAfter = loadAverage()
	// Said at once, so that a later phase failing on a loaded machine does not lose it.
	c.Log.Info("rankings: throughput", "events_per_s", res.EventsPS, "baseline_events_per_s", res.BaselineEventsPS,
		"commits_per_event", res.CommitsPerEvent, "writes_per_event", res.WritesPerEvent, "ops", res.Ops.String(),
		"baseline_commits_per_event", res.BaselineCommitsPerEvent, "baseline_ops", res.BaselineOps.String(),
		"hot_tag", res.HotTagCount, "hot_tag_want", res.HotTagWant, "load_before", res.LoadBefore, "load_after", res.LoadAfter)
	if c.ReadFor <= 0 {
		return res, nil // throughput only
	}

	// 2. Serving with many readers: the functions process (5 s instance cache), then the same
	// handler in this process without the cache, at the same concurrency.
	c.Log.Info("rankings: serving", "readers", c.Readers, "for", c.ReadFor)
	lat, err := readLoad(ctx, s.Rankings.URL, c.Readers, c.ReadFor)
	if err != nil {
		return nil, err
	}
	res.Requests = len(lat)
	res.ServeP50Ms, res.ServeP99Ms = pct(lat, 50), pct(lat, 99)
	store := rankings.NewStore(fs, rankings.Options{})
	defer store.Close()
	nocache := httptest.NewServer(serverankings.NewHandler(store, serverankings.Config{CacheTTL: 0}, nil))
	defer nocache.Close()
	lat, err = readLoad(ctx, nocache.URL, c.Readers, c.ReadFor)
	if err != nil {
		return nil, err
	}
	res.NoCacheP50Ms, res.NoCacheP99Ms = pct(lat, 50), pct(lat, 99)

	// 3. Freshness through the topic and the filtered subscription.
	c.Log.Info("rankings: freshness", "samples", c.FreshnessSamples)
	var rk, vw []time.Duration
	for i := range c.FreshnessSamples {
		d, err := rankingFreshness(ctx, s, i)
		if err != nil {
			return nil, err
		}
		rk = append(rk, d)
		if d, err = viewFreshness(ctx, s, i); err != nil {
			return nil, err
		}
		vw = append(vw, d)
	}
	res.RankingFreshP50Ms, res.RankingFreshMaxMs = pct(rk, 50), pct(rk, 100)
	res.ViewFreshP50Ms, res.ViewFreshMaxMs = pct(vw, 50), pct(vw, 100)
	return res, nil
}

// countedFirestore starts the Firestore emulator behind a counting proxy and points
// FIRESTORE_EMULATOR_HOST at the proxy until stop.
func countedFirestore(ctx context.Context, log *slog.Logger, logs io.Writer) (*opsProxy, func(), error) {
	em, err := gcloudemu.Start(ctx, gcloudemu.Firestore, gcloudemu.WithOutput(logs), gcloudemu.WithStartTimeout(5*time.Minute))
	if err != nil {
		return nil, nil, err
	}
	proxy, err := startOpsProxy(em.Host)
	if err != nil {
		em.Stop()
		return nil, nil, err
	}
	prev, had := os.LookupEnv("FIRESTORE_EMULATOR_HOST")
	os.Setenv("FIRESTORE_EMULATOR_HOST", proxy.Addr)
	log.Info("rankings: Firestore emulator behind a counting proxy", "emulator", em.Host, "proxy", proxy.Addr)
	return proxy, func() {
		if had {
			os.Setenv("FIRESTORE_EMULATOR_HOST", prev)
		} else {
			os.Unsetenv("FIRESTORE_EMULATOR_HOST")
		}
		proxy.Close()
		em.Stop()
	}, nil
}

// rankingMessages makes n events: 70% tweets each with the hot hashtag and one of 500 others,
// 10% retweets of 50 originals, 10% searches, 10% detail views by 1,000 users of 200 items.
// It returns them and how many carry the hot hashtag.
//
// Tweet ids differ per prefix, so that runs on one database never meet each other's tweets.
func rankingMessages(n int, prefix string) ([]localstack.PushMessage, int) {
	now := time.Now().UTC().Format(time.RFC3339Nano)
	h := fnv.New32a()
	h.Write([]byte(prefix))
	off := int64(h.Sum32()%2000) * 1_000_000_000_000_000
	out := make([]localstack.PushMessage, 0, n)
	hot := 0
	for i := range n {
		var data string
		var kind event.Kind
		switch i % 10 {
		case 7:
			data, kind = fmt.Sprintf(`{"created_at":"Mon Oct 26 09:35:18 +0000 2015","id_str":"%d","text":"RT @orig: original %d","user":{"id_str":"8","screen_name":"rt"},`+
				`"retweeted_status":{"id_str":"%d","text":"original %d","user":{"id_str":"9","screen_name":"orig"}}}`, 7000000000000000000+off+int64(i), i%50, 6000000000000000000+i%50, i%50), event.KindRetweet
		case 8:
			data, kind = fmt.Sprintf(`{"id":"%s-s%d","kind":"search","query":"term %d"}`, prefix, i, i%300), event.KindSearch
		case 9:
			data, kind = fmt.Sprintf(`{"id":"%s-v%d","kind":"detail_view","user_id":"user-%d","item_id":"item-%d"}`, prefix, i, i%1000, i%200), event.KindDetailView
		default:
			hot++
			data, kind = fmt.Sprintf(`{"created_at":"Mon Oct 26 09:35:18 +0000 2015","id_str":"%d","text":"tweet %d #hot","user":{"id_str":"7","screen_name":"b"},`+
				`"entities":{"hashtags":[{"text":"hot"},{"text":"tag%d"}]}}`, 5000000000000000000+off+int64(i), i, i%500), event.KindTweet
		}
		out = append(out, localstack.PushMessage{Data: []byte(data), Attributes: event.Attributes(kind, event.SourceReplay, "", ""),
			MessageID: fmt.Sprintf("%s-%07d", prefix, i), PublishTime: now})
	}
	return out, hot
}

func deliverEach(ctx context.Context, inFlight int, offered float64, msgs []localstack.PushMessage, deliver func(context.Context, localstack.PushMessage) (int, error)) error {
	var wg sync.WaitGroup
	var next atomic.Int64
	errs := make(chan error, inFlight)
	start := time.Now()
	for range inFlight {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(msgs) {
					return
				}
				if offered > 0 {
					// Message i is offered at start + i/offered: a steady stream, not a closed loop.
					if d := time.Until(start.Add(time.Duration(float64(i) / offered * float64(time.Second)))); d > 0 {
						time.Sleep(d)
					}
				}
				code, err := deliver(ctx, msgs[i])
				if err == nil && code/100 != 2 {
					err = fmt.Errorf("message %s: status %d", msgs[i].MessageID, code)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// baselineApply is the per-event design: one transaction reading the event's marker and, if
// absent, creating it and incrementing one document per counted key (so a hot key is one
// document that every event writes).
func baselineApply(ctx context.Context, fs *firestore.Client, m localstack.PushMessage) error {
	rec, err := event.Decode(event.Message{ID: m.MessageID, Data: m.Data, Attributes: m.Attributes, PublishTime: time.Now()}, time.Now())
	if err != nil {
		return err
	}
	e, ok := rankings.EntryOf(rec)
	if !ok {
		return nil
	}
	marker := fs.Collection("baseline_seen").Doc(strings.NewReplacer("/", "_").Replace(e.Key))
	return fs.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		if _, err := tx.Get(marker); err == nil {
			return nil
		}
		if err := tx.Create(marker, map[string]any{"at": time.Now()}); err != nil {
			return err
		}
		for _, c := range e.Counts {
			ref := fs.Collection("baseline_counts").Doc(string(c.Ranking) + "_" + fmt.Sprintf("%x", []byte(c.Key)))
			if err := tx.Set(ref, map[string]any{"n": firestore.Increment(1)}, firestore.MergeAll); err != nil {
				return err
			}
		}
		return nil
	}, firestore.MaxAttempts(50))
}

// readLoad runs readers goroutines GETting random rankings and windows from base for d and
// returns every request's latency.
func readLoad(ctx context.Context, base string, readers int, d time.Duration) ([]time.Duration, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = readers
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	// Warm up: the first request of each ranking and window computes it; the rest are measured.
	for _, r := range rankings.All {
		for _, w := range rankings.Windows {
			resp, err := client.Get(fmt.Sprintf("%s/rankings/%s?window=%s&n=10", base, r, w.Name))
			if err != nil {
				return nil, fmt.Errorf("warming up %s %s: %w", r, w.Name, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for g := range readers {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 7))
			var mine []time.Duration
			for time.Now().Before(deadline) && ctx.Err() == nil {
				r := rankings.All[rnd.IntN(len(rankings.All))]
				w := rankings.Windows[rnd.IntN(len(rankings.Windows))]
				t0 := time.Now()
				resp, err := client.Get(fmt.Sprintf("%s/rankings/%s?window=%s&n=10", base, r, w.Name))
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("GET %s %s: status %d", r, w.Name, resp.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return lat, firstErr
}

// rankingFreshness publishes a tweet with the hot hashtag to the events topic and returns how
// long until ServeRankings' 15m hashtag ranking counts it (through its instance cache).
func rankingFreshness(ctx context.Context, s *localstack.Stack, i int) (time.Duration, error) {
	count := func() (int64, error) {
		r, err := s.ServedRanking(ctx, rankings.Hashtags, "15m", 1)
		if err != nil || len(r.Items) == 0 {
			return 0, err
		}
		return r.Items[0].Count, nil
	}
	before, err := count()
	if err != nil {
		return 0, err
	}
	data := fmt.Sprintf(`{"created_at":"Mon Oct 26 09:35:18 +0000 2015","id_str":"%d","text":"#hot","user":{"id_str":"7","screen_name":"f"},`+
		`"entities":{"hashtags":[{"text":"hot"}]}}`, 4000000000000000000+i)
	start := time.Now()
	if _, err := s.Publisher.Publish(ctx, publish.Message{Data: []byte(data), Attributes: event.Attributes(event.KindTweet, event.SourceReplay, "", "")}).Get(ctx); err != nil {
		return 0, err
	}
	for {
		n, err := count()
		if err != nil {
			return 0, err
		}
		if n > before {
			return time.Since(start), nil
		}
		if time.Since(start) > 2*time.Minute {
			return 0, fmt.Errorf("#hot still counts %d 2 minutes after a tweet was published", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// viewFreshness posts a detail view to CollectEvents and returns how long from its answer
// until the user's recent views show it.
func viewFreshness(ctx context.Context, s *localstack.Stack, i int) (time.Duration, error) {
	user, item := fmt.Sprintf("fresh-user-%d", i), fmt.Sprintf("fresh-item-%d", i)
	body := fmt.Sprintf(`{"id":"fresh-view-%d","kind":"detail_view","user_id":%q,"item_id":%q}`, i, user, item)
	resp, err := http.Post(s.Functions.URL+"/CollectEvents", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	var ans struct{ Accepted int }
	_ = json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if ans.Accepted != 1 {
		return 0, fmt.Errorf("CollectEvents did not accept the view (status %d)", resp.StatusCode)
	}
	start := time.Now()
	for {
		views, err := s.ServedRecentViews(ctx, user)
		if err != nil {
			return 0, err
		}
		if len(views) == 1 && views[0].ItemID == item {
			return time.Since(start), nil
		}
		if time.Since(start) > 2*time.Minute {
			return 0, fmt.Errorf("the view of %s is not in %s's recent views after 2 minutes", item, user)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func printRankings(w io.Writer, r *RankingsResult) {
	if r == nil {
		return
	}
	label := "events/s kept up with (UpdateRankings)"
	if r.Offered > 0 {
		label = fmt.Sprintf("events/s of %.0f/s offered", r.Offered)
	}
	fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f %7.1fx\n", "rankings", label, r.EventsPS, r.BaselineEventsPS, r.Ratio)
	fmt.Fprintf(w, "%-20s %-40s %14.3f %14.3f\n", "rankings", "Firestore commits per event", r.CommitsPerEvent, r.BaselineCommitsPerEvent)
	fmt.Fprintf(w, "%-20s %-40s %14.3f %14.3f\n", "rankings", "Firestore documents written per event", r.WritesPerEvent, r.BaselineWritesPerEvent)
	fmt.Fprintf(w, "%-20s %-40s %s | %s\n", "rankings", "Firestore calls", r.Ops, r.BaselineOps)
	printLayouts(w, r.Layouts)
	fmt.Fprintf(w, "%-20s %-40s %14.2f %14.2f\n", "rankings", "load average (1 min) before / after", r.LoadBefore, r.LoadAfter)
	fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", "rankings", "hot hashtag count / tweets sent", r.HotTagCount, r.HotTagWant)
	fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", "rankings", fmt.Sprintf("serve p50 (ms), %d readers", r.Readers), r.ServeP50Ms, r.NoCacheP50Ms)
	fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f\n", "rankings", fmt.Sprintf("serve p99 (ms), %d readers", r.Readers), r.ServeP99Ms, r.NoCacheP99Ms)
	fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f\n", "rankings", "fresh: publish -> ranking p50/max (ms)", r.RankingFreshP50Ms, r.RankingFreshMaxMs)
	fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f\n", "rankings", "fresh: accepted -> recent view p50/max", r.ViewFreshP50Ms, r.ViewFreshMaxMs)
}

// rankingsEnv is the functions process's environment for the rankings bench.
func rankingsEnv(layout string) map[string]string {
	env := map[string]string{"RANKINGS_CACHE_TTL": "5s"}
	if layout != "" {
		env["RANKINGS_LAYOUT"] = layout
	}
	return env
}
