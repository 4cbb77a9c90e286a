package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"sort"
	"strings"
	"sync"
)

// processWriter turns the output of the stack's processes into records of one logger, so every
// line on the terminal has one format. The functions log JSON in Cloud Logging's shape: each line
// becomes a record at its severity with its fields. Anything else is an emulator's own text
// (Java start-up lines, and stack traces as the emulators shut down): shown only when verbose.
// Without verbose, function records below WARNING are dropped too.
type processWriter struct {
	log     *slog.Logger
	verbose bool
	mu      sync.Mutex
	buf     []byte
}

func (w *processWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(bytes.TrimRight(w.buf[:i], "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

var severities = map[string]slog.Level{
	"DEBUG": slog.LevelDebug, "INFO": slog.LevelInfo, "NOTICE": slog.LevelInfo, "WARNING": slog.LevelWarn,
	"ERROR": slog.LevelError, "CRITICAL": slog.LevelError, "ALERT": slog.LevelError, "EMERGENCY": slog.LevelError,
}

func (w *processWriter) line(l []byte) {
	if len(bytes.TrimSpace(l)) == 0 {
		return
	}
	var rec map[string]any
	if l[0] == '{' && json.Unmarshal(l, &rec) == nil {
		msg, _ := rec["message"].(string)
		sev, _ := rec["severity"].(string)
		level, ok := severities[strings.ToUpper(sev)]
		if !ok {
			level = slog.LevelInfo
		}
		if !w.verbose && level < slog.LevelWarn {
			return
		}
		keys := make([]string, 0, len(rec))
		for k := range rec {
			switch {
			case k == "message", k == "severity", k == "time", k == "timestamp", strings.HasPrefix(k, "logging.googleapis.com/"):
				continue
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := []any{"proc", "functions"}
		for _, k := range keys {
			attrs = append(attrs, k, rec[k])
		}
		w.log.Log(context.Background(), level, msg, attrs...)
		return
	}
	if w.verbose {
		w.log.Info(string(l), "proc", "emulator")
	}
}
