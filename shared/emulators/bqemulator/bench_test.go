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

// BenchmarkQuery runs a translated aggregate query (UNNEST, GROUP BY, a window function) over
// 20,000 rows through jobs.query and the official client, reading every result row.
func BenchmarkQuery(b *testing.B) {
	srv, client, _ := newTestServer(b)
	ctx := context.Background()
	srv.CreateDataset(ctx, "", "ds")
	if err := srv.CreateTable(ctx, "", "ds", "t", &bq.TableSchema{Fields: []*bq.TableFieldSchema{
		{Name: "id", Type: "STRING"}, {Name: "t", Type: "TIMESTAMP"}, {Name: "n", Type: "INTEGER"},
		{Name: "tags", Type: "STRING", Mode: "REPEATED"},
	}}); err != nil {
		b.Fatal(err)
	}
	base := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]map[string]any, 20000)
	for i := range rows {
		rows[i] = map[string]any{"id": strconv.Itoa(i % 5000), "t": base.Add(time.Duration(i) * time.Minute),
			"n": int64(i), "tags": []any{"tag" + strconv.Itoa(i%50), "all"}}
	}
	if err := srv.InsertRows(ctx, "", "ds", "t", rows); err != nil {
		b.Fatal(err)
	}
	q := client.Query("SELECT tag, TIMESTAMP_TRUNC(t, DAY) AS day, COUNT(*) AS c, SUM(n) AS s, " +
		"RANK() OVER (PARTITION BY TIMESTAMP_TRUNC(t, DAY) ORDER BY COUNT(*) DESC) AS r " +
		"FROM ds.t, UNNEST(tags) AS tag WHERE STARTS_WITH(tag, 'tag') GROUP BY tag, day ORDER BY day, tag")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		it, err := q.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if got := len(readAll(b, it)); got != 700 {
			b.Fatalf("rows = %d, want 700", got)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
}
