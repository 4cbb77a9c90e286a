package bqemulator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/googleapi"
)

// seedQueryData creates ds.tweets (with versions of the same id) and ds.deleted.
func seedQueryData(t *testing.T, srv *Server) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(srv.CreateDataset(ctx, "", "ds"))
	must(srv.CreateTable(ctx, "", "ds", "tweets", &bq.TableSchema{Fields: []*bq.TableFieldSchema{
		{Name: "id", Type: "STRING"}, {Name: "t", Type: "TIMESTAMP"}, {Name: "text", Type: "STRING"},
		{Name: "hashtags", Type: "STRING", Mode: "REPEATED"},
	}}))
	must(srv.CreateTable(ctx, "", "ds", "deleted", &bq.TableSchema{Fields: []*bq.TableFieldSchema{{Name: "id", Type: "STRING"}}}))
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	row := func(id string, minutes int, text string, tags ...string) map[string]any {
		arr := make([]any, len(tags))
		for i, tg := range tags {
			arr[i] = tg
		}
		return map[string]any{"id": id, "t": base.Add(time.Duration(minutes) * time.Minute), "text": text, "hashtags": arr}
	}
	must(srv.InsertRows(ctx, "", "ds", "tweets", []map[string]any{
		row("1", 0, "old one", "go"),
		row("1", 5, "New One", "go", "bq"),
		row("2", 1, "two", "bq"),
		row("3", 2, "three", "go", "duckdb"),
		row("3", 1, "three-old", "go"),
	}))
	must(srv.InsertRows(ctx, "", "ds", "deleted", []map[string]any{{"id": "2"}}))
}

