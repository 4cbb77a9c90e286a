package ga4_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
)

func TestParseGA4SpecRefusesBadFields(t *testing.T) {
	g := func(inner string) string { return `{"source":"ga4","ga4":{` + inner + `}}` }
	const ok = `"metrics":["activeUsers"],"start":"2025-01-01","end":"2025-01-31"`
	tests := []struct {
		name, body, field string
	}{
		{"no property", g(ok), "ga4.property"},
		{"bad property", g(`"property":"UA-123",` + ok), "ga4.property"},
		{"no metrics", g(`"property":"1","start":"2025-01-01","end":"2025-01-31"`), "ga4.metrics"},
		{"bad metric", g(`"property":"1","metrics":["active users"],"start":"2025-01-01","end":"2025-01-31"`), "ga4.metrics[0]"},
		{"metric twice", g(`"property":"1","metrics":["a","a"],"start":"2025-01-01","end":"2025-01-31"`), "ga4.metrics[1]"},
		{"11 metrics", g(`"property":"1","metrics":["a","b","c","d","e","f","g","h","i","j","k"],"start":"2025-01-01","end":"2025-01-31"`), "ga4.metrics"},
		{"10 dimensions with date", g(`"property":"1","dimensions":["a","b","c","d","e","f","g","h","i"],` + ok), "ga4.dimensions"},
		{"too early", g(`"property":"1","metrics":["a"],"start":"2015-08-13","end":"2025-01-31"`), "ga4.start"},
		{"future end", g(`"property":"1","metrics":["a"],"start":"2025-01-01","end":"2027-01-31"`), "ga4.end"},
		{"bad chunk", g(`"property":"1",` + ok + `,"chunk":"hour"`), "ga4.chunk"},
		{"limit over the API's", g(`"property":"1",` + ok + `,"limit":250001`), "ga4.limit"},
		{"youtube section on ga4", `{"source":"ga4","youtube_analytics":{}}`, "youtube_analytics"},
		{"ga4 section on youtube", `{"source":"youtube_analytics","ga4":{}}`, "ga4"},
		{"credential in the spec", g(`"property":"1",` + ok + `,"refresh_token":"x"`), "ga4.refresh_token"},
	}
	for _, tc := range tests {
		_, err := backfill.ParseSpec([]byte(tc.body), testLimits)
		var fe *backfill.FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: ParseSpec() error = %v, want a FieldError for %s", tc.name, err, tc.field)
			continue
		}
		if fe.Field != tc.field {
			t.Errorf("%s: field = %q (%s), want %q", tc.name, fe.Field, fe.Reason, tc.field)
		}
	}
}

// TestGA4Plan: chunks by calendar week, date added as a dimension, property normalized, one
// task per chunk with its shard, and the API-call estimate counts pages.
func TestGA4Plan(t *testing.T) {
	s, err := backfill.ParseSpec([]byte(`{"source":"ga4","ga4":{"property":"42","dimensions":["country"],"metrics":["sessions"],"start":"2025-01-01","end":"2025-01-12","chunk":"week","limit":50}}`), testLimits)
	if err != nil {
		t.Fatalf("ParseSpec() error = %v", err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatalf("Plan() error = %v", err)
	}
	var shards []string
	for _, task := range p.Sample(10) {
		shards = append(shards, task.Shard)
	}
	want := []string{"property=42/2025-01-01..2025-01-05", "property=42/2025-01-06..2025-01-12"}
	if diff := cmp.Diff(want, shards); diff != "" {
		t.Errorf("shards (-want +got):\n%s", diff)
	}
	q := ga4Req(p.Task(1))
	if q == nil || q.Property != "properties/42" || !cmp.Equal(q.Dimensions, []string{"country", "date"}) || q.Limit != 50 {
		t.Errorf("task 1 query = %+v", q)
	}
	// 5 days x 10 countries = 50 rows: 1 page; 7 x 10 = 70: 2 pages.
	if p.APICalls != 3 {
		t.Errorf("APICalls = %d, want 3", p.APICalls)
	}
	if err := backfill.CheckTask(p.Task(0)); err != nil {
		t.Errorf("CheckTask(a planned ga4 task) = %v", err)
	}
	bad := p.Task(0)
	bad.Request = nil
	if err := backfill.CheckTask(bad); err == nil {
		t.Errorf("CheckTask(a ga4 task without its query) = nil, want an error")
	}
}
