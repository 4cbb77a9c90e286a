package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"cloud.google.com/go/bigquery"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/pushdelivery"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// LoaderConfig sizes the loader benchmark.
type LoaderConfig struct {
	Messages, InFlight, BaselineMessages int
	// RTT is the modelled network round trip to BigQuery, added by the local BigQuery to every
	// REST call and append response. Zero measures loopback only.
	RTT  time.Duration
	Log  *slog.Logger
	Logs io.Writer
}

// LoaderResult is the loader's throughput and latency, and the baseline's, on the same data.
type LoaderResult struct {
	RTTMs    float64 `json:"rtt_ms"`
	Messages int     `json:"messages"`
	InFlight int     `json:"in_flight"`
	MsgsPerS float64 `json:"msgs_per_s"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	// The baseline at equal concurrency: one insertAll per message, with InFlight calls in
	// flight, as a per-message consumer with the same concurrency would.
	BaselineMessages int     `json:"baseline_messages"`
	BaselineMsgsPerS float64 `json:"baseline_msgs_per_s"`
	BaselineP50Ms    float64 `json:"baseline_p50_ms"`
	BaselineP99Ms    float64 `json:"baseline_p99_ms"`
	Ratio            float64 `json:"ratio"`
	// The seed's baseline: one insertAll per message, one message at a time.
	SequentialMessages int     `json:"sequential_messages"`
	SequentialMsgsPerS float64 `json:"sequential_msgs_per_s"`
	SequentialP50Ms    float64 `json:"sequential_p50_ms"`
	SequentialRatio    float64 `json:"sequential_ratio"`
	// Loopback is the same measure with no modelled round trip.
	Loopback *LoaderResult `json:"loopback,omitempty"`
}

const benchProject = "bench"

// benchLoader delivers messages to LoadEvents as Eventarc does (binary-mode CloudEvents, many in
// flight to one function process) and measures the time from delivery to durable row (the loader
// answers only once the row is appended). The baseline is the hand-written consumer the project
// replaces: one synchronous insertAll call per message, one message at a time.
func benchLoader(ctx context.Context, c LoaderConfig) (*LoaderResult, error) {
	loop, err := runLoader(ctx, c, 0)
	if err != nil {
		return nil, err
	}
	if c.RTT == 0 {
		return loop, nil
	}
	res, err := runLoader(ctx, c, c.RTT)
	if err != nil {
		return nil, err
	}
	res.Loopback = loop
	return res, nil
}

func runLoader(ctx context.Context, c LoaderConfig, rtt time.Duration) (*LoaderResult, error) {
	c.Log.Info("loader benchmark", "rtt", rtt)
	srv, err := bqemulator.NewServer(bqemulator.WithProject(benchProject), bqemulator.WithLatency(rtt),
		bqemulator.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	os.Setenv(warehouse.EmulatorHostEnv, srv.Addr())
	bq, err := bigquery.NewClient(ctx, benchProject, warehouse.RESTClientOptions()...)
	if err != nil {
		return nil, err
	}
	defer bq.Close()
	for _, ds := range []string{"loader", "baseline"} {
		if err := warehouse.EnsureDataset(ctx, bq, ds); err != nil {
			return nil, err
		}
	}
	root, err := localstack.ModuleRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	c.Log.Info("building the functions")
	bin, err := localstack.BuildFunctions(ctx, root, tmp)
	if err != nil {
		return nil, err
	}
	fn, err := localstack.StartFunctions(ctx, bin, 0, map[string]string{
		"GOOGLE_CLOUD_PROJECT": benchProject, "BIGQUERY_DATASET": "loader", warehouse.EmulatorHostEnv: srv.Addr(), "LOG_LEVEL": "warn",
	}, c.Logs)
	if err != nil {
		return nil, err
	}
	defer fn.Stop()

	msgs := sampleMessages(c.Messages)
	target := fn.URL + "/LoadEvents"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.InFlight, MaxConnsPerHost: c.InFlight}}
	c.Log.Info("warming up the loader")
	if _, _, err := deliverAll(ctx, client, target, msgs[:min(200, len(msgs))], c.InFlight, "warm"); err != nil {
		return nil, err
	}
	c.Log.Info("delivering", "messages", len(msgs), "in_flight", c.InFlight)
	lat, elapsed, err := deliverAll(ctx, client, target, msgs, c.InFlight, "m")
	if err != nil {
		return nil, err
	}
	res := &LoaderResult{RTTMs: float64(rtt.Microseconds()) / 1000, Messages: len(msgs), InFlight: c.InFlight, MsgsPerS: float64(len(msgs)) / elapsed.Seconds(),
		P50Ms: pct(lat, 50), P99Ms: pct(lat, 99)}

	// Every delivery must have become exactly one row, or the figure means nothing.
	rows, err := srv.Query(ctx, "SELECT (SELECT COUNT(*) FROM `bench.loader.tweets` WHERE STARTS_WITH(message_id, 'm')) + (SELECT COUNT(*) FROM `bench.loader.app_events` WHERE STARTS_WITH(message_id, 'm')) AS n")
	if err != nil {
		return nil, err
	}
	if n := rows[0]["n"].(int64); n != int64(len(msgs)) {
		return nil, fmt.Errorf("loader wrote %d rows for %d messages", n, len(msgs))
	}

	c.Log.Info("baseline: one insertAll per message, same concurrency", "messages", c.BaselineMessages*4, "in_flight", c.InFlight)
	blat, belapsed, err := baseline(ctx, bq, msgs[:min(c.BaselineMessages*4, len(msgs))], c.InFlight, "b")
	if err != nil {
		return nil, err
	}
	res.BaselineMessages = len(blat)
	res.BaselineMsgsPerS = float64(len(blat)) / belapsed.Seconds()
	res.BaselineP50Ms, res.BaselineP99Ms = pct(blat, 50), pct(blat, 99)
	res.Ratio = res.MsgsPerS / res.BaselineMsgsPerS
	c.Log.Info("baseline: one synchronous insertAll per message, one at a time (the seed's loop)", "messages", c.BaselineMessages)
	slat, selapsed, err := baseline(ctx, bq, msgs[:min(c.BaselineMessages, len(msgs))], 1, "s")
	if err != nil {
		return nil, err
	}
	res.SequentialMessages = len(slat)
	res.SequentialMsgsPerS = float64(len(slat)) / selapsed.Seconds()
	res.SequentialP50Ms = pct(slat, 50)
	res.SequentialRatio = res.MsgsPerS / res.SequentialMsgsPerS
	return res, nil
}

// sampleMessages makes n messages like the stream's: 70% v2 tweets (~1 KB), 30% app events.
func sampleMessages(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		if i%10 < 7 {
			out[i] = fmt.Appendf(nil, `{"data":{"id":"%d","text":"benchmark tweet %d about #golang and #bigquery with a link https://t.co/abc and some more words to reach a realistic size for a post on the stream","author_id":"%d","created_at":"2026-11-22T10:00:00.000Z","lang":"en","entities":{"hashtags":[{"tag":"golang"},{"tag":"bigquery"}],"urls":[{"url":"https://t.co/abc","expanded_url":"https://go.dev/"}]}},"includes":{"users":[{"id":"%d","username":"user%d"}]},"matching_rules":[{"id":"1600","tag":"golang"}]}`, 1600000000000000000+i, i, i%977, i%977, i%977)
		} else {
			out[i] = fmt.Appendf(nil, `{"id":"ev-%d","kind":"search","time":"2026-11-22T10:00:00Z","user_id":"u%d","session_id":"s%d","query":"red shoes size %d","results_count":%d,"properties":{"page":"search","ab":"b"}}`, i, i%500, i%2000, i%12, i%50)
		}
	}
	return out
}

func deliverAll(ctx context.Context, client *http.Client, target string, msgs [][]byte, inFlight int, prefix string) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, len(msgs))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := localstack.PushBody{Message: localstack.PushMessage{Data: msgs[i], MessageID: fmt.Sprintf("%s%d", prefix, i),
					PublishTime: time.Now().UTC().Format(time.RFC3339Nano), Attributes: map[string]string{"source": "bench"}},
					Subscription: "projects/bench/subscriptions/events-loader"}
				req, err := pushdelivery.PushRequest(ctx, target, body, "")
				if err == nil {
					t0 := time.Now()
					var resp *http.Response
					resp, err = client.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode/100 != 2 {
							err = fmt.Errorf("message %d: LoadEvents answered %d", i, resp.StatusCode)
						}
					}
					lat[i] = time.Since(t0)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range msgs {
		next <- i
	}
	close(next)
	wg.Wait()
	return lat, time.Since(start), firstErr
}

// rowSaver adapts event.Values to the BigQuery client's ValueSaver.
type rowSaver map[string]any

func (r rowSaver) Save() (map[string]bigquery.Value, string, error) {
	out := make(map[string]bigquery.Value, len(r))
	for k, v := range r {
		out[k] = v
	}
	return out, "", nil
}

// baseline inserts each message with its own insertAll call, inFlight calls at a time, and
// returns each call's latency.
func baseline(ctx context.Context, bq *bigquery.Client, msgs [][]byte, inFlight int, prefix string) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, len(msgs))
	next := make(chan int)
	errs := make(chan error, inFlight)
	start := time.Now()
	for range inFlight {
		go func() {
			var first error
			for i := range next {
				if first != nil {
					continue
				}
				t0 := time.Now()
				rec, err := event.Decode(event.Message{ID: fmt.Sprintf("%s%d", prefix, i), PublishTime: time.Now(), Data: msgs[i], Attributes: map[string]string{"source": "bench"}}, time.Now())
				if err == nil {
					err = bq.Dataset("baseline").Table(rec.Table).Inserter().Put(ctx, rowSaver(event.Values(rec.Row)))
				}
				if err != nil {
					first = fmt.Errorf("baseline insert %d: %w", i, err)
				}
				lat[i] = time.Since(t0)
			}
			errs <- first
		}()
	}
	for i := range msgs {
		next <- i
	}
	close(next)
	var first error
	for range inFlight {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return nil, 0, first
	}
	return lat, time.Since(start), nil
}

func pct(d []time.Duration, p int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[(len(s)-1)*p/100].Microseconds()) / 1000
}
