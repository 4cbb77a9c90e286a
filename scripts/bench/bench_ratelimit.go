package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pipelinekit/pipelinekit/functions/collectevents"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/writekeys"
)

// RateLimitConfig sets the rate-limit benchmark: a well-behaved key sends at GoodRate alone
// (the baseline), then again while a noisy key sends at 10x its limit.
type RateLimitConfig struct {
	Duration    time.Duration // the whole run; each condition gets half, in Rounds alternating rounds
	Rounds      int
	GoodRate    float64 // requests per second of the well-behaved key (its limit is twice this)
	NoisyLimit  float64 // the noisy key's limit; it sends 10x this
	PublishTime time.Duration
	Log         *slog.Logger
}

// RateLimitResult is the figures of the benchmark.
type RateLimitResult struct {
	DurationS        float64 `json:"duration_s"`
	Rounds           int     `json:"rounds"`
	GoodRate         float64 `json:"good_rate"`
	NoisyLimit       float64 `json:"noisy_limit"`
	NoisySent        int     `json:"noisy_sent"`
	NoisyAdmitted    int     `json:"noisy_admitted"`
	Noisy429         int     `json:"noisy_429"`
	GoodP50Ms        float64 `json:"good_p50_ms"`
	GoodP99Ms        float64 `json:"good_p99_ms"`
	BaselineP50Ms    float64 `json:"baseline_p50_ms"`
	BaselineP99Ms    float64 `json:"baseline_p99_ms"`
	GoodRefused      int     `json:"good_refused"`
	Noisy429P99Ms    float64 `json:"noisy_429_p99_ms"`
	AdmittedOverRate float64 `json:"admitted_over_limit"`
}

// sleepPublisher publishes nothing, taking PublishTime per call: a stand-in for Pub/Sub's
// round trip, so that admitted requests cost what they cost in production.
type sleepPublisher struct{ d time.Duration }

func (p sleepPublisher) PublishAll(_ context.Context, msgs []publish.Message) []error {
	time.Sleep(p.d)
	return make([]error, len(msgs))
}

