package redrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// store is the dead_letters table and the redrives table: Pending yields the dead letters with
// no redrives row, as the dead_letters_pending view does; Record appends rows.
type store struct {
	mu      sync.Mutex
	dead    []*event.DeadLetterRow
	records []Record
	// failRecord makes Record fail, as when the process dies between a publish and its row.
	failRecord bool
}

func (s *store) Pending(ctx context.Context, f Filter, limit int, yield func(*event.DeadLetterRow) error) error {
	s.mu.Lock()
	marked := map[string]bool{}
	for _, r := range s.records {
		marked[r.MessageID] = true
	}
	var out []*event.DeadLetterRow
	for _, dl := range s.dead {
		if !marked[dl.MessageID] && len(out) < limit {
			out = append(out, dl)
		}
	}
	s.mu.Unlock()
	for _, dl := range out {
		if err := yield(dl); err != nil {
			return err
		}
	}
	return nil
}

func (s *store) Record(ctx context.Context, rows []Record) error {
	if err := ctx.Err(); err != nil { // as the real client does
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failRecord {
		return errors.New("connection reset")
	}
	s.records = append(s.records, rows...)
	return nil
}

func (s *store) marked() map[string]int {
	out := map[string]int{}
	for _, r := range s.records {
		out[r.MessageID]++
	}
	return out
}

// topic records what is published; after cancelAfter publishes (when set) it calls cancel, as
// an operator's Ctrl-C does mid-run.
type topic struct {
	mu          sync.Mutex
	sent        []map[string]string
	cancelAfter int
	cancel      context.CancelFunc
}

func (p *topic) Publish(ctx context.Context, data []byte, attrs map[string]string) func(context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, attrs)
	id := fmt.Sprintf("pub-%d", len(p.sent))
	if p.cancel != nil && len(p.sent) == p.cancelAfter {
		p.cancel()
	}
	return func(ctx context.Context) (string, error) {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		return id, nil
	}
}

