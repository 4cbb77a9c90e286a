package bqemulator

import (
	"context"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	bq "google.golang.org/api/bigquery/v2"
)

// BenchmarkInsertRows inserts one row per insertAll call through the official client.
func BenchmarkInsertRows(b *testing.B) {
	srv, client, _ := newTestServer(b)
	ctx := context.Background()
	srv.CreateDataset(ctx, "", "ds")
	if err := srv.CreateTable(ctx, "", "ds", "t", &bq.TableSchema{Fields: []*bq.TableFieldSchema{
		{Name: "id", Type: "STRING"}, {Name: "t", Type: "TIMESTAMP"}, {Name: "n", Type: "INTEGER"},
		{Name: "tags", Type: "STRING", Mode: "REPEATED"},
	}}); err != nil {
		b.Fatal(err)
	}
	schema := bigquery.Schema{{Name: "id", Type: bigquery.StringFieldType}, {Name: "t", Type: bigquery.TimestampFieldType}, {Name: "n", Type: bigquery.IntegerFieldType}, {Name: "tags", Type: bigquery.StringFieldType, Repeated: true}}
	ins := client.Dataset("ds").Table("t").Inserter()
	now := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := strconv.Itoa(i)
		if err := ins.Put(ctx, &bigquery.ValuesSaver{Schema: schema, InsertID: id, Row: []bigquery.Value{id, now, i, []string{"a", "b"}}}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
