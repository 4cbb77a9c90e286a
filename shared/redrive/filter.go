package redrive

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Filter selects dead letters: those dead-lettered in [Since, Until) whose fields match.
type Filter struct {
	// Reason matches the dead letter's reason: as a substring (case-sensitive), or whole when
	// ReasonExact. Empty matches any reason.
	Reason      string
	ReasonExact bool
	// Kind and Stage match exactly; empty matches any.
	Kind  string
	Stage string
	// Since is required: the dead_letters table is partitioned on dead_lettered_at, and a
	// bounded range is what keeps the query to the partitions it needs.
	Since time.Time
	Until time.Time
}

// Validate reports what is wrong with f.
func (f Filter) Validate() error {
	var errs []error
	if f.Since.IsZero() {
		errs = append(errs, errors.New("since: required (the dead letters' time range starts there)"))
	}
	if f.Until.IsZero() {
		errs = append(errs, errors.New("until: required"))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		errs = append(errs, fmt.Errorf("since %s is not before until %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339)))
	}
	if f.ReasonExact && f.Reason == "" {
		errs = append(errs, errors.New("reason: required with an exact match"))
	}
	return errors.Join(errs...)
}

// ID is the redrive id of a selection: the same filter gives the same id, so the messages an
// interrupted run sent and those its rerun sends carry one redrive_id.
func (f Filter) ID() string {
	mode := "contains"
	if f.ReasonExact {
		mode = "exact"
	}
	// Length-prefixed fields: no two filters share a canonical form.
	var b strings.Builder
	for _, v := range []string{f.Reason, mode, f.Kind, f.Stage, f.Since.UTC().Format(time.RFC3339Nano), f.Until.UTC().Format(time.RFC3339Nano)} {
		fmt.Fprintf(&b, "%d:%s;", len(v), v)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return "rd-" + hex.EncodeToString(sum[:8])
}
