package redrive

import (
	"context"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

const (
	testProject = "redrive-test"
	testDataset = "events"
)

// newBigQuery starts a local BigQuery with the dataset as Terraform declares it (tables and
// views from terraform/schemas).
func newBigQuery(t *testing.T) (*bqemulator.Server, *bigquery.Client) {
	t.Helper()
	ctx := context.Background()
	srv, err := bqemulator.NewServer(bqemulator.WithProject(testProject))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	t.Setenv(warehouse.EmulatorHostEnv, srv.Addr())
	c, err := bigquery.NewClient(ctx, testProject, warehouse.RESTClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := warehouse.EnsureDataset(ctx, c, testDataset); err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// TestSelectPending runs SelectQuery against the dataset's dead_letters_pending view: each
// filter, the time range's ends, the redriven ones left out, the order and the limit.
func TestSelectPending(t *testing.T) {
	srv, c := newBigQuery(t)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	mk := func(id string, at time.Duration, stage, kind, reason string) map[string]any {
		dl := deadLetter(id, `{"kind":"search"}`, "kind", kind)
		dl.DeadLetteredAt, dl.Stage, dl.Kind, dl.Reason = t0.Add(at), stage, kind, reason
		return event.Values(dl)
	}
	const missing = "app_events refused 1 row(s): row 0: missing required column user_id"
	rows := []map[string]any{
		mk("a", 0, "append", "search", missing),
		mk("b", time.Minute, "append", "detail_view", missing),
		mk("c", 2*time.Minute, "decode", "unclassified", "data: not JSON"),
		mk("d", 3*time.Minute, "append", "search", "app_events refused 1 row(s): row 0: missing required column session_id"),
		mk("e", time.Hour, "append", "search", missing), // the range's end: excluded
		mk("f", -time.Nanosecond*1000, "append", "search", missing),
		mk("g", 4*time.Minute, "append", "search", missing), // redriven below
	}
	if err := srv.InsertRows(ctx, testProject, testDataset, event.TableDeadLetters, rows); err != nil {
		t.Fatal(err)
	}
	rec := event.Values(Record{RedrivenAt: t0.Add(5 * time.Minute), RedriveID: "rd-0", MessageID: "g", OriginalMessageID: "g", PublishedMessageID: "p1", DeadLetteredAt: t0.Add(4 * time.Minute)})
	if err := srv.InsertRows(ctx, testProject, testDataset, warehouse.TableRedrives, []map[string]any{rec}); err != nil {
		t.Fatal(err)
	}
	src := BigQuerySource{Client: c, Project: testProject, Dataset: testDataset}
	base := Filter{Since: t0, Until: t0.Add(time.Hour)}
	with := func(change func(*Filter)) Filter { f := base; change(&f); return f }
	tests := []struct {
		name  string
		f     Filter
		limit int
		want  []string
	}{
		{"range only: since included, until excluded, redriven left out", base, 100, []string{"a", "b", "c", "d"}},
		{"reason substring", with(func(f *Filter) { f.Reason = "missing required column" }), 100, []string{"a", "b", "d"}},
		{"reason substring is literal", with(func(f *Filter) { f.Reason = "row(s)" }), 100, []string{"a", "b", "d"}},
		{"reason substring is case-sensitive", with(func(f *Filter) { f.Reason = "MISSING" }), 100, nil},
		{"reason exact", with(func(f *Filter) { f.Reason = missing; f.ReasonExact = true }), 100, []string{"a", "b"}},
		{"reason exact is not a prefix", with(func(f *Filter) { f.Reason = "app_events refused"; f.ReasonExact = true }), 100, nil},
		{"kind", with(func(f *Filter) { f.Kind = "search" }), 100, []string{"a", "d"}},
		{"stage", with(func(f *Filter) { f.Stage = "decode" }), 100, []string{"c"}},
		{"stage, kind and reason", with(func(f *Filter) { f.Stage = "append"; f.Kind = "search"; f.Reason = "user_id" }), 100, []string{"a"}},
		{"limit keeps the oldest", base, 2, []string{"a", "b"}},
		{"a wider range", with(func(f *Filter) { f.Since = t0.Add(-time.Hour); f.Until = t0.Add(2 * time.Hour) }), 100, []string{"f", "a", "b", "c", "d", "e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := src.Pending(ctx, tt.f, tt.limit, func(dl *event.DeadLetterRow) error {
				got = append(got, dl.MessageID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Pending() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSelectReadsWholeRows: a dead letter read back through the view is the row the loader
// wrote: data byte for byte, its size, its attributes.
func TestSelectReadsWholeRows(t *testing.T) {
	srv, c := newBigQuery(t)
	ctx := context.Background()
	dl := deadLetter("m1", "{\"kind\":\"search\",\"q\":\"\x00\xff\"}", "kind", "search", "source", "app")
	if err := srv.InsertRows(ctx, testProject, testDataset, event.TableDeadLetters, []map[string]any{event.Values(dl)}); err != nil {
		t.Fatal(err)
	}
	var got []*event.DeadLetterRow
	f := Filter{Since: deadAt.Add(-time.Minute), Until: deadAt.Add(time.Minute)}
	err := BigQuerySource{Client: c, Project: testProject, Dataset: testDataset}.Pending(ctx, f, 10, func(r *event.DeadLetterRow) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*event.DeadLetterRow{dl}, got); diff != "" {
		t.Errorf("Pending() (-inserted +read):\n%s", diff)
	}
}
