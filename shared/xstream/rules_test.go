package xstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pipelinekit/pipelinekit/shared/xstream"
	"github.com/pipelinekit/pipelinekit/shared/xstream/xstreamtest"
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// ruleValues strips ids so reports compare by value and tag.
func ruleValues(rs []xstream.StoredRule) []xstream.Rule {
	var out []xstream.Rule
	for _, r := range rs {
		out = append(out, r.Rule())
	}
	return out
}

type reportSummary struct {
	Added, Deleted, Unchanged []xstream.Rule
	Invalid                   map[string]string // value -> title
}

func summarizeReport(rep xstream.RulesReport) reportSummary {
	s := reportSummary{Added: ruleValues(rep.Added), Deleted: ruleValues(rep.Deleted), Unchanged: ruleValues(rep.Unchanged)}
	for _, inv := range rep.Invalid {
		if s.Invalid == nil {
			s.Invalid = map[string]string{}
		}
		s.Invalid[inv.Rule.Value] = inv.Title
	}
	return s
}

func TestSyncRules(t *testing.T) {
	cats := xstream.Rule{Value: "cat has:images", Tag: "cats"}
	dogs := xstream.Rule{Value: "dog -is:retweet", Tag: "dogs"}
	memes := xstream.Rule{Value: "meme has:images"}
	long := xstream.Rule{Value: strings.Repeat("a ", 257), Tag: "too long"}
	tests := []struct {
		name    string
		seed    []xstream.Rule
		want    []xstream.Rule
		report  reportSummary
		methods []string // rules requests the sync made, in order
	}{
		{
			name:    "add to empty",
			want:    []xstream.Rule{cats, dogs},
			report:  reportSummary{Added: []xstream.Rule{cats, dogs}},
			methods: []string{"GET", "POST dry_run", "POST"},
		},
		{
			name:    "nothing to do",
			seed:    []xstream.Rule{cats, dogs},
			want:    []xstream.Rule{dogs, cats},
			report:  reportSummary{Unchanged: []xstream.Rule{cats, dogs}},
			methods: []string{"GET"},
		},
		{
			name:    "add missing and delete stale",
			seed:    []xstream.Rule{cats, memes},
			want:    []xstream.Rule{cats, dogs},
			report:  reportSummary{Added: []xstream.Rule{dogs}, Deleted: []xstream.Rule{memes}, Unchanged: []xstream.Rule{cats}},
			methods: []string{"GET", "POST dry_run", "POST", "POST"},
		},
		{
			name:    "delete only",
			seed:    []xstream.Rule{cats, memes},
			want:    []xstream.Rule{cats},
			report:  reportSummary{Deleted: []xstream.Rule{memes}, Unchanged: []xstream.Rule{cats}},
			methods: []string{"GET", "POST"},
		},
		{
			// X keys rules by value: the old tag must go before the new one
			// can be added, or X answers DuplicateRule.
			name:    "retag",
			seed:    []xstream.Rule{{Value: cats.Value, Tag: "old"}},
			want:    []xstream.Rule{cats},
			report:  reportSummary{Added: []xstream.Rule{cats}, Deleted: []xstream.Rule{{Value: cats.Value, Tag: "old"}}},
			methods: []string{"GET", "POST dry_run", "POST", "POST"},
		},
		{
			name: "invalid rules are reported, not added",
			want: []xstream.Rule{cats, long, {Value: "(cat OR dog"}, {Value: `"hot dog`}, {Value: "has:media"}, {Value: "-cat"}, {Value: "cat or dog"}},
			report: reportSummary{Added: []xstream.Rule{cats}, Invalid: map[string]string{
				long.Value: "UnprocessableEntity", "(cat OR dog": "UnprocessableEntity", `"hot dog`: "UnprocessableEntity",
				"has:media": "UnprocessableEntity", "-cat": "UnprocessableEntity", "cat or dog": "UnprocessableEntity",
			}},
			methods: []string{"GET", "POST dry_run", "POST"},
		},
		{
			name:    "all invalid: no add request",
			want:    []xstream.Rule{{Value: "is:retweet"}},
			report:  reportSummary{Invalid: map[string]string{"is:retweet": "UnprocessableEntity"}},
			methods: []string{"GET", "POST dry_run"},
		},
		{
			name:    "same value twice with different tags",
			want:    []xstream.Rule{cats, {Value: cats.Value, Tag: "felines"}},
			report:  reportSummary{Added: []xstream.Rule{cats}, Invalid: map[string]string{cats.Value: "DuplicateRule"}},
			methods: []string{"GET", "POST dry_run", "POST"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := xstreamtest.NewServer(xstreamtest.WithRules(tt.seed...))
			defer srv.Close()
			c := srv.Client()
			rep, err := c.SyncRules(testContext(t), tt.want)
			if err != nil {
				t.Fatalf("SyncRules() error = %v", err)
			}
			sortRules := cmpopts.SortSlices(func(a, b xstream.Rule) bool { return a.Value < b.Value })
			if diff := cmp.Diff(tt.report, summarizeReport(rep), sortRules, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("SyncRules() report mismatch (-want +got):\n%s", diff)
			}
			var methods []string
			for _, r := range srv.Stats().RulesRequests {
				m := r.Method
				if r.DryRun {
					m += " dry_run"
				}
				methods = append(methods, m)
			}
			if diff := cmp.Diff(tt.methods, methods); diff != "" {
				t.Errorf("rules requests mismatch (-want +got):\n%s", diff)
			}
			// The server now holds exactly the valid wanted rules.
			wantStored := append(append([]xstream.Rule(nil), summarizeReport(rep).Added...), summarizeReport(rep).Unchanged...)
			if diff := cmp.Diff(wantStored, ruleValues(srv.Rules()), sortRules, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stored rules mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSyncRulesInvalidDetails(t *testing.T) {
	srv := xstreamtest.NewServer()
	defer srv.Close()
	long := strings.Repeat("x", 513)
	rep, err := srv.Client().SyncRules(testContext(t), []xstream.Rule{{Value: long, Tag: "food"}})
	if err != nil {
		t.Fatalf("SyncRules() error = %v", err)
	}
	want := []xstream.InvalidRule{{
		Rule:    xstream.Rule{Value: long, Tag: "food"},
		Title:   "UnprocessableEntity",
		Type:    "https://api.twitter.com/2/problems/invalid-rules",
		Details: []string{"Rule '" + long + "' exceeds the maximum length of a rule. It is 513 characters while the maximum allowed is 512 (at position 1)"},
	}}
	if diff := cmp.Diff(want, rep.Invalid); diff != "" {
		t.Errorf("SyncRules() invalid mismatch (-want +got):\n%s", diff)
	}
}

func TestRulesErrors(t *testing.T) {
	tests := []struct {
		name string
		opts []xstreamtest.Option
		call func(context.Context, *xstream.Client) error
		want xstream.APIError // compared without Body
	}{
		{
			name: "401 wrong token",
			opts: []xstreamtest.Option{xstreamtest.WithBearerToken("right")},
			call: func(ctx context.Context, c *xstream.Client) error { _, err := c.Rules(ctx); return err },
			want: xstream.APIError{StatusCode: 401, Title: "Unauthorized", Detail: "Unauthorized", Type: "about:blank"},
		},
		{
			name: "403 client not enrolled",
			opts: []xstreamtest.Option{xstreamtest.WithForbidden()},
			call: func(ctx context.Context, c *xstream.Client) error {
				_, err := c.SyncRules(ctx, []xstream.Rule{{Value: "cat"}})
				return err
			},
			want: xstream.APIError{StatusCode: 403, Title: "Client Forbidden", Reason: "client-not-enrolled",
				Detail: "This request must be made using an approved developer account that is enrolled in the requested endpoint. Learn more by visiting our documentation.",
				Type:   "https://api.twitter.com/2/problems/client-forbidden"},
		},
		{
			name: "400 missing value",
			call: func(ctx context.Context, c *xstream.Client) error {
				_, err := c.AddRules(ctx, []xstream.Rule{{Value: ""}}, false)
				return err
			},
			want: xstream.APIError{StatusCode: 400, Title: "Invalid Request", Detail: "One or more parameters to your request was invalid.",
				Type:   "https://api.twitter.com/2/problems/invalid-request",
				Errors: []xstream.ErrorDetail{{Message: "field is required", Parameters: map[string][]string{"add.value": {}}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := xstreamtest.NewServer(tt.opts...)
			defer srv.Close()
			c := srv.Client()
			c.Token = "wrong"
			if tt.name != "401 wrong token" {
				c.Token = srv.Token()
			}
			err := tt.call(testContext(t), c)
			var ae *xstream.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error = %v, want an *xstream.APIError", err)
			}
			if diff := cmp.Diff(&tt.want, ae, cmpopts.IgnoreFields(xstream.APIError{}, "Body")); diff != "" {
				t.Errorf("APIError mismatch (-want +got):\n%s", diff)
			}
			if !xstream.IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = false, want true", err)
			}
		})
	}
}
