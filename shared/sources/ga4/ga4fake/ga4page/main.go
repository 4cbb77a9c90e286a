// Command ga4page runs one GA4 task's report against a GA4 Data API (the bench's fake) the way
// RunBackfillTask does, streamed or buffered, and prints its peak memory as one JSON line. It
// runs in a process of its own so that its peak RSS is the task's and nothing else's.
//
//	ga4page --url URL --mode streamed|buffered --limit N --start YYYY-MM-DD --end YYYY-MM-DD --dimensions a,b --metrics x,y
//
// The rows go as far as the worker takes them before the BigQuery client: backfill rows and
// their column values (event.Values). The raw body is held as RawWriter holds it (a 900 KB
// part 0 and the part being filled) without writing to Firestore.
//
// Reference: docs/performance.md#memory.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/sources"
	ga4src "github.com/pipelinekit/pipelinekit/shared/sources/ga4"
)

// Result is the one line printed.
type Result struct {
	Mode  string `json:"mode"`
	Limit int    `json:"limit"`
	Rows  int    `json:"rows"`
	Pages int    `json:"pages"`
	Calls int    `json:"calls"`
	Ms    int64  `json:"ms"`
	Error string `json:"error,omitempty"`
	// StartRSSMB is the process's RSS before the task, PeakRSSMB its high-water mark (VmHWM).
	StartRSSMB float64 `json:"start_rss_mb"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	// PeakHeapMB is the largest heap-object bytes sampled every millisecond.
	PeakHeapMB float64 `json:"peak_heap_mb"`
}

// rawPart is RawWriter's part size.
const rawPart = 900_000

func main() {
	url := flag.String("url", "", "GA4 API base URL")
	mode := flag.String("mode", "streamed", "streamed or buffered")
	limit := flag.Int("limit", ga4src.GA4MaxLimit, "the spec's limit")
	start := flag.String("start", "2026-01-01", "start date")
	end := flag.String("end", "2026-01-01", "end date")
	dims := flag.String("dimensions", "date", "dimensions")
	mets := flag.String("metrics", "activeUsers", "metrics")
	property := flag.String("property", "123456789", "property id")
	flag.Parse()

	ctx := context.Background()
	g, err := ga4src.NewGA4(ctx, ga4src.GA4Config{BaseURL: *url, HTTPTimeout: 5 * time.Minute,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "ya29.bench"})})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	q := ga4src.GA4Query{Property: "properties/" + *property, StartDate: *start, EndDate: *end,
		Dimensions: strings.Split(*dims, ","), Metrics: strings.Split(*mets, ","), Limit: *limit}
	task := backfill.TaskSpec{JobID: "bf-bench", Shard: "property=" + *property + "/" + *start + ".." + *end,
		Source: ga4src.Name}
	backfill.SetRequest(&task, &q)

	runtime.GC()
	res := Result{Mode: *mode, Limit: *limit, StartRSSMB: procMB("VmRSS")}
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go sampleHeap(&peak, stop, sampled)
	began := time.Now()
	switch *mode {
	case "buffered":
		res.Rows, res.Pages, res.Calls, err = buffered(ctx, g, task)
	default:
		res.Rows, res.Pages, res.Calls, err = streamed(ctx, g, task)
	}
	res.Ms = time.Since(began).Milliseconds()
	close(stop)
	<-sampled
	if err != nil {
		res.Error = err.Error()
	}
	res.PeakRSSMB, res.PeakHeapMB = procMB("VmHWM"), float64(peak.Load())/(1<<20)
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

// buffered is the worker before streaming: the whole report (Fetch), its rows, their values,
// all alive until the one append.
func buffered(ctx context.Context, g *ga4src.GA4, task backfill.TaskSpec) (rows, pages, calls int, err error) {
	var q ga4src.GA4Query
	if err := backfill.Request(task, &q, "a ga4 query"); err != nil {
		return 0, 0, 0, err
	}
	r, err := g.Report(ctx, q)
	if err != nil {
		return 0, 0, callsOf(err), err
	}
	out := ga4src.Rows(task, r.Records, 0, time.Now())
	values := make([]map[string]any, len(out))
	for i, row := range out {
		values[i] = event.Values(row)
	}
	runtime.KeepAlive(r)
	runtime.KeepAlive(out)
	return len(values), len(r.Pages), r.APICalls, nil
}

// streamed is the worker's GA4 path: each batch becomes rows and values, handed on and dropped.
func streamed(ctx context.Context, g *ga4src.GA4, task backfill.TaskSpec) (rows, pages, calls int, err error) {
	head := make([]byte, 0, rawPart)
	var cur []byte
	keepRaw := func(p []byte) error {
		for len(p) > 0 {
			if len(head) < rawPart {
				n := min(rawPart-len(head), len(p))
				head, p = append(head, p[:n]...), p[n:]
				continue
			}
			if cur == nil {
				cur = make([]byte, 0, rawPart)
			}
			n := min(rawPart-len(cur), len(p))
			cur, p = append(cur, p[:n]...), p[n:]
			if len(cur) == rawPart {
				cur = cur[:0] // written to Firestore
			}
		}
		return nil
	}
	now := time.Now()
	var q ga4src.GA4Query
	if err := backfill.Request(task, &q, "a ga4 query"); err != nil {
		return 0, 0, 0, err
	}
	sum, err := g.Stream(ctx, q, false, ga4src.GA4Sink{
		Records: func(first int, recs []map[string]any) error {
			out := ga4src.Rows(task, recs, first, now)
			values := make([]map[string]any, len(out))
			for i, row := range out {
				values[i] = event.Values(row)
			}
			runtime.KeepAlive(values)
			return nil
		},
		Body:    keepRaw,
		EndPage: func() error { return nil },
	})
	if err != nil {
		return sum.Rows, sum.Pages, callsOf(err), err
	}
	return sum.Rows, sum.Pages, sum.APICalls, nil
}

func callsOf(err error) int {
	if se, ok := err.(*sources.Error); ok {
		return se.APICalls
	}
	return 0
}

// sampleHeap keeps the largest heap-object bytes seen until stop closes.
func sampleHeap(peak *atomic.Uint64, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// procMB reads a memory figure (kB) of /proc/self/status, in MiB; 0 off Linux.
func procMB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
