package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestProcessWriter: the functions' JSON lines become records of the one logger (below WARNING
// only when verbose), an emulator's text only when verbose, and lines split across writes are
// joined.
func TestProcessWriter(t *testing.T) {
	in := []string{
		`{"severity":"INFO","message":"loaded","rows":3,"time":"x","logging.googleapis.com/trace":"t"}` + "\n",
		`{"severity":"WARNING","message":"stream not read",`, `"reason":"lease"}` + "\n",
		"[pubsub] Exception in thread main\n",
		"\tat com.google.Foo(Foo.java:1)\n",
	}
	for _, tt := range []struct {
		verbose bool
		want    []string
	}{
		{false, []string{`level=WARN msg="stream not read" proc=functions reason=lease`}},
		{true, []string{
			`level=INFO msg=loaded proc=functions rows=3`,
			`level=WARN msg="stream not read" proc=functions reason=lease`,
			`level=INFO msg="[pubsub] Exception in thread main" proc=emulator`,
			`level=INFO msg="\tat com.google.Foo(Foo.java:1)" proc=emulator`,
		}},
	} {
		var out bytes.Buffer
		log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
		w := &processWriter{log: log, verbose: tt.verbose}
		for _, s := range in {
			w.Write([]byte(s))
		}
		got := strings.Split(strings.TrimSpace(out.String()), "\n")
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("verbose=%v (-want +got):\n%s", tt.verbose, diff)
		}
	}
}
