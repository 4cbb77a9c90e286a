package backfill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/sources"
)

// Source is one backfill source: what the planner, the job store, the Backfill function, the
// worker and the CLI know of it. Each source lives in its own files (spec_<name>.go here, its
// client in shared/sources, its fake API in shared/sources/sourcestest) and is registered by
// one line in registry.go.
type Source interface {
	// Name is the spec's "source" value, and the name of its spec section.
	Name() string
	// HasSection reports whether s carries this source's spec section.
	HasSection(s *Spec) bool
	// Validate checks and normalizes the section (present in s); a mistake is a *FieldError
	// naming the field, e.g. "ga4.metrics[2]", which the Backfill function answers with 400.
	Validate(s *Spec, lim Limits) *FieldError
	// Plan lays the section out as tasks: it sets p.Tasks and p.Units (p.Chunks when the source
	// chunks by date) and may set p.APICalls (default one per task) and p.state for Task.
	Plan(s *Spec, p *Plan) error
	// Task fills task t.Index of p: its Shard (stable, readable) and its request field.
	Task(p *Plan, t *TaskSpec)
	// HasTask reports whether a task body carries this source's request field.
	HasTask(t TaskSpec) bool
	// CheckTask says what is wrong with a task body named for this source (nil when it runs).
	CheckTask(t TaskSpec) error
	// Rows maps a task's whole result to backfill_rows (without the completion marker).
	Rows(t TaskSpec, res *sources.Result, fetchedAt time.Time) []Row
	// Example is a valid spec of the source, ending yesterday or earlier: the example of
	// docs/backfills.md and the registry test's input.
	Example() []byte
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

// CheckTask checks a decoded task body: a registered source, and its request field and no other.
func CheckTask(t TaskSpec) error {
	src, ok := Lookup(t.Source)
	if !ok {
		return fmt.Errorf("unknown source %q: want %s", t.Source, sourceNames())
	}
	return src.CheckTask(t)
}

// onlyTask is the CheckTask of most sources: t has name's request field and no other source's.
func onlyTask(t TaskSpec, name, what string) error {
	for _, s := range registered {
		if s.HasTask(t) != (s.Name() == name) {
			return fmt.Errorf("a %s task needs %s and nothing else", name, what)
		}
	}
	return nil
}

// RowsOf maps a task's whole result to backfill_rows through its source.
func RowsOf(t TaskSpec, res *sources.Result, fetchedAt time.Time) []Row {
	if src, ok := Lookup(t.Source); ok {
		return src.Rows(t, res, fetchedAt)
	}
	return Rows(t, res, fetchedAt)
}
