package rankings

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestParamBounds: n and cursor at their bound are accepted, and one past is a BadParam naming
// the parameter.
func TestParamBounds(t *testing.T) {
	if n, err := ParseN(fmt.Sprint(MaxN)); err != nil || n != MaxN {
		t.Errorf("ParseN(%d) = %d, %v; want %d", MaxN, n, err, MaxN)
	}
	if n, err := ParseN("1"); err != nil || n != 1 {
		t.Errorf("ParseN(1) = %d, %v; want 1", n, err)
	}
	for _, s := range []string{fmt.Sprint(MaxN + 1), "0"} {
		var bp *BadParam
		if _, err := ParseN(s); !errors.As(err, &bp) || bp.Param != "n" {
			t.Errorf("ParseN(%s) = %v, want a BadParam on n", s, err)
		}
	}

	// A cursor of exactly MaxCursorLen characters: 150 bytes of JSON. The next length an
	// encoded cursor can have is two characters longer.
	at := Cursor{CreatedUS: 1, IDKey: strings.Repeat("k", 150-len(`{"t":1,"id":""}`))}.Encode()
	if len(at) != MaxCursorLen {
		t.Fatalf("test cursor is %d characters, want %d", len(at), MaxCursorLen)
	}
	if c, err := ParseCursor(at); err != nil || c.IDKey == "" {
		t.Errorf("ParseCursor(%d characters) = %v, %v; want it parsed", len(at), c, err)
	}
	over := Cursor{CreatedUS: 1, IDKey: strings.Repeat("k", 151-len(`{"t":1,"id":""}`))}.Encode()
	var bp *BadParam
	if _, err := ParseCursor(over); !errors.As(err, &bp) || bp.Param != "cursor" {
		t.Errorf("ParseCursor(%d characters) = %v, want a BadParam on cursor", len(over), err)
	}
}

// TestExcerpt: an error quotes at most MaxExcerpt bytes of an input, never cutting a character.
func TestExcerpt(t *testing.T) {
	at := strings.Repeat("a", MaxExcerpt)
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{at, `"` + at + `"`},
		{at + "b", `"` + at + `"…`},
		{strings.Repeat("a", MaxExcerpt-1) + "é", `"` + strings.Repeat("a", MaxExcerpt-1) + `"…`},
		{strings.Repeat("x", 10<<10), `"` + strings.Repeat("x", MaxExcerpt) + `"…`},
	} {
		if got := Excerpt(tc.in); got != tc.want {
			t.Errorf("Excerpt(%.50q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
