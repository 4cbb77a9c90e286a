package xstream

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLineReaderBound: a line of exactly max bytes (terminator not counted) is read whole, with
// either terminator or none; one byte more is too long, whatever its terminator.
func TestLineReaderBound(t *testing.T) {
	const max = 16
	at, over := strings.Repeat("a", max), strings.Repeat("b", max+1)
	tests := []struct {
		name        string
		input       string
		wantTooLong bool
		wantData    string
	}{
		{"at the bound, LF", at + "\n", false, at},
		{"at the bound, CRLF", at + "\r\n", false, at},
		{"at the bound, no terminator", at, false, at},
		{"one over, LF", over + "\n", true, ""},
		{"one over, CRLF", over + "\r\n", true, ""},
		{"one over, no terminator", over, true, ""},
		{"CR inside at the bound", strings.Repeat("c", max-1) + "\r" + "\n", false, strings.Repeat("c", max-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := newLineReader(strings.NewReader(tt.input), max).next()
			if err != nil {
				t.Fatalf("next() = %v", err)
			}
			type line struct {
				TooLong bool
				Data    string
			}
			got := line{ln.tooLong, string(ln.data)}
			if got.TooLong {
				got.Data = "" // a prefix, kept for the rejection's log
			}
			if diff := cmp.Diff(line{tt.wantTooLong, tt.wantData}, got); diff != "" {
				t.Errorf("next(%q) mismatch (-want +got):\n%s", tt.input, diff)
			}
		})
	}
}
