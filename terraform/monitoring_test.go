package terraform_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestLogMetricsNameWhatTheCodeLogs: every log-based metric and alert of monitoring.tf filters on
// log lines by their message, reads fields out of them and matches label values; each of those
// must be what the Go code logs, or the metric silently counts nothing after a rename. Messages
// are found in the code as string literals, whole or (for a line the code builds as the entry
// point plus a suffix, or a prefix plus an outcome) in parts; fields and label values likewise.
func TestLogMetricsNameWhatTheCodeLogs(t *testing.T) {
	b, err := os.ReadFile("monitoring.tf")
	if err != nil {
		t.Fatal(err)
	}
	tf := string(b)
	code := goSourceText(t)
	quoted := func(s string) bool { return strings.Contains(code, `"`+s+`"`) }

	var messages []string
	for _, m := range regexp.MustCompile(`jsonPayload\.message=\\"([^"\\]+)\\"`).FindAllStringSubmatch(tf, -1) {
		messages = append(messages, m[1])
	}
	for _, m := range regexp.MustCompile(`jsonPayload\.message=\(([^)]*)\)`).FindAllStringSubmatch(tf, -1) {
		for _, q := range regexp.MustCompile(`\\"([^"\\]+)\\"`).FindAllStringSubmatch(m[1], -1) {
			messages = append(messages, q[1])
		}
	}
	if len(messages) < 10 {
		t.Fatalf("found %d message filters in monitoring.tf, want every log-based metric's", len(messages))
	}
	for _, msg := range messages {
		ok := quoted(msg)
		for _, f := range functions {
			if rest, cut := strings.CutPrefix(msg, f.entryPoint); cut && quoted(rest) {
				ok = true // logged as name+rest by the function named name (shared/pushdelivery)
			}
		}
		if !ok {
			t.Errorf("monitoring.tf filters on log message %q, which no Go code logs", msg)
		}
	}
	for _, m := range regexp.MustCompile(`jsonPayload\.message=~\\"\^([^"\\]+)\\"`).FindAllStringSubmatch(tf, -1) {
		if !quoted(m[1]) {
			t.Errorf("monitoring.tf matches log messages starting %q, which no Go code logs", m[1])
		}
	}

	fields := map[string]bool{}
	for _, m := range regexp.MustCompile(`jsonPayload\.([a-z_]+(?:\.[a-z_]+)*)`).FindAllStringSubmatch(tf, -1) {
		fields[m[1]] = true
	}
	delete(fields, "message")
	if len(fields) < 10 {
		t.Errorf("found fields %v in monitoring.tf, want the labels and values of every metric", fields)
	}
	for f := range fields {
		for _, part := range strings.Split(f, ".") {
			if !quoted(part) {
				t.Errorf("monitoring.tf reads jsonPayload.%s, but no Go code logs a key %q", f, part)
			}
		}
	}

	// Label values the alerts and filters match: each is a value the code logs.
	values := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:metric\.label\.(?:outcome|state|cause)|jsonPayload\.state)=(one_of\([^)]*\)|\([^)]*\)|\\"[a-z_]+\\")`).FindAllStringSubmatch(tf, -1) {
		for _, q := range regexp.MustCompile(`\\"([a-z_]+)\\"`).FindAllStringSubmatch(m[1], -1) {
			values[q[1]] = true
		}
	}
	for _, want := range []string{"not_read", "done_with_failures", "blocked", "running"} {
		if !values[want] {
			t.Errorf("label value %q not found in monitoring.tf's filters (found %v): the test's pattern is stale", want, values)
		}
	}
	for v := range values {
		if !quoted(v) {
			t.Errorf("monitoring.tf matches the label value %q, which no Go code logs", v)
		}
	}
}
