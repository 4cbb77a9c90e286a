package updaterankings

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

func TestMain(m *testing.M) {
	functest.ServeChildIfAsked()
	os.Exit(gcloudemu.Main(m, gcloudemu.Firestore))
}

var now = time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC)

// delivery is a messagePublished CloudEvent as Eventarc sends it.
func delivery(t *testing.T, id string, data string, kind event.Kind) cloudevents.Event {
	t.Helper()
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetType("google.cloud.pubsub.topic.v1.messagePublished")
	e.SetSource("//pubsub.googleapis.com/projects/p/topics/events")
	e.SetTime(now)
	body := map[string]any{"message": map[string]any{"data": []byte(data), "messageId": id, "publishTime": now.Format(time.RFC3339Nano),
		"attributes": map[string]string{"kind": string(kind), "source": "replay"}}, "subscription": "projects/p/subscriptions/events-rankings"}
	if err := e.SetData(cloudevents.ApplicationJSON, body); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestHandleCountsOnceAndAcknowledgesWhatNeverCounts(t *testing.T) {
	fs, err := firestore.NewClient(t.Context(), gcloudemu.NewProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	store := rankings.NewStore(fs, rankings.Options{})
	t.Cleanup(func() { store.Close(); fs.Close() })
	logger, logs := functest.Logger()
	u := NewUpdater(store, func() time.Time { return now }, logger)
	tweet := `{"created_at":"Mon Oct 26 09:35:18 +0000 2015","id_str":"658224858933999001","text":"hi #GCP #gcp #Go",` +
		`"user":{"id_str":"7","screen_name":"a"},"entities":{"hashtags":[{"text":"GCP"},{"text":"gcp"},{"text":"Go"}]}}`
	deliveries := []cloudevents.Event{
		delivery(t, "m1", tweet, event.KindTweet),
		delivery(t, "m1", tweet, event.KindTweet), // redelivered
		delivery(t, "m2", `{"created_at":"Mon Oct 26 09:35:19 +0000 2015","id_str":"658224858933999002","text":"no tags","user":{"id_str":"7","screen_name":"a"}}`, event.KindTweet),
		delivery(t, "m3", `{"kind":"search","id":"s1","query":"  Cloud   Run "}`, event.KindSearch),
		delivery(t, "m4", `{"kind":"detail_view","id":"v1","item_id":"film-1"}`, event.KindDetailView), // no user: no recent view
		delivery(t, "m5", `{"limit":{"track":5}}`, event.KindLimit),                                    // no ranking uses it
		delivery(t, "m6", `not json`, "unclassified"),                                                  // the loader dead-letters it
	}
	for _, d := range deliveries {
		if err := u.Handle(t.Context(), d); err != nil {
			t.Errorf("Handle(%s) = %v, want nil (acknowledged)", d.ID(), err)
		}
	}
	bad := cloudevents.NewEvent()
	bad.SetID("x")
	_ = bad.SetData(cloudevents.ApplicationJSON, json.RawMessage(`[1,2]`))
	if err := u.Handle(t.Context(), bad); err != nil {
		t.Errorf("Handle(not a push body) = %v, want nil", err)
	}
	win, _ := rankings.WindowNamed("15m")
	for _, tc := range []struct {
		r    rankings.Ranking
		want []rankings.Item
	}{
		{rankings.Hashtags, []rankings.Item{{Key: "gcp", Count: 1}, {Key: "go", Count: 1}}},
		{rankings.SearchTerms, []rankings.Item{{Key: "cloud run", Count: 1}}},
		{rankings.Popularity, []rankings.Item{{Key: "film-1", Count: 1}}},
	} {
		got, err := store.Top(t.Context(), tc.r, win, now)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.r, diff)
		}
	}
	if strings.Contains(logs.String(), `"ERROR"`) {
		t.Errorf("logged errors:\n%s", logs)
	}
}

func TestEntryPointRegistered(t *testing.T) {
	names, _ := functest.RegisteredEntryPoints(t, "GOOGLE_CLOUD_PROJECT")
	if diff := cmp.Diff([]string{EntryPoint}, names); diff != "" {
		t.Errorf("registered functions (-want +got):\n%s", diff)
	}
}

