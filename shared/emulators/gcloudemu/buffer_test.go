package gcloudemu

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		n      int
		want   string
	}{
		{name: "empty", n: 3, want: ""},
		{name: "fewer lines than asked", writes: []string{"a\nb\n"}, n: 3, want: "a\nb"},
		{name: "last lines across writes", writes: []string{"a\nb", "\nc\n", "d\n"}, n: 2, want: "c\nd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTailBuffer()
			for _, w := range tt.writes {
				b.Write([]byte(w))
			}
			if diff := cmp.Diff(tt.want, b.Tail(tt.n)); diff != "" {
				t.Errorf("Tail(%d) mismatch (-want +got):\n%s", tt.n, diff)
			}
		})
	}
}

func TestTailBufferKeepsOnlyTheEnd(t *testing.T) {
	b := newTailBuffer()
	b.Write([]byte(strings.Repeat("x", maxOutput)))
	b.Write([]byte("end\n"))
	got := b.String()
	if len(got) != maxOutput {
		t.Errorf("len(String()) = %d, want %d", len(got), maxOutput)
	}
	if !strings.HasSuffix(got, "end\n") {
		t.Errorf("String() ends with %q, want suffix %q", got[len(got)-8:], "end\n")
	}
}
