package rankings

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNormaliseQuery(t *testing.T) {
	for in, want := range map[string]string{
		"  Go  Tips ": "go tips", "GO\tTIPS\n": "go tips", "   ": "", "Cloud Run": "cloud run", "a\u00a0b": "a\u00a0b",
	} {
		if got := NormaliseQuery(in); got != want {
			t.Errorf("NormaliseQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWindowRange(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 34, 56, 0, time.UTC)
	tests := []struct {
		w        string
		from, to time.Time
	}{
		{"15m", time.Date(2026, 3, 1, 12, 20, 0, 0, time.UTC), time.Date(2026, 3, 1, 12, 35, 0, 0, time.UTC)},
		{"1h", time.Date(2026, 3, 1, 11, 35, 0, 0, time.UTC), time.Date(2026, 3, 1, 12, 35, 0, 0, time.UTC)},
		{"1d", time.Date(2026, 2, 28, 13, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)},
	}
	for _, tc := range tests {
		w, ok := WindowNamed(tc.w)
		if !ok {
			t.Fatalf("WindowNamed(%s) not found", tc.w)
		}
		from, to := w.Range(now)
		if !from.Equal(tc.from) || !to.Equal(tc.to) {
			t.Errorf("%s.Range(%s) = [%s, %s), want [%s, %s)", tc.w, now, from, to, tc.from, tc.to)
		}
	}
}

func TestTermsAndQuotedOriginal(t *testing.T) {
	got := Terms(&Tweet{Text: "Hello, World! #GCP rocks_2", Hashtags: []string{"GCP"}})
	if diff := cmp.Diff([]string{"#gcp", "gcp", "hello", "rocks_2", "world"}, got); diff != "" {
		t.Errorf("Terms (-want +got):\n%s", diff)
	}
	for q, want := range map[string]string{"#GCP": "#gcp", "Hello": "hello", "two words": "words", "#": "", "": "", "x-y": "x", "++": ""} {
		s, _ := ParseSearch(q)
		if got := s.IndexTerm; got != want {
			t.Errorf("ParseSearch(%q).IndexTerm = %q, want %q", q, got, want)
		}
	}
	if h, text := QuotedOriginal("RT @gopher: Go 1.26 is out #golang"); h != "gopher" || text != "Go 1.26 is out #golang" {
		t.Errorf("QuotedOriginal = %q, %q", h, text)
	}
	if IDKey("42") != "00000000000000000042" || IDKey("x1") != "x1" {
		t.Errorf("IDKey(42) = %q, IDKey(x1) = %q", IDKey("42"), IDKey("x1"))
	}
}

// FuzzParseCursor: a cursor comes from the outside; whatever it holds, it parses or is a 400
// naming the cursor, and a parsed one encodes back to a cursor that parses the same.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"", Cursor{CreatedUS: 1, IDKey: "00000000000000000001"}.Encode(), "eyJ4IjoxfQ", "%%", strings.Repeat("A", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			if bp, ok := err.(*BadParam); !ok || bp.Param != "cursor" {
				t.Fatalf("ParseCursor(%q) = %v, want a BadParam naming cursor", s, err)
			}
			return
		}
		if c == nil {
			return
		}
		c2, err := ParseCursor(c.Encode())
		if err != nil || *c2 != *c {
			t.Fatalf("ParseCursor(Encode(%+v)) = %+v, %v", c, c2, err)
		}
	})
}
