package storagewrite

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/managedwriter"
)

// TestLatencyKeepsOrderAndPipelines: with a modelled round trip every append is answered no
// sooner than the latency after it was sent, in order, and the appends behind it are not held up.
func TestLatencyKeepsOrderAndPipelines(t *testing.T) {
	const latency = 50 * time.Millisecond
	e := newEnvWith(t, []Option{WithLatency(latency)})
	table := e.table("events")
	md, dp := e.descriptor(t, table)
	enc := encoder{t: t, md: md}
	ms := e.writer(t, table, managedwriter.DefaultStream, dp)
	ctx := context.Background()

	const n = 20
	sent := make([]time.Time, n)
	var results []*managedwriter.AppendResult
	for i := range n {
		sent[i] = time.Now()
		r, err := ms.AppendRows(ctx, [][]byte{enc.row(map[string]any{"name": "r"})})
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	var last time.Time
	for i, r := range results {
		if _, err := r.GetResult(ctx); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		got := time.Now()
		if d := got.Sub(sent[i]); d < latency {
			t.Errorf("append %d answered after %s, want at least %s", i, d, latency)
		}
		if got.Before(last) {
			t.Errorf("append %d answered before append %d", i, i-1)
		}
		last = got
	}
	// Pipelined: n appends take about one latency, not n of them (a loose bound, not a timing
	// target: serial answers would take n*latency = 1s).
	if total := last.Sub(sent[0]); total > n*latency/2 {
		t.Errorf("%d appends took %s, want well under %s: responses were serialized", n, total, n*latency)
	}
}
