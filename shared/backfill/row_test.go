package backfill_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/sources"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube"
	"github.com/pipelinekit/pipelinekit/terraform/schemas"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
)

type schemaField struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Mode string `json:"mode"`
	Desc string `json:"description"`
}

func readSchema(t *testing.T) []schemaField {
	t.Helper()
	b, err := schemas.Table(backfill.TableRows)
	if err != nil {
		t.Fatal(err)
	}
	var fields []schemaField
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatalf("schema %s: %v", backfill.TableRows, err)
	}
	return fields
}

// TestSchemaFileMatchesRow fails when a column of backfill_rows.json and a field of Row differ
// in name or type (a time.Time is a TIMESTAMP, or a DATE when its column is one).
func TestSchemaFileMatchesRow(t *testing.T) {
	type column struct{ Name, Type string }
	var file, fromGo []column
	dates := map[string]bool{}
	for _, f := range readSchema(t) {
		file = append(file, column{f.Name, f.Type})
		if f.Desc == "" {
			t.Errorf("column %s has no description", f.Name)
		}
		if f.Type == "DATE" {
			dates[f.Name] = true
		}
	}
	rt := reflect.TypeFor[backfill.Row]()
	for i := range rt.NumField() {
		f := rt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("bigquery"), ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		var typ string
		switch {
		case ft == reflect.TypeFor[time.Time]() && dates[name]:
			typ = "DATE"
		case ft == reflect.TypeFor[time.Time]():
			typ = "TIMESTAMP"
		case ft.Kind() == reflect.String:
			typ = "STRING"
		case ft.Kind() == reflect.Int64:
			typ = "INTEGER"
		default:
			typ = "unmapped Go type " + ft.String()
		}
		fromGo = append(fromGo, column{name, typ})
	}
	if diff := cmp.Diff(file, fromGo); diff != "" {
		t.Errorf("backfill_rows.json and Row disagree (-file +go):\n%s", diff)
	}
}

func TestRows(t *testing.T) {
	fetched := time.Date(2026, 11, 22, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	yt := withRequest(backfill.TaskSpec{JobID: "bf-1", Shard: "video=abc/2024-01-01..2024-01-02", Index: 3, Source: "youtube_analytics"},
		&youtube.YouTubeQuery{IDs: "channel==MINE", Filters: "video==abc"})
	res := &sources.Result{
		Columns: []sources.Column{{Name: "day"}, {Name: "views"}},
		Rows:    [][]any{{"2024-01-01", int64(0)}, {"2024-01-02", int64(12)}},
	}
	rows := backfill.RowsOf(yt, res, fetched)
	zero, one := int64(0), int64(1)
	utc := fetched.UTC()
	want := []backfill.Row{
		{JobID: "bf-1", Shard: yt.Shard, RowIndex: &zero, Source: "youtube_analytics", FetchedAt: utc, VideoID: "abc",
			Day: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Record: `{"day":"2024-01-01","views":0}`},
		{JobID: "bf-1", Shard: yt.Shard, RowIndex: &one, Source: "youtube_analytics", FetchedAt: utc, VideoID: "abc",
			Day: time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), Record: `{"day":"2024-01-02","views":12}`},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Rows(youtube) mismatch (-want +got):\n%s", diff)
	}

	hj := withRequest(backfill.TaskSpec{JobID: "bf-2", Shard: "id=1", Source: "http_json"}, &httpjson.HTTPJSONRequest{URL: "https://api.example.com/1"})
	rows = backfill.RowsOf(hj, &sources.Result{Records: []map[string]any{{"id": "x", "n": int64(2)}}}, fetched)
	want = []backfill.Row{{JobID: "bf-2", Shard: "id=1", RowIndex: &zero, Source: "http_json", FetchedAt: utc, Record: `{"id":"x","n":2}`}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("Rows(http_json) mismatch (-want +got):\n%s", diff)
	}

	// Row 0 keeps its REQUIRED row_index through event.Values, the warehouse's encoder input.
	for _, f := range readSchema(t) {
		if _, ok := event.Values(rows[0])[f.Name]; f.Mode == "REQUIRED" && !ok {
			t.Errorf("event.Values(row 0) has no REQUIRED column %s", f.Name)
		}
	}
}

func TestDedupView(t *testing.T) {
	views, err := schemas.Views("p", "d")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		if v.Name == "backfill_rows_dedup" {
			for _, want := range []string{"`p.d.backfill_rows`", "WHERE row_index = -1", "PARTITION BY r.job_id, r.shard, r.row_index"} {
				if !strings.Contains(v.Query, want) {
					t.Errorf("view backfill_rows_dedup = %s, want it to contain %s", v.Query, want)
				}
			}
			return
		}
	}
	t.Errorf("Views() has no backfill_rows_dedup")
}
