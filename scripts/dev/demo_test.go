package main

import (
	"encoding/json"
	"testing"

	"github.com/pipelinekit/pipelinekit/functions/streamtweets"
)

// TestStreamWhy: the demo's problem line names why StreamTweets published nothing, from the
// fields its answer really has (marshalled from streamtweets.Summary, so a renamed field fails
// here rather than leaving the message without its cause).
func TestStreamWhy(t *testing.T) {
	tests := []struct {
		name string
		sum  streamtweets.Summary
		want string
	}{
		{"read nothing", streamtweets.Summary{NotRead: "the read window closed before a connection was made"},
			" (not_read: the read window closed before a connection was made)"},
		{"skipped", streamtweets.Summary{Skipped: true, Reason: "lease held by h1"}, " (reason: lease held by h1)"},
		{"lease lost and refused", streamtweets.Summary{
			LeaseLost: "renewal failed",
			XError:    &streamtweets.XError{Status: 401, Title: "Unauthorized", Detail: "bad token"},
			Error:     "x refused the stream",
		}, " (lease_lost: renewal failed; x_error: 401 Unauthorized bad token; error: x refused the stream)"},
		{"rules sync failed", streamtweets.Summary{Rules: &streamtweets.RulesSummary{Error: "deadline exceeded"}},
			" (rules error: deadline exceeded)"},
		{"nothing to say", streamtweets.Summary{Published: 0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.sum)
			if err != nil {
				t.Fatal(err)
			}
			var answer map[string]any
			if err := json.Unmarshal(b, &answer); err != nil {
				t.Fatal(err)
			}
			if got := streamWhy(answer); got != tt.want {
				t.Errorf("streamWhy(%s) = %q, want %q", b, got, tt.want)
			}
		})
	}
}
