package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// queriesDoc is the page whose "Looking at the data" section shows the queries to run first.
const queriesDoc = "docs/local-stack.md"

// docQueries returns the SQL blocks of the "Looking at the data" section of docs/local-stack.md.
func docQueries(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(queriesDoc)))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "\n## Looking at the data\n")
	if start < 0 {
		t.Fatalf(`%s has no "## Looking at the data" section`, queriesDoc)
	}
	s = s[start+1:]
	if end := strings.Index(s, "\n## "); end >= 0 {
		s = s[:end]
	}
	var out []string
	for _, m := range regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDocQueries runs each of the example queries of docs/local-stack.md, through the path `dev query`
// takes, against a stack that loaded tweets (the demo's sample stream, replayed), app events
// (posted to CollectEvents) and a YouTube Analytics backfill: each must run and return rows.
func TestDocQueries(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	queries := docQueries(t, root)
	if len(queries) != 5 {
		t.Errorf("%s has %d example queries, want 5", queriesDoc, len(queries))
	}
	s := startBackfillStack(t, &BackfillOptions{Fakes: map[string][]sourcestest.Option{"youtube_analytics": []sourcestest.Option{sourcestest.WithLatency(time.Millisecond)}}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	if _, err := s.Replay(ctx, []string{filepath.Join(root, "shared", "localstack", "testdata", "sample_stream.jsonl")}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	events := `{"id":"a1","kind":"search","user_id":"u1","query":"q","results_count":1}` + "\n" +
		`{"id":"a2","kind":"detail_view","user_id":"u2","item_id":"doc"}`
	resp, err := http.Post(s.Functions.URL+"/CollectEvents", "application/x-ndjson", strings.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c, err := s.StartBackfill(ctx, youtubefake.Spec(2, 2, "day", time.Now().UTC().AddDate(0, 0, -3)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.WaitBackfill(ctx, c.JobID, 2*time.Minute, nil); err != nil {
		t.Fatal(err)
	}
	waitRows(t, ctx, s, "SELECT COUNT(*) AS n FROM app_events_dedup", 2)

	for i, q := range queries {
		r, err := s.Query(ctx, q)
		if err != nil {
			t.Errorf("example query %d: %v\n%s", i+1, err, q)
			continue
		}
		if len(r.Rows) == 0 {
			t.Errorf("example query %d returned no rows:\n%s", i+1, q)
		}
		var out bytes.Buffer
		r.Print(&out)
		t.Logf("query %d:\n%s", i+1, out.String())
	}
}

// waitRows polls a COUNT(*) AS n query until it reaches want.
func waitRows(t *testing.T, ctx context.Context, s *Stack, q string, want int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r, err := s.Query(ctx, q)
		if err == nil && r.Int(0, "n") >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still below %d after a minute (err %v)", q, want, err)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestBackfillRowsTypedView: the view gives one typed row per video, day and metric of a
// youtube_analytics row (a duplicate delivery counted once) and one row per http_json or ga4 record,
// and unpivots exactly the metrics a spec may ask for.
func TestBackfillRowsTypedView(t *testing.T) {
	sql, err := os.ReadFile(filepath.Join("..", "..", "terraform", "schemas", "views", "backfill_rows_typed.sql"))
	if err != nil {
		t.Fatal(err)
	}
	list := regexp.MustCompile(`(?s)UNNEST\(\[(.*?)\]\)`).FindSubmatch(sql)
	if list == nil {
		t.Fatal("backfill_rows_typed.sql has no UNNEST([...]) of metric names")
	}
	var inView []string
	for _, m := range regexp.MustCompile(`'(\w+)'`).FindAllSubmatch(list[1], -1) {
		inView = append(inView, string(m[1]))
	}
	sort.Strings(inView)
	if diff := cmp.Diff(youtube.Metrics(), inView); diff != "" {
		t.Errorf("metrics a spec may ask for (-) and metrics the view unpivots (+):\n%s", diff)
	}

	s := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fetched := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	day := civil.Date{Year: 2026, Month: 1, Day: 1}
	rec := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	row := func(shard string, idx int, source string, video, rec string) map[string]bigquery.Value {
		r := map[string]bigquery.Value{"job_id": "bf-typed", "shard": shard, "row_index": idx, "source": source,
			"fetched_at": fetched, "record": rec}
		if video != "" {
			r["video_id"], r["day"] = video, day
		}
		return r
	}
	yt := rec(map[string]any{"day": "2026-01-01", "views": 120, "likes": 7, "averageViewPercentage": 41.5})
	rows := []map[string]bigquery.Value{
		row("video=v1/2026-01-01", 0, "youtube_analytics", "v1", yt),
		row("video=v1/2026-01-01", 0, "youtube_analytics", "v1", yt), // delivered twice
		row("page=1", 0, "http_json", "", rec(map[string]any{"id": 1, "name": "a"})),
		row("page=1", 1, "http_json", "", rec(map[string]any{"id": 2, "name": "b"})),
		row("2026-01-01", 0, "ga4", "", rec(map[string]any{"date": "20260101", "name": "c", "activeUsers": 3, "sampled": false, "other_row": false})),
		// Each fetch's completion marker: backfill_rows_dedup keeps only complete fetches.
		row("video=v1/2026-01-01", backfill.CompleteIndex, "youtube_analytics", "", rec(map[string]any{"complete": true})),
		row("page=1", backfill.CompleteIndex, "http_json", "", rec(map[string]any{"complete": true})),
		row("2026-01-01", backfill.CompleteIndex, "ga4", "", rec(map[string]any{"complete": true})),
	}
	ins := s.BQ.Dataset(s.Dataset).Table(warehouse.TableBackfillRows).Inserter()
	var items []bigquery.ValueSaver
	for _, r := range rows {
		items = append(items, mapSaver(r))
	}
	if err := ins.Put(ctx, items); err != nil {
		t.Fatal(err)
	}
	r, err := s.Query(ctx, "SELECT source, shard, video_id, CAST(day AS STRING) AS day, metric, value, JSON_VALUE(record, '$.name') AS name "+
		"FROM backfill_rows_typed WHERE job_id = 'bf-typed' ORDER BY source, row_index, metric")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]bigquery.Value{
		{"ga4", "2026-01-01", nil, nil, nil, nil, "c"},
		{"http_json", "page=1", nil, nil, nil, nil, "a"},
		{"http_json", "page=1", nil, nil, nil, nil, "b"},
		{"youtube_analytics", "video=v1/2026-01-01", "v1", "2026-01-01", "averageViewPercentage", 41.5, nil},
		{"youtube_analytics", "video=v1/2026-01-01", "v1", "2026-01-01", "likes", 7.0, nil},
		{"youtube_analytics", "video=v1/2026-01-01", "v1", "2026-01-01", "views", 120.0, nil},
	}
	if diff := cmp.Diff(want, r.Rows); diff != "" {
		t.Errorf("backfill_rows_typed (-want +got):\n%s", diff)
	}
}

// mapSaver saves one row given as a map, without an insert id (so a duplicate stays one).
type mapSaver map[string]bigquery.Value

func (m mapSaver) Save() (map[string]bigquery.Value, string, error) {
	return m, bigquery.NoDedupeID, nil
}
