package schemas_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

const project = "dash-test"

// TestDashboardViews creates the dataset as the local stack does (every view from
// schemas/views), loads rows of each family through their real row types, and checks what each
// Looker Studio view answers in the local BigQuery.
func TestDashboardViews(t *testing.T) {
	ctx := context.Background()
	srv, err := bqemulator.NewServer(bqemulator.WithProject(project))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	t.Setenv(warehouse.EmulatorHostEnv, srv.Addr())
	c, err := bigquery.NewClient(ctx, project, warehouse.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := warehouse.EnsureDataset(ctx, c, "events"); err != nil {
		t.Fatal(err)
	}
	insert := func(table string, rows ...any) {
		t.Helper()
		var vals []map[string]any
		for _, r := range rows {
			if m, ok := r.(map[string]any); ok {
				vals = append(vals, m)
				continue
			}
			vals = append(vals, event.Values(r))
		}
		if err := srv.InsertRows(ctx, project, "events", table, vals); err != nil {
			t.Fatal(err)
		}
	}

	h := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	tweet := func(id, kind, msg string, at time.Time, tags ...string) *event.TweetRow {
		return &event.TweetRow{EventTime: at, TweetID: id, Kind: kind, Text: "t " + id, Hashtags: tags,
			Ingestion: event.Ingestion{MessageID: msg, PublishTime: at, Source: "test", IngestedAt: at, SchemaVersion: "1"}}
	}
	insert("tweets",
		tweet("1", "tweet", "m1", h.Add(10*time.Second), "GCP", "golang"),
		tweet("1", "tweet", "m1-again", h.Add(10*time.Second), "GCP", "golang"), // a redelivery counts once
		tweet("2", "retweet", "m2", h.Add(20*time.Second), "gcp"),
		tweet("3", "reply", "m3", h.Add(70*time.Second), "gcp", "gcp"), // a tag twice in one tweet counts once
		tweet("4", "tweet", "m4", h.Add(80*time.Second), "golang"),     // deleted below
		tweet("5", "quote", "m5", h.Add(time.Hour+time.Second), "golang"),
	)
	insert("stream_events", &event.StreamEventRow{EventTime: h.Add(2 * time.Minute), Kind: "delete", TweetID: "4",
		Ingestion: event.Ingestion{MessageID: "d4", PublishTime: h.Add(2 * time.Minute), Source: "test", IngestedAt: h, SchemaVersion: "1"}})

	day := civil.Date{Year: 2024, Month: 1, Day: 1}
	bf := func(shard string, idx int64, fetched time.Time, d *civil.Date, record string) map[string]any {
		m := map[string]any{"job_id": "bf-1", "shard": shard, "row_index": idx, "source": "youtube_analytics",
			"fetched_at": fetched, "record": record}
		if d != nil {
			m["day"] = *d
		}
		return m
	}
	insert("backfill_rows",
		bf("v1", 0, h, &day, `{"day":"2024-01-01","views":10,"likes":2}`),
		bf("v1", 0, h.Add(time.Minute), &day, `{"day":"2024-01-01","views":12,"likes":3}`), // a retried task: the latest fetch wins
		bf("v2", 0, h, &day, `{"day":"2024-01-01","views":5,"likes":-1,"title":"x"}`),
		bf("v3", 0, h, nil, `{"views":1.5}`), // no day column: the day it was fetched
		// Completion markers (row_index -1): backfill_rows_dedup keeps each shard's latest complete fetch.
		bf("v1", -1, h, nil, `{"complete":true}`),
		bf("v1", -1, h.Add(time.Minute), nil, `{"complete":true}`),
		bf("v2", -1, h, nil, `{"complete":true}`),
		bf("v3", -1, h, nil, `{"complete":true}`),
	)

	msg := func(id string, data string) event.Message {
		return event.Message{ID: id, PublishTime: h, Data: []byte(data)}
	}
	insert("dead_letters",
		event.NewDeadLetter(msg("x1", "{"), event.StageDecode, "data: not JSON", "", h),
		event.NewDeadLetter(msg("x2", "[1]"), event.StageDecode, "data: not JSON", "", h.Add(time.Minute)),
		event.NewDeadLetter(msg("x3", `{"kind":"search"}`), event.StageDecode, "query: required for a search event", event.KindSearch, h.Add(time.Hour)),
	)

	query := func(sql string) []string {
		t.Helper()
		rows, err := srv.Query(ctx, strings.ReplaceAll(sql, "DS", "`"+project+".events"))
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		var out []string
		for _, r := range rows {
			out = append(out, fmt.Sprint(r["a"], "|", r["b"], "|", r["c"], "|", r["d"], "|", r["e"]))
		}
		sort.Strings(out)
		return out
	}
	ts := func(d time.Duration) string { return fmt.Sprint(h.Add(d)) }
	tests := []struct {
		view string
		sql  string
		want []string
	}{
		{"tweets_per_minute", "SELECT minute AS a, kind AS b, tweets AS c, NULL AS d, NULL AS e FROM DS.tweets_per_minute`", []string{
			ts(0) + "|retweet|1|<nil>|<nil>",
			ts(0) + "|tweet|1|<nil>|<nil>",
			ts(time.Minute) + "|reply|1|<nil>|<nil>",
			ts(time.Minute) + "|tweet|1|<nil>|<nil>", // tweet 4 arrived; deletes do not unsay arrivals
			ts(time.Hour) + "|quote|1|<nil>|<nil>",
		}},
		{"top_hashtags_by_hour", "SELECT hour AS a, hashtag AS b, tweets AS c, rank_in_hour AS d, NULL AS e FROM DS.top_hashtags_by_hour`", []string{
			ts(0) + "|gcp|3|1|<nil>",
			ts(0) + "|golang|1|2|<nil>",
			ts(time.Hour) + "|golang|1|1|<nil>",
		}},
		{"backfill_rows_per_day", "SELECT day AS a, metric AS b, rows_count AS c, total AS d, job_id AS e FROM DS.backfill_rows_per_day`", []string{
			"2024-01-01|likes|2|2|bf-1",
			"2024-01-01|views|2|17|bf-1",
			"2026-11-21|views|1|1.5|bf-1",
		}},
		{"dead_letters_by_reason", "SELECT day AS a, reason_field AS b, dead_letters AS c, last_at AS d, stage AS e FROM DS.dead_letters_by_reason`", []string{
			"2026-11-21|data|2|" + ts(time.Minute) + "|decode",
			"2026-11-21|query|1|" + ts(time.Hour) + "|decode",
		}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, query(tt.sql)); diff != "" {
			t.Errorf("view %s (-want +got):\n%s", tt.view, diff)
		}
	}
}
