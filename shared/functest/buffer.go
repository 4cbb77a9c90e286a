package functest

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/logging"
)

// Buffer is a bytes.Buffer safe for concurrent writes: loggers, servers' goroutines and the
// test write and read it at once.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail returns the last n bytes written, after "…" when there was more.
func (b *Buffer) Tail(n int) string {
	s := b.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// Logger returns a logger writing Cloud Logging JSON, from debug up, into the returned buffer.
func Logger() (*slog.Logger, *Buffer) {
	var buf Buffer
	return logging.New(&buf, slog.LevelDebug), &buf
}

// LogLines decodes the JSON log lines in logs, failing the test on one that is not JSON.
func LogLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}
