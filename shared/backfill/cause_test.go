package backfill

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCauseOf(t *testing.T) {
	tests := []struct{ a, b string }{
		{`requesting https://api.example.com/items/00001?page=2: http 404: "item 00001 not found"`,
			`requesting https://api.example.com/items/00417?page=9: http 404: "item 00417 not found"`},
		{`gave up after 5 attempts: youtube analytics query video==dQw4w9WgXcQ 2024-01-01..2024-01-31: http 503: backendError`,
			`gave up after 5 attempts: youtube analytics query video==9bZkp7q19f0 2024-03-01..2024-03-31: http 503: backendError`},
		{`decoding page 3 of https://a.example.com/x: not JSON: invalid character '<' looking for beginning of value`,
			`decoding page 17 of https://a.example.com/y/z: not JSON: invalid character '<' looking for beginning of value`},
		{`job blocked: oauth2: "invalid_grant" "Token has been expired or revoked." (grant 4f2a9c)`,
			`job blocked: oauth2: "invalid_grant" "Token has been expired or revoked." (grant 77b0e1)`},
	}
	for _, tt := range tests {
		if ca, cb := causeOf(tt.a), causeOf(tt.b); ca != cb {
			t.Errorf("causeOf differs for reasons of one cause:\n  %q -> %q\n  %q -> %q", tt.a, ca, tt.b, cb)
		}
	}
	// Different statuses and different classes stay apart.
	apart := []string{
		`requesting https://api.example.com/items/1: http 404: "not found"`,
		`requesting https://api.example.com/items/1: http 400: "bad request"`,
		`requesting https://api.example.com/items/1: http 503: "unavailable"`,
		`decoding page 1 of https://api.example.com/items/1: not JSON: unexpected end of JSON input`,
	}
	seen := map[string]string{}
	for _, r := range apart {
		c := causeOf(r)
		if other, ok := seen[c]; ok {
			t.Errorf("causeOf(%q) = causeOf(%q) = %q, want different causes", r, other, c)
		}
		seen[c] = r
	}
}

// Failures of one cause whose messages differ by URL and ids show as one group, with one
// example of the full message.
func TestStatusGroupsFailuresByCause(t *testing.T) {
	s, _, job := newStore(t, 8)
	ctx := t.Context()
	var reasons []string
	for i := range 5 {
		reasons = append(reasons, fmt.Sprintf(`requesting https://api.example.com/items/%05d: http 404: "item %05d not found"`, i, i))
	}
	reasons = append(reasons, `requesting https://api.example.com/items/00007: http 500: "internal"`)
	for i, r := range reasons {
		if _, err := s.RecordFailure(ctx, job, ref(i), r, 1); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Status(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, g := range st.Failures {
		got = append(got, g.Count)
		if g.Cause == "" || g.Reason == "" {
			t.Errorf("group %+v lacks a cause or an example message", g)
		}
	}
	if diff := cmp.Diff([]int{5, 1}, got); diff != "" {
		t.Errorf("failure group sizes mismatch (-want +got):\n%s\ngroups: %+v", diff, st.Failures)
	}
}