func TestQueries(t *testing.T) {
	srv, client, _ := newTestServer(t)
	seedQueryData(t, srv)
	ctx := context.Background()
	if err := srv.CreateView(ctx, "", "ds", "latest", "SELECT * EXCEPT(hashtags) FROM `test-project.ds.tweets` WHERE true QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY t DESC) = 1"); err != nil {
		t.Fatalf("CreateView(latest) error = %v", err)
	}
	if err := srv.CreateView(ctx, "", "ds", "live", "SELECT l.id, l.text FROM ds.latest AS l WHERE NOT EXISTS (SELECT 1 FROM `ds.deleted` d WHERE d.id = l.id)"); err != nil {
		t.Fatalf("CreateView(live) error = %v", err)
	}
	tests := []struct {
		name   string
		sql    string
		params []bigquery.QueryParameter
		want   []map[string]bigquery.Value
	}{
		{
			name: "dedup view",
			sql:  "SELECT id, text FROM `test-project.ds.latest` ORDER BY id",
			want: []map[string]bigquery.Value{{"id": "1", "text": "New One"}, {"id": "2", "text": "two"}, {"id": "3", "text": "three"}},
		},
		{
			name: "view with NOT EXISTS",
			sql:  "SELECT * FROM ds.live ORDER BY id",
			want: []map[string]bigquery.Value{{"id": "1", "text": "New One"}, {"id": "3", "text": "three"}},
		},
		{
			name: "unnest hashtag count",
			sql: `-- top hashtags
				SELECT LOWER(tag) AS tag, COUNT(*) AS count
				FROM ds.tweets, UNNEST(hashtags) AS tag
				GROUP BY tag ORDER BY count DESC, tag LIMIT 10`,
			want: []map[string]bigquery.Value{{"tag": "go", "count": int64(4)}, {"tag": "bq", "count": int64(2)}, {"tag": "duckdb", "count": int64(1)}},
		},
		{
			name: "cross join unnest with CTE and LEFT JOIN USING",
			sql: `WITH tags AS (SELECT id, tag FROM ` + "`ds.tweets`" + ` CROSS JOIN UNNEST(hashtags) tag),
				n AS (SELECT id, COUNTIF(tag = "go") AS go_count FROM tags GROUP BY id)
				SELECT d.id, IFNULL(n.go_count, 0) AS go_count FROM ds.deleted d LEFT JOIN n USING (id)`,
			want: []map[string]bigquery.Value{{"id": "2", "go_count": int64(0)}},
		},
		{
			name: "timestamp functions",
			sql: `SELECT
				TIMESTAMP_TRUNC(TIMESTAMP '2024-05-01 10:37:12.5+00', HOUR) AS h,
				TIMESTAMP_DIFF(TIMESTAMP '2024-05-01 12:00:00', TIMESTAMP '2024-05-01 10:30:00', HOUR) AS diff,
				TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 2 HOUR) AS two_hours_ago,
				TIMESTAMP_ADD(TIMESTAMP '2024-05-01 00:00:00 UTC', INTERVAL 90 MINUTE) AS later,
				DATE(TIMESTAMP '2024-05-01 23:59:59') AS d,
				EXTRACT(HOUR FROM TIMESTAMP '2024-05-01 07:00:00') AS hr,
				EXTRACT(DAYOFWEEK FROM DATE '2024-05-05') AS dow,
				FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%SZ', TIMESTAMP '2024-05-01 01:02:03') AS f`,
			want: []map[string]bigquery.Value{{
				"h":             time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
				"diff":          int64(1),
				"two_hours_ago": time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
				"later":         time.Date(2024, 5, 1, 1, 30, 0, 0, time.UTC),
				"d":             civil.Date{Year: 2024, Month: 5, Day: 1},
				"hr":            int64(7),
				"dow":           int64(1),
				"f":             "2024-05-01T01:02:03Z",
			}},
		},
		{
			name: "recent rows with named params",
			sql: `SELECT id FROM ds.tweets WHERE t >= TIMESTAMP_SUB(@now, INTERVAL @mins MINUTE)
				AND id IN UNNEST(@ids) AND STARTS_WITH(text, @prefix) AND REGEXP_CONTAINS(text, r'^N\w+') ORDER BY id`,
			params: []bigquery.QueryParameter{
				{Name: "now", Value: time.Date(2024, 5, 1, 10, 10, 0, 0, time.UTC)},
				{Name: "mins", Value: 6},
				{Name: "ids", Value: []string{"1", "3"}},
				{Name: "prefix", Value: "N"},
			},
			want: []map[string]bigquery.Value{{"id": "1"}},
		},
		{
			name:   "positional params, SAFE_CAST, OFFSET",
			sql:    "SELECT SAFE_CAST(? AS INT64) AS good, SAFE_CAST('x' AS INT64) AS bad, ? AS s, COUNT(*) AS n FROM ds.tweets LIMIT 1 OFFSET 0",
			params: []bigquery.QueryParameter{{Value: "42"}, {Value: "it's"}},
			want:   []map[string]bigquery.Value{{"good": int64(42), "bad": nil, "s": "it's", "n": int64(5)}},
		},
		{
			name: "BYTE_LENGTH of STRING and BYTES",
			sql:  `SELECT BYTE_LENGTH('é\\xZZ') AS s, BYTE_LENGTH(b'\xAA\xBB') AS b, BYTE_LENGTH(LOWER(text)) AS col FROM ds.tweets WHERE text = 'three-old'`,
			want: []map[string]bigquery.Value{{"s": int64(6), "b": int64(2), "col": int64(9)}},
		},
		{
			name: "escape sequences",
			sql:  `SELECT '\u00e9\101\x42\U0001F600' AS s, BYTE_LENGTH(b'\101\x00') AS n`,
			want: []map[string]bigquery.Value{{"s": "éAB😀", "n": int64(2)}},
		},
		{
			name: "array_agg and unnamed columns",
			sql:  "SELECT ARRAY_AGG(DISTINCT id ORDER BY id), MAX(t) FROM ds.tweets",
			want: []map[string]bigquery.Value{{"f0_": []bigquery.Value{"1", "2", "3"}, "f1_": time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC)}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := client.Query(tc.sql)
			q.Parameters = tc.params
			it, err := q.Read(ctx)
			if err != nil {
				t.Fatalf("Query(%q).Read() error = %v", tc.sql, err)
			}
			if diff := cmp.Diff(tc.want, readAll(t, it)); diff != "" {
				t.Errorf("Query(%q) mismatch (-want +got):\n%s", tc.sql, diff)
			}
		})
	}
}

