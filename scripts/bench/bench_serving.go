package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/functions/serverankings"
	"github.com/pipelinekit/pipelinekit/shared/firestorereads"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
)

// ServingConfig sizes the serving benchmark.
type ServingConfig struct {
	// Readers are the concurrent readers measured, each level in turn.
	Readers []int
	// ReadFor is how long each level reads.
	ReadFor time.Duration
	// Events are delivered to UpdateRankings first, so the rankings have content.
	Events int
	// PollMinutes is how many minutes of a deck tab's polling the read count covers (on a
	// settable clock: it takes no wall time).
	PollMinutes int
	Log         *slog.Logger
	Logs        io.Writer
}

// ServingLevel is one concurrency's latencies, cache on (what `dev --serve` runs) and off.
type ServingLevel struct {
	Readers      int     `json:"readers"`
	Requests     int     `json:"requests"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	NoCacheReqs  int     `json:"no_cache_requests"`
	NoCacheP50Ms float64 `json:"no_cache_p50_ms"`
	NoCacheP99Ms float64 `json:"no_cache_p99_ms"`
	LoadBefore   float64 `json:"load_before"`
	LoadAfter    float64 `json:"load_after"`
}

// ServingResult is ServeRankings as the deck uses it: latency at each level, and what one open
// deck tab costs in Firestore document reads (billed reads, shared/firestorereads) per minute.
type ServingResult struct {
	Levels []ServingLevel `json:"levels"`
	// TabReadsPerMin is one tab alone on an instance with the production cache (5 s): its
	// default columns (a search, 20 tweets shown, and four rankings) polled every 5 s; NoCacheTabReadsPerMin the
	// same without the cache. TabsPerInstance tabs sharing an instance cost
	// SharedTabReadsPerMin each.
	TabReadsPerMin        float64 `json:"tab_reads_per_min"`
	NoCacheTabReadsPerMin float64 `json:"no_cache_tab_reads_per_min"`
	TabsPerInstance       int     `json:"tabs_per_instance"`
	SharedTabReadsPerMin  float64 `json:"shared_tab_reads_per_min"`
	PollSeconds           float64 `json:"poll_s"`
}

// benchServing starts the local stack as `dev --serve` runs it (the production cache), fills
// the rankings, and measures ServeRankings at each reader level against the same handler and
// store with the cache off, at the same level, in the same run; then counts a tab's reads.
func benchServing(ctx context.Context, c ServingConfig) (*ServingResult, error) {
	s, err := localstack.Start(ctx, localstack.Options{Project: fmt.Sprintf("bench-sv-%d", time.Now().UnixNano()), Log: c.Log, Logs: c.Logs,
		Rankings: true, RankingsCache: true})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	// This process reads the stack's Firestore directly (the cache-off baseline, the read
	// counts); the functions process goes through the stack's checks, so the baseline is, if
	// anything, favoured.
	prev, had := os.LookupEnv("FIRESTORE_EMULATOR_HOST")
	os.Setenv("FIRESTORE_EMULATOR_HOST", s.FirestoreHost)
	defer func() {
		if had {
			os.Setenv("FIRESTORE_EMULATOR_HOST", prev)
		} else {
			os.Unsetenv("FIRESTORE_EMULATOR_HOST")
		}
	}()
	msgs, _ := rankingMessages(c.Events, "serve")
	if err := deliverEach(ctx, 64, 0, msgs, s.DeliverRankingMessage); err != nil {
		return nil, err
	}
	fs, err := firestore.NewClientWithDatabase(ctx, s.Project, rankings.DefaultDatabase)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	store := rankings.NewStore(fs, rankings.Options{})
	defer store.Close()
	nocache := httptest.NewServer(serverankings.NewHandler(store, serverankings.Config{CacheTTL: 0}, nil))
	defer nocache.Close()

	res := &ServingResult{}
	for _, n := range c.Readers {
		lv := ServingLevel{Readers: n, LoadBefore: loadAverage()}
		c.Log.Info("serving: cache on (the functions process)", "readers", n, "for", c.ReadFor)
		lat, err := readLoad(ctx, s.Rankings.URL, n, c.ReadFor)
		if err != nil {
			return nil, err
		}
		lv.Requests, lv.P50Ms, lv.P99Ms = len(lat), pct(lat, 50), pct(lat, 99)
		c.Log.Info("serving: cache off (baseline)", "readers", n, "for", c.ReadFor)
		if lat, err = readLoad(ctx, nocache.URL, n, c.ReadFor); err != nil {
			return nil, err
		}
		lv.NoCacheReqs, lv.NoCacheP50Ms, lv.NoCacheP99Ms = len(lat), pct(lat, 50), pct(lat, 99)
		lv.LoadAfter = loadAverage()
		res.Levels = append(res.Levels, lv)
	}

	const poll = 5 * time.Second // DECK_POLL_INTERVAL's default
	res.PollSeconds = poll.Seconds()
	res.TabsPerInstance = 50
	for _, tc := range []struct {
		ttl  time.Duration
		tabs int
		out  *float64
	}{
		{5 * time.Second, 1, &res.TabReadsPerMin},
		{0, 1, &res.NoCacheTabReadsPerMin},
		{5 * time.Second, res.TabsPerInstance, &res.SharedTabReadsPerMin},
	} {
		reads, err := tabReads(ctx, s.Project, tc.ttl, tc.tabs, poll, c.PollMinutes)
		if err != nil {
			return nil, err
		}
		*tc.out = reads / float64(tc.tabs) / float64(c.PollMinutes)
	}
	return res, nil
}

// tabReads counts the Firestore documents read while tabs deck tabs poll their default columns
// (a #hot search, as the events hold, and the four rankings in the 1h window) every poll for minutes, through
// one ServeRankings handler with cache ttl, on a clock advanced poll by poll.
func tabReads(ctx context.Context, project string, ttl time.Duration, tabs int, poll time.Duration, minutes int) (float64, error) {
	var counter firestorereads.Counter
	opts, err := counter.Options()
	if err != nil {
		return 0, err
	}
	fs, err := firestore.NewClientWithDatabase(ctx, project, rankings.DefaultDatabase, opts...)
	if err != nil {
		return 0, err
	}
	defer fs.Close()
	store := rankings.NewStore(fs, rankings.Options{})
	defer store.Close()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := httptest.NewServer(serverankings.NewHandler(store, serverankings.Config{CacheTTL: ttl}, clock))
	defer srv.Close()
	paths := []string{"/tweets?n=20&q=" + url.QueryEscape("#hot")}
	for _, r := range rankings.All {
		paths = append(paths, fmt.Sprintf("/rankings/%s?window=1h&n=10", r))
	}
	get := func(p string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+p, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %d", p, resp.StatusCode)
		}
		return nil
	}
	rounds := minutes * int(time.Minute/poll)
	for range rounds {
		for range tabs {
			for _, p := range paths {
				if err := get(p); err != nil {
					return 0, err
				}
			}
		}
		mu.Lock()
		now = now.Add(poll)
		mu.Unlock()
		// A stale ranking is recomputed in the background: let it land before the next round,
		// so each round counts the reads it caused.
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	return float64(counter.Reads()), nil
}

func printServing(w io.Writer, r *ServingResult) {
	if r == nil {
		return
	}
	for _, lv := range r.Levels {
		name := fmt.Sprintf("serving, %d readers", lv.Readers)
		fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f %7.1fx\n", name, "p50 ms, cache on vs off", lv.P50Ms, lv.NoCacheP50Ms, lv.NoCacheP50Ms/max(lv.P50Ms, 0.001))
		fmt.Fprintf(w, "%-20s %-40s %14.1f %14.1f %7.1fx\n", name, "p99 ms, cache on vs off", lv.P99Ms, lv.NoCacheP99Ms, lv.NoCacheP99Ms/max(lv.P99Ms, 0.001))
		fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", name, fmt.Sprintf("requests (load %.1f -> %.1f)", lv.LoadBefore, lv.LoadAfter), lv.Requests, lv.NoCacheReqs)
	}
	fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f %7.1fx\n", "serving, deck tab", fmt.Sprintf("Firestore reads/min, 1 tab, poll %.0f s", r.PollSeconds), r.TabReadsPerMin, r.NoCacheTabReadsPerMin, r.NoCacheTabReadsPerMin/max(r.TabReadsPerMin, 0.001))
	fmt.Fprintf(w, "%-20s %-40s %14.0f %14.0f\n", "serving, deck tab", fmt.Sprintf("reads/min per tab, %d tabs on 1 instance", r.TabsPerInstance), r.SharedTabReadsPerMin, r.TabReadsPerMin)
}
