package storagewrite

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"cloud.google.com/go/bigquery/storage/managedwriter"
)

// BenchmarkDefaultStreamSingleRow measures one ManagedStream appending single-row requests to
// the default stream over loopback, as the pipeline's loader does: pipelined (results awaited
// at the end) and one at a time (each result awaited before the next append).
func BenchmarkDefaultStreamSingleRow(b *testing.B) {
	for _, mode := range []string{"pipelined", "sequential"} {
		b.Run(mode, func(b *testing.B) {
			e := newEnv(b)
			table := e.table("events")
			md, dp := e.descriptor(b, table)
			row := encoder{t: b, md: md}.row(map[string]any{
				"name": "tweet", "count": int64(7), "score": 0.5, "active": true,
				"at": time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "tags": []any{"a", "b"},
				"attrs": map[string]any{"key": "k", "values": []any{int64(1)}},
			})
			ms := e.writer(b, table, managedwriter.DefaultStream, dp)
			ctx := context.Background()
			results := make([]*managedwriter.AppendResult, 0, b.N)
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				res, err := ms.AppendRows(ctx, [][]byte{row})
				if err != nil {
					b.Fatalf("AppendRows: %v", err)
				}
				if mode == "sequential" {
					if _, err := res.GetResult(ctx); err != nil {
						b.Fatalf("append result: %v", err)
					}
					continue
				}
				results = append(results, res)
			}
			for _, err := range waitResults(b, results) {
				if err != nil {
					b.Fatalf("append result: %v", err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
			b.StopTimer()
			if n := e.backend.count(testProject, testDataset, "events"); n != b.N {
				b.Fatalf("rows in table = %d, want %d", n, b.N)
			}
		})
	}
}

// Compile-time check that Service implements the generated server interface.
var _ storagepb.BigQueryWriteServer = (*Service)(nil)