func TestQueryJobRunWaitReadPaged(t *testing.T) {
	srv, client, _ := newTestServer(t)
	seedQueryData(t, srv)
	ctx := context.Background()
	q := client.Query("SELECT id, t FROM ds.tweets ORDER BY t")
	job, err := q.Run(ctx)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	st, err := job.Wait(ctx)
	if err != nil || st.Err() != nil {
		t.Fatalf("Wait() = %v, %v", st, err)
	}
	it, err := job.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	it.PageInfo().MaxSize = 2 // forces getQueryResults paging
	rows := readAll(t, it)
	if len(rows) != 5 || it.TotalRows != 5 {
		t.Errorf("read %d rows (TotalRows %d), want 5", len(rows), it.TotalRows)
	}
	// Dry run returns the schema without running.
	dq := client.Query("SELECT id, COUNT(*) AS n FROM ds.tweets GROUP BY id")
	dq.DryRun = true
	djob, err := dq.Run(ctx)
	if err != nil {
		t.Fatalf("dry Run() error = %v", err)
	}
	stats, ok := djob.LastStatus().Statistics.Details.(*bigquery.QueryStatistics)
	if !ok || len(stats.Schema) != 2 || stats.Schema[1].Type != bigquery.IntegerFieldType {
		t.Errorf("dry run statistics = %+v, want 2-column schema", djob.LastStatus().Statistics.Details)
	}
	// Destination table.
	dst := client.Query("SELECT DISTINCT id FROM ds.tweets")
	dst.Dst = client.Dataset("ds").Table("ids")
	djob2, err := dst.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := djob2.Wait(ctx); err != nil || st.Err() != nil {
		t.Fatalf("Wait() = %v, %v", st, err)
	}
	got, err := srv.Rows(ctx, "", "ds", "ids")
	if err != nil || len(got) != 3 {
		t.Errorf("Rows(ds.ids) = %v, %v; want 3 rows", got, err)
	}
}

func TestQueryErrors(t *testing.T) {
	srv, client, _ := newTestServer(t)
	seedQueryData(t, srv)
	ctx := context.Background()
	tests := []struct {
		name     string
		sql      string
		wantCode int
		wantMsg  string
	}{
		{"wildcard table", "SELECT * FROM `ds.tweets_*`", 400, "Wildcard table"},
		{"with offset", "SELECT x FROM UNNEST([1,2]) AS x WITH OFFSET o", 400, "WITH OFFSET"},
		{"legacy sql", "SELECT * FROM [test-project:ds.tweets]", 400, "Legacy SQL"},
		{"missing table", "SELECT * FROM ds.nope", 404, "Table test-project:ds.nope"},
		{"dml", "DELETE FROM ds.tweets WHERE true", 400, "not supported by this emulator"},
		{"unknown function", "SELECT NO_SUCH_FN(1)", 400, "no_such_fn"},
		{"bad syntax", "SELECT FROM WHERE", 400, ""},
		{"timezone", "SELECT TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), DAY, 'America/New_York')", 400, "Time zones"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Query(tc.sql).Read(ctx)
			var ge *googleapi.Error
			if !errors.As(err, &ge) {
				t.Fatalf("Query(%q) error = %v, want *googleapi.Error", tc.sql, err)
			}
			if ge.Code != tc.wantCode || !strings.Contains(strings.ToLower(ge.Message), strings.ToLower(tc.wantMsg)) {
				t.Errorf("Query(%q) error = %d %q, want %d containing %q", tc.sql, ge.Code, ge.Message, tc.wantCode, tc.wantMsg)
			}
		})
	}
	// Load jobs are refused clearly.
	loader := client.Dataset("ds").Table("tweets").LoaderFrom(bigquery.NewGCSReference("gs://b/o.json"))
	if _, err := loader.Run(ctx); apiCode(err) != 400 || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("Loader.Run() error = %v, want 400 not supported", err)
	}
}

// TestQueriesRunInUTC: DuckDB's bundled ICU would take the host's time zone for TIMESTAMPTZ
// values (which functions passed through by name can return); every connection is pinned to UTC.
func TestQueriesRunInUTC(t *testing.T) {
	t.Setenv("TZ", "Asia/Kolkata")
	_, client, _ := newTestServer(t)
	it, err := client.Query("SELECT current_setting('TimeZone') AS tz, " +
		"CAST(strptime('2024-05-01 23:30:00 +0000', '%Y-%m-%d %H:%M:%S %z') AS DATE) AS d").Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]bigquery.Value{{"tz": "UTC", "d": civil.Date{Year: 2024, Month: 5, Day: 1}}}
	if diff := cmp.Diff(want, readAll(t, it)); diff != "" {
		t.Errorf("time zone of a query (-want +got):\n%s", diff)
	}
}
