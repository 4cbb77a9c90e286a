package xsearch_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
	"github.com/pipelinekit/pipelinekit/shared/sources/xsearch"
)

var xNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func xSpec(fields string) string {
	return `{"source":"x_search","x_search":{` + fields + `}}`
}

// TestXSearchValidate checks each bound exactly at it and one past it; a mistake is a 400
// naming the field.
func TestXSearchValidate(t *testing.T) {
	lim := backfill.Limits{Now: func() time.Time { return xNow }}
	earliest := xNow.Add(-xsearch.Window + xsearch.WindowMargin)
	rng := func(start, end time.Time) string {
		return fmt.Sprintf(`"start":%q,"end":%q`, start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	ok := rng(xNow.Add(-48*time.Hour), xNow.Add(-time.Hour))
	for _, tc := range []struct {
		name, fields, field string // field "": valid
	}{
		{"query at 512", `"query":"` + strings.Repeat("a", 512) + `",` + ok, ""},
		{"query at 513", `"query":"` + strings.Repeat("a", 513) + `",` + ok, "x_search.query"},
		{"full-archive query at 1024", `"endpoint":"all","query":"` + strings.Repeat("é", 1024) + `",` + ok, ""},
		{"full-archive query at 1025", `"endpoint":"all","query":"` + strings.Repeat("a", 1025) + `",` + ok, "x_search.query"},
		{"no query", `"query":" ",` + ok, "x_search.query"},
		{"unknown endpoint", `"endpoint":"archive","query":"a",` + ok, "x_search.endpoint"},
		{"start at recent's earliest", `"query":"a",` + rng(earliest, xNow.Add(-time.Hour)), ""},
		{"start a second before it", `"query":"a",` + rng(earliest.Add(-time.Second), xNow.Add(-time.Hour)), "x_search.start"},
		{"full archive reaches 2006", `"endpoint":"all","query":"a",` + rng(xsearch.ArchiveStart, xsearch.ArchiveStart.Add(time.Hour)), ""},
		{"full archive before 2006-03-21", `"endpoint":"all","query":"a",` + rng(xsearch.ArchiveStart.Add(-time.Second), xsearch.ArchiveStart.Add(time.Hour)), "x_search.start"},
		{"end 10s before now", `"query":"a",` + rng(xNow.Add(-time.Hour), xNow.Add(-xsearch.EndLag)), ""},
		{"end 9s before now", `"query":"a",` + rng(xNow.Add(-time.Hour), xNow.Add(-xsearch.EndLag+time.Second)), "x_search.end"},
		{"end at start", `"query":"a",` + rng(xNow.Add(-time.Hour), xNow.Add(-time.Hour)), "x_search.end"},
		{"start not a time", `"query":"a","start":"2026-12-01","end":"2026-12-02T00:00:00Z"`, "x_search.start"},
		{"max_results at 100", `"query":"a","max_results":100,` + ok, ""},
		{"max_results at 101", `"query":"a","max_results":101,` + ok, "x_search.max_results"},
		{"max_results at 10", `"query":"a","max_results":10,` + ok, ""},
		{"max_results at 9", `"query":"a","max_results":9,` + ok, "x_search.max_results"},
		{"full-archive max_results at 500", `"endpoint":"all","query":"a","max_results":500,` + ok, ""},
		{"full-archive max_results at 501", `"endpoint":"all","query":"a","max_results":501,` + ok, "x_search.max_results"},
		{"slice at a week", `"query":"a","slice_minutes":10080,` + ok, ""},
		{"slice past a week", `"query":"a","slice_minutes":10081,` + ok, "x_search.slice_minutes"},
		{"unknown key", `"query":"a","since_id":"1",` + ok, "x_search.since_id"},
	} {
		_, err := backfill.ParseSpec([]byte(xSpec(tc.fields)), lim)
		var fe *backfill.FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: ParseSpec() = %v, want it valid", tc.name, err)
		case tc.field != "" && !errors.As(err, &fe):
			t.Errorf("%s: ParseSpec() = %v, want a FieldError for %s", tc.name, err, tc.field)
		case tc.field != "" && fe.Field != tc.field:
			t.Errorf("%s: FieldError.Field = %q (%v), want %q", tc.name, fe.Field, fe, tc.field)
		}
	}
}

// TestXSearchPlan: seven days in slices of a day are seven tasks, each one search over its
// slice with the endpoint's largest page, the last slice cut at end.
func TestXSearchPlan(t *testing.T) {
	lim := backfill.Limits{Now: func() time.Time { return xNow }}
	s, err := backfill.ParseSpec([]byte(xSpec(`"query":"#gcp","start":"2026-11-30T13:00:00Z","end":"2026-12-07T11:00:00Z","slice_minutes":1440`)), lim)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if p.Tasks != 7 {
		t.Fatalf("Tasks = %d, want 7", p.Tasks)
	}
	var got []xsearch.XSearchQuery
	var shards []string
	for i := range p.Tasks {
		task := p.Task(i)
		if err := backfill.CheckTask(task); err != nil {
			t.Errorf("CheckTask(%d) = %v", i, err)
		}
		var q xsearch.XSearchQuery
		if err := json.Unmarshal(task.Request, &q); err != nil {
			t.Fatal(err)
		}
		got = append(got, q)
		shards = append(shards, task.Shard)
	}
	if got[0] != (xsearch.XSearchQuery{Endpoint: "recent", Query: "#gcp", StartTime: "2026-11-30T13:00:00Z", EndTime: "2026-12-01T13:00:00Z", MaxResults: 100}) {
		t.Errorf("task 0 = %+v", got[0])
	}
	if diff := cmp.Diff("recent/2026-12-06T13:00:00Z..2026-12-07T11:00:00Z", shards[6]); diff != "" {
		t.Errorf("last shard (-want +got):\n%s", diff)
	}
}
