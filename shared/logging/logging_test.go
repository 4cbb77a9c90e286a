package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTrace(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		want   Trace
		ok     bool
	}{
		{"traceparent", map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, Trace{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true}, true},
		{"traceparent not sampled", map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}, Trace{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", false}, true},
		{"cloud trace context", map[string]string{"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"}, Trace{"105445aa7843bc8bf206b12000100000", "0000000000000001", true}, true},
		{"traceparent wins", map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"}, Trace{"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", true}, true},
		{"bad traceparent falls back", map[string]string{"traceparent": "garbage", "X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000"}, Trace{TraceID: "105445aa7843bc8bf206b12000100000"}, true},
		{"none", nil, Trace{}, false},
		{"bad cloud trace", map[string]string{"X-Cloud-Trace-Context": "xyz/1"}, Trace{}, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		got, ok := ParseTrace(h)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: ParseTrace() = %+v, %v, want %+v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCloudLoggingShape(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, slog.LevelDebug)
	h := Middleware("proj", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.WarnContext(r.Context(), "slow append", "table", "tweets")
	}))
	req := httptest.NewRequest("POST", "/", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	log.Error("no request")

	dec := json.NewDecoder(&buf)
	var lines []map[string]any
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		delete(m, "time")
		lines = append(lines, m)
	}
	want := []map[string]any{
		{"severity": "WARNING", "message": "slow append", "table": "tweets",
			"logging.googleapis.com/trace":         "projects/proj/traces/4bf92f3577b34da6a3ce929d0e0e4736",
			"logging.googleapis.com/spanId":        "00f067aa0ba902b7",
			"logging.googleapis.com/trace_sampled": true},
		{"severity": "ERROR", "message": "no request"},
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("log lines mismatch (-want +got):\n%s", diff)
	}
}