// byOriginal counts the messages sent per first delivery.
func (p *topic) byOriginal() map[string]int {
	out := map[string]int{}
	for _, a := range p.sent {
		out[a[event.AttrRedriveOf]]++
	}
	return out
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func filter() Filter {
	return Filter{Since: deadAt.Add(-time.Hour), Until: deadAt.Add(time.Hour)}
}

func deadLetters(n int) []*event.DeadLetterRow {
	out := make([]*event.DeadLetterRow, n)
	for i := range out {
		out[i] = deadLetter(fmt.Sprintf("m%03d", i), `{"kind":"search"}`, "kind", "search")
	}
	return out
}

// TestRunTwiceSendsNothingTheSecondTime: a complete run marks every dead letter it sends; a
// second run with the same filter selects nothing and sends nothing.
func TestRunTwiceSendsNothingTheSecondTime(t *testing.T) {
	s := &store{dead: deadLetters(250)}
	p := &topic{}
	r := New(s, p, s, nil, quiet)
	first, err := r.Run(context.Background(), filter(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Sent != 250 || first.Marked != 250 || !first.Complete {
		t.Errorf("first Run() = %+v, want 250 sent and marked, complete", first)
	}
	second, err := r.Run(context.Background(), filter(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if second.Selected != 0 || second.Sent != 0 || len(p.sent) != 250 {
		t.Errorf("second Run() = %+v with %d published in all, want nothing selected or sent", second, len(p.sent))
	}
	if first.RedriveID != second.RedriveID {
		t.Errorf("redrive ids %s and %s differ for one filter", first.RedriveID, second.RedriveID)
	}
}

// TestRunInterruptedThenRerun: a run interrupted after some publishes marks what it handed to
// Pub/Sub; the rerun sends the rest; every dead letter is sent once and marked once.
func TestRunInterruptedThenRerun(t *testing.T) {
	for _, stopAt := range []int{1, 40, batchSize, batchSize + 1, 249} {
		t.Run(fmt.Sprint(stopAt), func(t *testing.T) {
			s := &store{dead: deadLetters(250)}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := &topic{cancelAfter: stopAt, cancel: cancel}
			r := New(s, p, s, nil, quiet)
			rep, err := r.Run(ctx, filter(), Options{})
			if !errors.Is(err, context.Canceled) || rep.Complete {
				t.Fatalf("interrupted Run() = %+v, %v; want context.Canceled, incomplete", rep, err)
			}
			if rep.Sent != stopAt || rep.Marked != stopAt {
				t.Errorf("interrupted Run() sent %d, marked %d; want %d each", rep.Sent, rep.Marked, stopAt)
			}
			rep, err = r.Run(context.Background(), filter(), Options{})
			if err != nil || rep.Sent != 250-stopAt {
				t.Errorf("rerun = %+v, %v; want %d sent", rep, err, 250-stopAt)
			}
			for orig, n := range p.byOriginal() {
				if n != 1 {
					t.Errorf("%s sent %d times, want once", orig, n)
				}
			}
			if m := s.marked(); len(m) != 250 || len(p.sent) != 250 {
				t.Errorf("%d dead letters marked, %d sent; want 250 each", len(m), len(p.sent))
			}
		})
	}
}

// TestRunCrashBetweenPublishAndMark: when a batch's rows cannot be appended (the process dies
// after publishing), the run fails and the rerun sends that batch again, with the same
// first-delivery attributes, so the loader's dedup keys see one message.
func TestRunCrashBetweenPublishAndMark(t *testing.T) {
	s := &store{dead: deadLetters(10), failRecord: true}
	p := &topic{}
	r := New(s, p, s, nil, quiet)
	if _, err := r.Run(context.Background(), filter(), Options{}); err == nil {
		t.Fatal("Run() with a failing redrives append = nil error, want one")
	}
	s.failRecord = false
	if _, err := r.Run(context.Background(), filter(), Options{}); err != nil {
		t.Fatal(err)
	}
	if len(p.sent) != 20 {
		t.Errorf("%d messages sent, want 20 (10 unmarked, sent again)", len(p.sent))
	}
	for i := range 10 {
		if diff := cmp.Diff(p.sent[i], p.sent[i+10]); diff != "" {
			t.Errorf("the second copy of message %d differs (-first +second):\n%s", i, diff)
		}
	}
	if m := s.marked(); len(m) != 10 {
		t.Errorf("%d dead letters marked, want 10", len(m))
	}
}

// TestRunSelection: what a run sends, skips and marks, dry or not.
func TestRunSelection(t *testing.T) {
	redrivenAgain := deadLetter("m9", "{}", event.AttrRedriveOf, "m1", event.AttrRedrivePublishTime, published.Format(time.RFC3339Nano), event.AttrRedriveID, "rd-0")
	truncated := deadLetter("m5", "{}")
	*truncated.DataBytes = 1 << 30
	dead := []*event.DeadLetterRow{
		deadLetter("m1", "{}"),
		deadLetter("m1", "{}"), // Pub/Sub delivered m1 twice; the loader dead-lettered both
		redrivenAgain,          // a copy of m1 redriven before and dead-lettered again
		deadLetter("m2", "{}"),
		truncated,
	}
	tests := []struct {
		name       string
		opts       Options
		wantSent   int
		wantMarked map[string]int
		wantSkip   []Skipped
		published  int
	}{
		{"sends each first delivery once and marks every dead letter", Options{Sample: 2}, 2,
			map[string]int{"m1": 2, "m9": 1, "m2": 1}, []Skipped{{"m5", "data truncated: the dead letter kept 2 of its 1073741824 bytes"}}, 2},
		{"dry run sends and marks nothing", Options{DryRun: true, Sample: 2}, 2,
			map[string]int{}, []Skipped{{"m5", "data truncated: the dead letter kept 2 of its 1073741824 bytes"}}, 0},
		{"limit", Options{Limit: 1}, 1, map[string]int{"m1": 1}, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &store{dead: dead}
			p := &topic{}
			rep, err := New(s, p, s, nil, quiet).Run(context.Background(), filter(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Sent != tt.wantSent || len(p.sent) != tt.published {
				t.Errorf("Run() sent %d (%d published), want %d (%d)", rep.Sent, len(p.sent), tt.wantSent, tt.published)
			}
			if diff := cmp.Diff(tt.wantMarked, s.marked()); diff != "" {
				t.Errorf("marked (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantSkip, rep.Skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
			var sample []string
			for _, pl := range rep.Sample {
				sample = append(sample, pl.MessageID)
			}
			if want := min(tt.opts.Sample, 2); len(sample) != want {
				t.Errorf("sample %v, want %d", sample, want)
			}
			for orig, n := range p.byOriginal() {
				if n != 1 {
					t.Errorf("first delivery %s sent %d times", orig, n)
				}
			}
		})
	}
}

func TestOptionsBounds(t *testing.T) {
	tests := []struct {
		o  Options
		ok bool
	}{
		{Options{Limit: MaxLimit, Sample: MaxSample}, true},
		{Options{Limit: MaxLimit + 1}, false},
		{Options{Sample: MaxSample + 1}, false},
		{Options{Limit: -1}, false},
	}
	for _, tt := range tests {
		if err := tt.o.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok %v", tt.o, err, tt.ok)
		}
	}
}
