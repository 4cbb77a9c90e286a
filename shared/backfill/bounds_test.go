package backfill_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset"
	"github.com/pipelinekit/pipelinekit/shared/sources/httpjson"
)

// TestSpecBounds: each bounded field of a spec at its bound is accepted, and one past is a
// FieldError naming the field.
func TestSpecBounds(t *testing.T) {
	names := func(prefix string, n int) string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%q", fmt.Sprintf("%s%d", prefix, i))
		}
		return strings.Join(out, ",")
	}
	ga4 := func(metrics, dimensions, limit int) string {
		return fmt.Sprintf(`{"source":"ga4","ga4":{"property":"1","metrics":[%s],"dimensions":[%s],"start":"2025-01-01","end":"2025-01-31","limit":%d}}`,
			names("m", metrics), names("d", dimensions), limit)
	}
	pages := func(n int) string {
		return fmt.Sprintf(`{"source":"http_json","http_json":{"url":"https://api.example.com/x","pagination":{"type":"page","page_param":"p","max_pages":%d}}}`, n)
	}
	tests := []struct {
		name      string
		body      string
		wantField string // "" when accepted
	}{
		{"ga4: 10 metrics", ga4(10, 1, 1), ""},
		{"ga4: 11 metrics", ga4(11, 1, 1), "ga4.metrics"},
		// The date dimension is added to every query: 8 of the caller's make the API's 9.
		{"ga4: 8 dimensions and date", ga4(1, 8, 1), ""},
		{"ga4: 9 dimensions and date", ga4(1, 9, 1), "ga4.dimensions"},
		{"ga4: limit at the API's maximum", ga4(1, 1, 250_000), ""},
		{"ga4: limit one over", ga4(1, 1, 250_001), "ga4.limit"},
		{"http_json: max_pages at the bound", pages(httpjson.MaxPagesLimit), ""},
		{"http_json: max_pages one over", pages(httpjson.MaxPagesLimit + 1), "http_json.pagination.max_pages"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := backfill.ParseSpec([]byte(tc.body), testLimits)
			var fe *backfill.FieldError
			switch {
			case tc.wantField == "" && err != nil:
				t.Errorf("ParseSpec() = %v, want accepted", err)
			case tc.wantField != "" && (!errors.As(err, &fe) || fe.Field != tc.wantField):
				t.Errorf("ParseSpec() = %v, want a FieldError on %s", err, tc.wantField)
			}
		})
	}
}