func TestLoadConfig(t *testing.T) {
	c, err := LoadConfig(func(k string) (string, bool) {
		v, ok := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "RANKINGS_SHARDS": "4"}[k]
		return v, ok
	})
	if err != nil || c != (Config{Project: "p", Database: rankings.DefaultDatabase, Shards: 4, Layout: rankings.LayoutLog}) {
		t.Errorf("LoadConfig = %+v, %v", c, err)
	}
	c, err = LoadConfig(func(k string) (string, bool) {
		v, ok := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "RANKINGS_LAYOUT": "markers"}[k]
		return v, ok
	})
	if err != nil || c.Layout != rankings.LayoutMarkers {
		t.Errorf("LoadConfig(RANKINGS_LAYOUT=markers) = %+v, %v", c, err)
	}
	_, err = LoadConfig(func(k string) (string, bool) {
		return map[string]string{"RANKINGS_SHARDS": "0", "RANKINGS_LAYOUT": "claims"}[k], true
	})
	for _, name := range []string{"GOOGLE_CLOUD_PROJECT", "RANKINGS_SHARDS", "RANKINGS_LAYOUT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("LoadConfig(nothing, RANKINGS_SHARDS=0, RANKINGS_LAYOUT=claims) = %v, want an error naming %s", err, name)
		}
	}
}

// countingApplier applies nothing: it counts the entries and takes a little while, as a
// group commit does.
type countingApplier struct{ n atomic.Int64 }

func (a *countingApplier) Apply(ctx context.Context, e rankings.Entry) error {
	a.n.Add(1)
	time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
	return nil
}

// Every one of many concurrent deliveries is answered: the framework's CloudEvent handler
// left one unanswered forever now and then (its goroutines took each other's requests).
func TestServeHTTPAnswersEveryConcurrentDelivery(t *testing.T) {
	store := &countingApplier{}
	u := NewUpdater(store, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// http.Server, not httptest: its Close does not wait for a handler that never returns.
	srv := &http.Server{Handler: u}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	const n = 1000
	body, err := json.Marshal(delivery(t, "m1", `{"kind":"search","id":"s1","query":"go"}`, event.KindSearch))
	if err != nil {
		t.Fatal(err)
	}
	// A generous bound: a regression fails here instead of hanging.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var answered atomic.Int64
	for range n {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+l.Addr().String()+"/", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/cloudevents+json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				answered.Add(1)
			}
		})
	}
	wg.Wait()
	if got := answered.Load(); got != n {
		t.Errorf("%d of %d concurrent deliveries answered 2xx within a minute, want all", got, n)
	}
	if got := store.n.Load(); got != n {
		t.Errorf("store.Apply called %d times for %d deliveries, want %d", got, n, n)
	}
}

// failingApplier fails every write, as an unavailable Firestore does.
type failingApplier struct{}

func (failingApplier) Apply(context.Context, rankings.Entry) error {
	return errors.New("firestore unavailable")
}

// TestServeHTTPContract: the answers Pub/Sub and Eventarc act on. A failed store write is 500
// (redelivered), a write that passes or an event no ranking uses is acknowledged, and what is no
// delivery is refused before anything is written.
func TestServeHTTPContract(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	search := delivery(t, "m1", `{"kind":"search","id":"s1","query":"go"}`, event.KindSearch)
	limit := delivery(t, "m2", `{"limit":{"track":5}}`, event.KindLimit)
	structured := func(e cloudevents.Event) *http.Request {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(b))
		r.Header.Set("Content-Type", "application/cloudevents+json")
		return r
	}
	for _, tc := range []struct {
		name  string
		store Applier
		req   *http.Request
		want  int
	}{
		{"written", &countingApplier{}, structured(search), http.StatusNoContent},
		{"store write fails", failingApplier{}, structured(search), http.StatusInternalServerError},
		{"counts nowhere", failingApplier{}, structured(limit), http.StatusNoContent},
		{"GET", failingApplier{}, httptest.NewRequest(http.MethodGet, "/", nil), http.StatusMethodNotAllowed},
		{"no CloudEvent attributes", failingApplier{}, structured(cloudevents.NewEvent()), http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			NewUpdater(tc.store, func() time.Time { return now }, quiet).ServeHTTP(w, tc.req)
			if w.Code != tc.want {
				t.Errorf("ServeHTTP = %d %q, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
}
