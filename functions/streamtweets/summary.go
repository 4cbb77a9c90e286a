package streamtweets

import (
	"errors"
	"sync"

	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// Summary is what one run did; the handler answers it as JSON.
type Summary struct {
	// Skipped is true when another run held the stream; nothing else is set then but Reason.
	Skipped bool `json:"skipped"`
	// Reason says why the run was skipped.
	Reason string `json:"reason,omitempty"`
	// Published counts the messages Pub/Sub confirmed.
	Published int `json:"published"`
	// ByKind counts the published messages by their kind attribute ("unclassified" included).
	ByKind map[string]int `json:"by_kind"`
	// DroppedByLang counts the tweets left out by LANG_FILTER, by language ("none" when absent).
	DroppedByLang map[string]int `json:"dropped_by_lang"`
	// Unclassified counts messages event.XAttributes could not classify (published all the same).
	Unclassified int `json:"unclassified"`
	// RejectedLines counts stream lines that were no message: cut off by a drop, or not JSON.
	RejectedLines int `json:"rejected_lines"`
	// PublishFailed counts messages whose publish failed or was not confirmed in time.
	PublishFailed int `json:"publish_failed"`
	// Reconnects counts the stream's reconnects by reason.
	Reconnects map[string]int `json:"reconnects"`
	// Rules is what the rules sync changed; nil when X_STREAM_RULES is unset.
	Rules *RulesSummary `json:"rules,omitempty"`
	// WaitedS is how long the run waited for the lease, in seconds.
	WaitedS float64 `json:"waited_s"`
	// ReadS is how long the read window stayed open, in seconds.
	ReadS float64 `json:"read_s"`
	// Connections counts the stream connections X accepted.
	Connections int `json:"connections"`
	// NotRead says why a run that held the lease read nothing (no connection was made); the
	// run also logs it as a warning.
	NotRead string `json:"not_read,omitempty"`
	// DuplicatesSkipped counts messages a backfilled reconnect sent again within this run.
	DuplicatesSkipped int `json:"duplicates_skipped,omitempty"`
	// LeaseGeneration is the generation of the lease this run held.
	LeaseGeneration int64 `json:"lease_generation"`
	// RanForS is how long the run took, in seconds.
	RanForS float64 `json:"ran_for_s"`
	// LeaseLost says why the run stopped reading early because its lease was taken or expired.
	LeaseLost string `json:"lease_lost,omitempty"`
	// XError is X's problem when X refused the run (bad token, not enrolled).
	XError *XError `json:"x_error,omitempty"`
	// Error says why the run failed; the handler then answers 500.
	Error string `json:"error,omitempty"`
}

// skippedSummary is the answer of a skipped run: only what a reader of the Scheduler log needs.
type skippedSummary struct {
	Skipped bool   `json:"skipped"`
	Reason  string `json:"reason"`
}

// RulesSummary is the outcome of syncing the stream's rules.
type RulesSummary struct {
	Added     []xstream.StoredRule `json:"added"`
	Deleted   []xstream.StoredRule `json:"deleted"`
	Invalid   []InvalidRule        `json:"invalid"`
	Unchanged int                  `json:"unchanged"`
	// Error is set when the sync failed for a reason that may clear up; the run streamed with
	// the rules X already had.
	Error string `json:"error,omitempty"`
}

// InvalidRule is a configured rule X refused, with X's reasons.
type InvalidRule struct {
	Value   string   `json:"value"`
	Tag     string   `json:"tag,omitempty"`
	Title   string   `json:"title"`
	Details []string `json:"details,omitempty"`
}

// XError is an X API problem, as X described it.
type XError struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Reason string `json:"reason,omitempty"`
}

// Run outcomes, the stream_runs log-based metric's outcome label (terraform/monitoring.tf).
const (
	outcomeRead    = "read"     // X accepted at least one connection
	outcomeSkipped = "skipped"  // another run held the stream
	outcomeNotRead = "not_read" // the run held the stream (or failed before) and never connected
)

// outcome says how the run ended, for the log line that ends it.
func (s Summary) outcome() string {
	switch {
	case s.Skipped:
		return outcomeSkipped
	case s.Connections > 0:
		return outcomeRead
	}
	return outcomeNotRead
}

// notReadCause names, in one word, why a run that was not skipped never connected ("" when it
// did): NotRead's sentence with what varies (counts, times, errors) left out, so that it can be a
// metric label. The cases mirror where NotRead is set (Streamer.read, then notRead); err is the
// run's error.
func notReadCause(s Summary, err error) string {
	switch {
	case s.Skipped || s.Connections > 0:
		return ""
	case s.Reconnects[string(xstream.ReasonTooManyConnections)] > 0:
		return "too_many_connections"
	case len(s.Reconnects) > 0:
		return "no_connection"
	case s.LeaseLost != "":
		return "lease_lost"
	case s.XError != nil:
		return "x_refused"
	case err != nil:
		return "failed"
	}
	return "window_closed"
}

func newSummary() Summary {
	return Summary{ByKind: map[string]int{}, DroppedByLang: map[string]int{}, Reconnects: map[string]int{}}
}

func rulesSummary(rep xstream.RulesReport) *RulesSummary {
	rs := &RulesSummary{
		Added:     nonNil(rep.Added),
		Deleted:   nonNil(rep.Deleted),
		Invalid:   []InvalidRule{},
		Unchanged: len(rep.Unchanged),
	}
	for _, inv := range rep.Invalid {
		rs.Invalid = append(rs.Invalid, InvalidRule{Value: inv.Rule.Value, Tag: inv.Rule.Tag, Title: inv.Title, Details: inv.Details})
	}
	return rs
}

// nonNil makes an empty list encode as [] rather than null, which reads as "nothing" at a glance.
func nonNil(rules []xstream.StoredRule) []xstream.StoredRule {
	if rules == nil {
		return []xstream.StoredRule{}
	}
	return rules
}

// xError extracts X's problem from err, nil if err is not an X API error.
func xError(err error) *XError {
	var ae *xstream.APIError
	if !errors.As(err, &ae) {
		return nil
	}
	return &XError{Status: ae.StatusCode, Title: ae.Title, Detail: ae.Detail, Reason: ae.Reason}
}

// counters are the per-run counts that the stream goroutine and the publish collector update.
type counters struct {
	mu            sync.Mutex
	published     int
	byKind        map[string]int
	droppedByLang map[string]int
	unclassified  int
	rejected      int
	publishFailed int
	duplicates    int
}

func newCounters() *counters {
	return &counters{byKind: map[string]int{}, droppedByLang: map[string]int{}}
}

func (c *counters) add(f func(c *counters)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(c)
}

// into copies the counts into s.
func (c *counters) into(s *Summary) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.Published, s.Unclassified, s.RejectedLines, s.PublishFailed = c.published, c.unclassified, c.rejected, c.publishFailed
	s.DuplicatesSkipped = c.duplicates
	for k, v := range c.byKind {
		s.ByKind[k] = v
	}
	for k, v := range c.droppedByLang {
		s.DroppedByLang[k] = v
	}
}
