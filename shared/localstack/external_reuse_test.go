package localstack

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// TestReuseSaysWhichServer: a server named by its variable that answers is used and the log
// says so; one that does not answer is not used, and the log says a new one is started.
func TestReuseSaysWhichServer(t *testing.T) {
	srv, err := bqemulator.NewServer(bqemulator.WithProject("p"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// A port that was free a moment ago: nothing answers there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name, host   string
		wantOK       bool
		wantExternal map[string]string
		wantLog      string
	}{
		{"answers", srv.Addr(), true, map[string]string{warehouse.EmulatorHostEnv: srv.Addr()},
			"level=INFO msg=\"using the BigQuery server at " + srv.Addr() + " (" + warehouse.EmulatorHostEnv + ")\""},
		{"does not answer", dead, false, nil,
			"level=WARN msg=\"" + warehouse.EmulatorHostEnv + "=" + dead + " does not answer: starting a BigQuery server\""},
		{"unset", "", false, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(warehouse.EmulatorHostEnv, tt.host)
			var logs bytes.Buffer
			s := &Stack{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: dropTime}))}
			host, ok := s.reuse(context.Background(), warehouse.EmulatorHostEnv, "BigQuery server", pingHTTP)
			if ok != tt.wantOK || (ok && host != tt.host) {
				t.Errorf("reuse() = %q, %v; want %q, %v", host, ok, tt.host, tt.wantOK)
			}
			if diff := cmp.Diff(tt.wantExternal, s.External); diff != "" {
				t.Errorf("External (-want +got):\n%s", diff)
			}
			if got := strings.TrimSpace(logs.String()); !strings.HasPrefix(got, tt.wantLog) || (tt.wantLog == "") != (got == "") {
				t.Errorf("log = %q, want it to start with %q", got, tt.wantLog)
			}
		})
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
