package event_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// A backfill's tweets (source x_search, as messages already published carry it) count at their
// created_at; the stream's, a replay's and an app's at publication. The list SQL uses says the
// same.
func TestCountsAtCreation(t *testing.T) {
	for _, tt := range []struct {
		source string
		want   bool
	}{
		{event.SourceXSearch, true},
		{"x_search", true},
		{event.SourceXStream, false},
		{event.SourceReplay, false},
		{event.SourceApp, false},
		{"", false},
	} {
		if got := event.CountsAtCreation(tt.source); got != tt.want {
			t.Errorf("CountsAtCreation(%q) = %t, want %t", tt.source, got, tt.want)
		}
	}
	if diff := cmp.Diff([]string{"x_search"}, event.SourcesCountingAtCreation()); diff != "" {
		t.Errorf("SourcesCountingAtCreation() (-want +got):\n%s", diff)
	}
}
