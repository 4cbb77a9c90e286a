package backfill

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// Source is one backfill source: everything the planner, the job store, the Backfill function,
// the worker and the CLI know of it, behind one interface, so that none of them names a source.
// A source lives in its own folder and is registered by one line in shared/backfill/sourceset;
// docs/sources.md lists what a new one provides.
type Source interface {
	// Name is the spec's "source" value, and the key of its spec section.
	Name() string
	// TaskKey is the key of the source's request in a task body.
	TaskKey() string
	// NewSection returns a new, empty spec section of the source's own type (a pointer): the
	// core decodes the section's JSON into it, strictly for a POST (DecodeStrict, unknown fields
	// refused by path under Name) and as stored for a job's spec.
	NewSection() any
	// Validate checks and normalizes a decoded section in place. A mistake is a *FieldError
	// naming the field, e.g. "ga4.metrics[2]", which the Backfill function answers with 400.
	Validate(section any, lim Limits) *FieldError
	// Plan lays the section out as tasks: it sets p.Tasks and p.Units (p.Chunks when the
	// source chunks by date) and may set p.APICalls (default one per task) and p.State for Task.
	Plan(section any, p *Plan) error
	// Task fills task t.Index of p: its Shard (stable, readable) and its Request.
	Task(p *Plan, t *TaskSpec)
	// CheckTask says what is wrong with a task's request (nil when it runs).
	CheckTask(t TaskSpec) error
	// Rows maps a task's whole result to backfill_rows (without the completion marker).
	Rows(t TaskSpec, res *sources.Result, fetchedAt time.Time) []Row
	// Example is a valid spec of the source, ending yesterday or earlier: the example of
	// docs/backfills.md and the registry test's input.
	Example() []byte
	// Settings are the environment variables the source reads (base URL overrides, secrets,
	// allow-lists), read for it by the functions' configurations (ReadSettings).
	Settings() []Setting
	// NewFetcher returns the source's fetcher over d (its settings and the worker's generic
	// dependencies). It dials nothing: a client is built on the first task, so a missing
	// setting fails only that source's tasks, with an error naming the setting.
	NewFetcher(d Deps) Fetcher
}

// LargestTasker is a Source whose tasks' sizes vary with more than their dates: it builds its
// largest task body directly (see largestTaskBytes).
type LargestTasker interface {
	LargestTask(p *Plan) TaskSpec
}

// TermHistorian is a Source that fills a deck column's history: the spec of one keyword's or
// hashtag's recent past as of now, equal for every start within a period so that repeated
// starts name one job, and the range it covers. The deck's "Load last 7 days" asks the first
// registered one (TermHistorySource) and knows no source by name.
type TermHistorian interface {
	Source
	TermHistory(term string, now time.Time, dryRun bool) (spec []byte, start, end time.Time)
}

// TermHistorySource returns the first registered source that fills a column's history.
func TermHistorySource() (TermHistorian, bool) {
	for _, s := range registered {
		if h, ok := s.(TermHistorian); ok {
			return h, true
		}
	}
	return nil, false
}

// Fetcher runs one task of a source against its API and returns the whole result (every page,
// the rows, the calls made, the API's quota report); a failure is a *sources.Error whose Kind
// says transient (with RetryAfter when the API set one), permanent or auth revoked. The worker
// holds one per source name.
type Fetcher interface {
	Fetch(ctx context.Context, t TaskSpec) (*sources.Result, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, t TaskSpec) (*sources.Result, error)

// Fetch implements Fetcher.
func (f FetcherFunc) Fetch(ctx context.Context, t TaskSpec) (*sources.Result, error) {
	return f(ctx, t)
}

// Lookup returns the registered source named name.
func Lookup(name string) (Source, bool) {
	for _, s := range registered {
		if s.Name() == name {
			return s, true
		}
	}
	return nil, false
}

// Sources returns the registered sources, in registration order.
func Sources() []Source { return append([]Source(nil), registered...) }

// sourceNames is "a, b or c" of the registered names.
func sourceNames() string {
	names := make([]string, len(registered))
	for i, s := range registered {
		names[i] = s.Name()
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// CheckTask checks a decoded task body: a registered source, and a request it accepts.
func CheckTask(t TaskSpec) error {
	src, ok := Lookup(t.Source)
	if !ok {
		return fmt.Errorf("unknown source %q: want %s", t.Source, sourceNames())
	}
	return src.CheckTask(t)
}

// Request decodes a task's request into v, for a source's CheckTask and fetcher; a task
// without one is an error naming what the source needs (what).
func Request(t TaskSpec, v any, what string) error {
	if len(t.Request) == 0 {
		return fmt.Errorf("a %s task needs %s and nothing else", t.Source, what)
	}
	if err := json.Unmarshal(t.Request, v); err != nil {
		return fmt.Errorf("decoding the task: %w", err)
	}
	return nil
}

// SetRequest encodes a source's request into the task.
func SetRequest(t *TaskSpec, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("backfill: encoding a %s request cannot fail: %v", t.Source, err))
	}
	t.Request = b
}

// RowsOf maps a task's whole result to backfill_rows through its source.
func RowsOf(t TaskSpec, res *sources.Result, fetchedAt time.Time) []Row {
	if src, ok := Lookup(t.Source); ok {
		return src.Rows(t, res, fetchedAt)
	}
	return RecordRows(t, res.Records, 0, fetchedAt)
}

// Sink receives a streamed task's output as it arrives (see SinkStreamer): the worker keeps
// the raw bytes and appends the rows, so the instance holds a piece of a page at a time.
type Sink struct {
	// Start begins a fetch (again, after a restart): the worker drops what it counted of an
	// earlier one and returns the new fetch's fetched_at.
	Start func() time.Time
	// Rows appends rows the source numbered (RowIndex) from the fetch's first.
	Rows func(rows []Row) error
	// Body adds raw bytes of the current page; EndPage ends the page.
	Body    func(p []byte) error
	EndPage func() error
}

// StreamSummary is what a streamed attempt made: its API calls and pages, the API's last quota
// report, and the calls of fetches the run abandoned (counted once over the run's attempts).
type StreamSummary struct {
	APICalls, Pages, Abandoned int
	Quota                      *sources.Quota
}

// SinkStreamer is a Fetcher that can run a task into a Sink: the worker runs such a source's
// tasks this way. StreamRun checks the task's request (an error is the task's fault).
type SinkStreamer interface {
	StreamRun(t TaskSpec) (SinkRun, error)
}

// SinkRun is one task's streamed run; the worker may call Attempt again after a transient
// failure, and the run keeps what it learned (a report's sampling) across attempts.
type SinkRun interface {
	Attempt(ctx context.Context, sink Sink) (StreamSummary, error)
}