func benchRateLimit(ctx context.Context, c RateLimitConfig) (*RateLimitResult, error) {
	store := writekeys.NewMemStore()
	mk := func(app string, rate float64) (string, error) {
		key, rec, err := writekeys.New(writekeys.Key{App: app, Origins: []string{"https://bench.example"}, RatePerSec: rate, Burst: max(1, int(rate))}, time.Now())
		if err != nil {
			return "", err
		}
		return key, store.Put(ctx, rec)
	}
	goodKey, err := mk("good", 2*c.GoodRate)
	if err != nil {
		return nil, err
	}
	noisyKey, err := mk("noisy", c.NoisyLimit)
	if err != nil {
		return nil, err
	}
	col := collectevents.NewCollector(sleepPublisher{c.PublishTime}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), collectevents.Limits{}).
		WithGate(collectevents.NewGate(writekeys.NewCache(store, 0, nil), true, 1, nil))
	srv := httptest.NewServer(col)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}}

	type outcome struct {
		status  int
		elapsed time.Duration
	}
	// send sends at rate for d, open loop (a request starts on time even if earlier ones are
	// slow), and returns each request's status and latency.
	send := func(key string, rate float64, d time.Duration) []outcome {
		var mu sync.Mutex
		var out []outcome
		var wg sync.WaitGroup
		var seq atomic.Int64
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		end := time.After(d)
		for {
			select {
			case <-ctx.Done():
				wg.Wait()
				return out
			case <-end:
				wg.Wait()
				return out
			case <-tick.C:
				wg.Go(func() {
					body := fmt.Sprintf(`{"id":"e%d","kind":"search","query":"q"}`, seq.Add(1))
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/?key="+key, strings.NewReader(body))
					req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
					req.Header.Set("Origin", "https://bench.example")
					start := time.Now()
					resp, err := client.Do(req)
					o := outcome{elapsed: time.Since(start)}
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						o.status = resp.StatusCode
					}
					mu.Lock()
					out = append(out, o)
					mu.Unlock()
				})
			}
		}
	}
	pct := func(os []outcome, status int, p float64) float64 {
		var ms []float64
		for _, o := range os {
			if o.status == status {
				ms = append(ms, float64(o.elapsed.Microseconds())/1000)
			}
		}
		if len(ms) == 0 {
			return 0
		}
		sort.Float64s(ms)
		return ms[min(len(ms)-1, int(p*float64(len(ms))))]
	}
	// The two conditions alternate in rounds, in ABBA order, so that a change in the machine's
	// load during the run falls on both alike; each condition's figures pool its rounds.
	rounds := max(2, c.Rounds)
	per := c.Duration / time.Duration(rounds)
	var base, good, noisy []outcome
	bursts := 0 // runs of consecutive noisy rounds: the noisy key's bucket refills between them
	var beside time.Duration
	for i := range rounds {
		alone := i%4 == 0 || i%4 == 3
		if !alone && (i == 0 || (i-1)%4 == 0 || (i-1)%4 == 3) {
			bursts++
		}
		if alone {
			c.Log.Info("rate limit: the well-behaved key alone", "round", i+1, "of", rounds, "rate", c.GoodRate, "for", per)
			base = append(base, send(goodKey, c.GoodRate, per)...)
			continue
		}
		beside += per
		c.Log.Info("rate limit: the well-behaved key beside a key at 10x its limit", "round", i+1, "of", rounds, "noisy_limit", c.NoisyLimit)
		var n []outcome
		var wg sync.WaitGroup
		wg.Go(func() { n = send(noisyKey, 10*c.NoisyLimit, per) })
		good = append(good, send(goodKey, c.GoodRate, per)...)
		wg.Wait()
		noisy = append(noisy, n...)
	}

	r := &RateLimitResult{DurationS: c.Duration.Seconds(), Rounds: rounds, GoodRate: c.GoodRate, NoisyLimit: c.NoisyLimit, NoisySent: len(noisy),
		GoodP50Ms: pct(good, 200, 0.50), GoodP99Ms: pct(good, 200, 0.99), BaselineP50Ms: pct(base, 200, 0.50), BaselineP99Ms: pct(base, 200, 0.99),
		Noisy429P99Ms: pct(noisy, 429, 0.99)}
	for _, o := range noisy {
		switch o.status {
		case 200:
			r.NoisyAdmitted++
		case 429:
			r.Noisy429++
		}
	}
	for _, o := range append(base, good...) {
		if o.status != 200 {
			r.GoodRefused++
		}
	}
	// Admitted over what the limit allows in the window: its rate for the duration plus one burst.
	// Admitted over what the limit allows while the noisy key sent: its rate for that time plus
	// one burst per run of noisy rounds (the bucket refills in the alone rounds between them).
	r.AdmittedOverRate = float64(r.NoisyAdmitted) / (c.NoisyLimit*beside.Seconds() + c.NoisyLimit*float64(bursts))
	return r, nil
}

func printRateLimit(w io.Writer, r *RateLimitResult) {
	if r == nil {
		return
	}
	name := "rate limit"
	fmt.Fprintf(w, "%-20s %-40s %14s %14s\n", name, fmt.Sprintf("good key %.0f/s; noisy key 10x %.0f/s", r.GoodRate, r.NoisyLimit), "beside noisy", "alone")
	fmt.Fprintf(w, "%-20s %-40s %14.2f %14.2f %7.2fx\n", name, "good key p99 (ms)", r.GoodP99Ms, r.BaselineP99Ms, r.GoodP99Ms/r.BaselineP99Ms)
	fmt.Fprintf(w, "%-20s %-40s %14.2f %14.2f\n", name, "good key p50 (ms)", r.GoodP50Ms, r.BaselineP50Ms)
	fmt.Fprintf(w, "%-20s %-40s %14d\n", name, "good key requests refused", r.GoodRefused)
	fmt.Fprintf(w, "%-20s %-40s %14d %14d\n", name, "noisy key: admitted / 429", r.NoisyAdmitted, r.Noisy429)
	fmt.Fprintf(w, "%-20s %-40s %14.2f\n", name, "noisy admitted / (limit x time + burst)", r.AdmittedOverRate)
	fmt.Fprintf(w, "%-20s %-40s %14.2f\n", name, "noisy 429 answer p99 (ms)", r.Noisy429P99Ms)
}
