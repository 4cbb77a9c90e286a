package streamtweets

import (
	"errors"
	"testing"
)

// TestOutcomeAndNotReadCause: the labels the stream_runs log-based metric reads from a run's
// last log line (terraform/monitoring.tf): how the run ended, and in one word why a run that was
// not skipped never connected, in the order Streamer.read and notRead set NotRead.
func TestOutcomeAndNotReadCause(t *testing.T) {
	failed := errors.New("x refused the stream")
	tests := []struct {
		name    string
		sum     Summary
		err     error
		outcome string
		cause   string
	}{
		{"skipped", Summary{Skipped: true}, nil, "skipped", ""},
		{"read", Summary{Connections: 1, Reconnects: map[string]int{"too_many_connections": 2}}, nil, "read", ""},
		{"read, then failed", Summary{Connections: 2}, failed, "read", ""},
		{"kept busy", Summary{Reconnects: map[string]int{"too_many_connections": 3, "network": 1}}, nil, "not_read", "too_many_connections"},
		{"no connection", Summary{Reconnects: map[string]int{"network": 4}}, nil, "not_read", "no_connection"},
		{"lease lost", Summary{LeaseLost: "taken by run-2", Reconnects: map[string]int{}}, failed, "not_read", "lease_lost"},
		{"refused by X", Summary{XError: &XError{Status: 401}}, failed, "not_read", "x_refused"},
		{"failed before reading", Summary{}, failed, "not_read", "failed"},
		{"window closed", Summary{}, nil, "not_read", "window_closed"},
	}
	for _, tt := range tests {
		if got := tt.sum.outcome(); got != tt.outcome {
			t.Errorf("%s: outcome() = %q, want %q", tt.name, got, tt.outcome)
		}
		if got := notReadCause(tt.sum, tt.err); got != tt.cause {
			t.Errorf("%s: notReadCause() = %q, want %q", tt.name, got, tt.cause)
		}
	}
}
