package sourcestest

import (
	"context"
	"io"
	"log/slog"
	"time"
)

// Fake is a source's fake as the local stack runs it: it gives the worker's environment that
// points the source at it (base URLs, credentials, allow-lists), its address (the demo's
// banner), counts what it answered, and closes.
type Fake interface {
	Env() map[string]string
	URL() string
	Counts() Counts
	Close()
}

// Counts is what a fake answered so far: the benchmarks' API figures, whatever the source.
type Counts struct {
	// Calls counts the API's requests (not the token endpoint's), whatever their outcome.
	Calls int
	// ByStatus counts those requests' answers by HTTP status.
	ByStatus map[int]int
	// TokenRefreshes counts the access tokens the fake's token endpoint issued (0 when it has
	// none).
	TokenRefreshes int
}

// Stack is what the local stack gives a fake it starts.
type Stack struct {
	// Fakes are the fakes started before this one, by source.
	Fakes map[string]Fake
	// Sample is the stream's sample data, a message a line.
	Sample [][]byte
	// StreamURL and StreamToken reach the stream's fake when it runs ("" when not).
	StreamURL, StreamToken string
}

// Kit is a source's fake as the local stack knows it: how to start it, and a small job against
// it (the source drill's), which every registered source has.
type Kit struct {
	// Source is the source's name.
	Source string
	// Start starts the fake with opts (BackfillOptions.Fakes[Source]).
	Start func(s Stack, opts []Option) (Fake, error)
	// Spec is a small job's spec against f; end is the last day it covers (a few days ago).
	Spec func(f Fake, end time.Time) []byte
	// Rows is the distinct (shard, row_index) keys the job yields in backfill_rows.
	Rows int
	// Sized is a job of a chosen size against f, and the keys it yields: items (videos, ...)
	// over days days ending at end, chunked by chunk, as far as the source has such sizes; nil
	// when it has none (Spec's job then). f is nil when the job is built without a running
	// stack (localstack.SizedSpecAlone), so a sized job names its items without asking its fake.
	Sized func(f Fake, items, days int, chunk string, end time.Time) ([]byte, int)
	// Benches are the source's own benchmarks, which scripts/bench runs by name (--only).
	Benches []Bench
}

// Bench is a benchmark of one source, kept in the source's folder: scripts/bench runs it with
// --only Name, puts its result in the JSON report under Name and prints its rows in the table.
type Bench struct {
	Name string
	Run  func(ctx context.Context, log *slog.Logger) (BenchResult, error)
}

// BenchResult is a Bench's figures: marshalled to JSON as they are, printed as rows of
// scripts/bench's table by Print.
type BenchResult interface{ Print(w io.Writer) }

// TokenChecker is a fake whose token endpoint other Google fakes honour (one grant for all).
type TokenChecker interface{ ValidToken(token string) bool }
