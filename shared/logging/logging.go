// Package logging gives the functions structured logs in Cloud Logging's JSON shape: log/slog
// with "severity" and "message" keys, and the request's trace so that Cloud Logging groups a
// request's lines under its trace.
//
// Reference: docs/operations.md.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// Cloud Logging's special JSON keys (https://cloud.google.com/logging/docs/structured-logging).
const (
	keyTrace        = "logging.googleapis.com/trace"
	keySpanID       = "logging.googleapis.com/spanId"
	keyTraceSampled = "logging.googleapis.com/trace_sampled"
)

// New returns a logger writing Cloud Logging JSON lines to w at or above level.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: replace})
	return slog.New(&traceHandler{Handler: h})
}

// Default returns the logger the functions use: JSON on stderr, at LOG_LEVEL (debug, info, warn,
// error; info when unset).
func Default() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		lvl = slog.LevelInfo
	}
	return New(os.Stderr, lvl)
}

func replace(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.MessageKey:
		a.Key = "message"
	case slog.LevelKey:
		a.Key = "severity"
		a.Value = slog.StringValue(severity(a.Value.Any().(slog.Level)))
	}
	return a
}

// severity maps slog levels to Cloud Logging's LogSeverity names.
func severity(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	}
	return "ERROR"
}

// Trace identifies the request a log line belongs to.
type Trace struct {
	TraceID string // 32 hex digits
	SpanID  string // 16 hex digits
	Sampled bool
}

type traceKey struct{}

// WithTrace returns ctx carrying the trace of project projectID, which every log line written
// with that ctx (logger.InfoContext(ctx, ...)) then carries.
func WithTrace(ctx context.Context, projectID string, t Trace) context.Context {
	if t.TraceID == "" {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, tracing{project: projectID, Trace: t})
}

type tracing struct {
	project string
	Trace
}

// ParseTrace reads a request's trace from the W3C traceparent header, or else from Google's
// X-Cloud-Trace-Context ("TRACE_ID/SPAN_ID;o=1", span id in decimal).
func ParseTrace(h http.Header) (Trace, bool) {
	if tp := h.Get("traceparent"); tp != "" {
		parts := strings.Split(tp, "-")
		if len(parts) == 4 && len(parts[1]) == 32 && len(parts[2]) == 16 && isHex(parts[1]) && isHex(parts[2]) && parts[1] != strings.Repeat("0", 32) {
			flags, err := strconv.ParseUint(parts[3], 16, 8)
			return Trace{TraceID: parts[1], SpanID: parts[2], Sampled: err == nil && flags&1 == 1}, true
		}
	}
	if xc := h.Get("X-Cloud-Trace-Context"); xc != "" {
		traceID, rest, _ := strings.Cut(xc, "/")
		if len(traceID) != 32 || !isHex(traceID) {
			return Trace{}, false
		}
		t := Trace{TraceID: traceID}
		span, opts, _ := strings.Cut(rest, ";")
		if n, err := strconv.ParseUint(span, 10, 64); err == nil && n != 0 {
			t.SpanID = strconv.FormatUint(n, 16)
			t.SpanID = strings.Repeat("0", 16-len(t.SpanID)) + t.SpanID
		}
		t.Sampled = opts == "o=1"
		return t, true
	}
	return Trace{}, false
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// Middleware puts each request's trace into its context, so handlers' log lines carry it.
func Middleware(projectID string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if t, ok := ParseTrace(r.Header); ok {
			r = r.WithContext(WithTrace(r.Context(), projectID, t))
		}
		next.ServeHTTP(w, r)
	})
}

// traceHandler adds the context's trace fields to each record.
type traceHandler struct{ slog.Handler }

func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if t, ok := ctx.Value(traceKey{}).(tracing); ok {
		r = r.Clone()
		r.AddAttrs(slog.String(keyTrace, "projects/"+t.project+"/traces/"+t.TraceID))
		if t.SpanID != "" {
			r.AddAttrs(slog.String(keySpanID, t.SpanID))
		}
		r.AddAttrs(slog.Bool(keyTraceSampled, t.Sampled))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &traceHandler{h.Handler.WithAttrs(as)}
}

func (h *traceHandler) WithGroup(name string) slog.Handler {
	return &traceHandler{h.Handler.WithGroup(name)}
}
