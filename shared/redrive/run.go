package redrive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// Limits of one run.
const (
	// DefaultLimit and MaxLimit bound how many dead letters one run selects: the run keeps one
	// entry per sent message in memory (to send each first delivery once), and a bigger backlog
	// is several runs.
	DefaultLimit = 10_000
	MaxLimit     = 100_000
	// DefaultSample and MaxSample bound the dead letters a report shows.
	DefaultSample = 5
	MaxSample     = 100
	// batchSize is how many messages are handed to Pub/Sub before their redrives rows are
	// appended in one request: at most this many are published and unmarked if the process dies.
	batchSize = 100
	// markTimeout bounds waiting for the publish results and the redrives append of a batch
	// after the run was interrupted.
	markTimeout = 2 * time.Minute
)

// Source yields the pending dead letters (not yet redriven) that match f, oldest first, at most
// limit; BigQuerySource in production.
type Source interface {
	Pending(ctx context.Context, f Filter, limit int, yield func(*event.DeadLetterRow) error) error
}

// Publisher sends one message and returns a function that waits for Pub/Sub's id for it;
// PubSubPublisher in production.
type Publisher interface {
	Publish(ctx context.Context, data []byte, attrs map[string]string) (wait func(context.Context) (string, error))
}

// Recorder appends redrives rows; a warehouse.Writer in production (see WriterRecorder).
type Recorder interface {
	Record(ctx context.Context, rows []Record) error
}

// Record is one row of the redrives table: a dead letter published again.
type Record struct {
	RedrivenAt         time.Time `bigquery:"redriven_at"`
	RedriveID          string    `bigquery:"redrive_id"`
	MessageID          string    `bigquery:"message_id"`
	OriginalMessageID  string    `bigquery:"original_message_id"`
	PublishedMessageID string    `bigquery:"published_message_id"`
	DeadLetteredAt     time.Time `bigquery:"dead_lettered_at"`
}

// Options shape one run.
type Options struct {
	DryRun bool
	Limit  int // 0 means DefaultLimit
	Sample int // how many planned messages the report shows
}

// Validate reports options out of bounds.
func (o Options) Validate() error {
	var errs []error
	if o.Limit < 0 || o.Limit > MaxLimit {
		errs = append(errs, fmt.Errorf("limit %d: want 1 to %d", o.Limit, MaxLimit))
	}
	if o.Sample < 0 || o.Sample > MaxSample {
		errs = append(errs, fmt.Errorf("sample %d: want 0 to %d", o.Sample, MaxSample))
	}
	return errors.Join(errs...)
}

// Report is what a run did (or, dry, would do).
type Report struct {
	RedriveID string `json:"redrive_id"`
	DryRun    bool   `json:"dry_run"`
	// Selected counts the pending dead letters that matched.
	Selected int `json:"selected"`
	// Sent counts messages published (dry: that would be). Marked counts dead letters marked
	// redriven: more than Sent when several dead letters share a first delivery.
	Sent     int       `json:"sent"`
	Marked   int       `json:"marked"`
	Skipped  []Skipped `json:"skipped,omitempty"`
	Sample   []Planned `json:"sample,omitempty"`
	Complete bool      `json:"complete"`
}

// Redriver runs redrives.
type Redriver struct {
	src Source
	pub Publisher
	rec Recorder
	now func() time.Time
	log *slog.Logger
}

// New returns a Redriver; now and log default to time.Now and slog.Default.
func New(src Source, pub Publisher, rec Recorder, now func() time.Time, log *slog.Logger) *Redriver {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Redriver{src: src, pub: pub, rec: rec, now: now, log: log}
}

// Run redrives the dead letters f selects. When ctx ends it stops handing messages to Pub/Sub,
// marks those already handed over, and returns the report so far with ctx's error.
func (r *Redriver) Run(ctx context.Context, f Filter, o Options) (Report, error) {
	if err := errors.Join(f.Validate(), o.Validate()); err != nil {
		return Report{}, err
	}
	if o.Limit == 0 {
		o.Limit = DefaultLimit
	}
	rep := Report{RedriveID: f.ID(), DryRun: o.DryRun}
	b := &batch{r: r, rep: &rep, sent: map[string]string{}}
	err := r.src.Pending(ctx, f, o.Limit, func(dl *event.DeadLetterRow) error {
		rep.Selected++
		p, skip := Plan(dl, rep.RedriveID)
		if skip != "" {
			rep.Skipped = append(rep.Skipped, Skipped{MessageID: dl.MessageID, Reason: skip})
			return nil
		}
		if len(rep.Sample) < o.Sample {
			rep.Sample = append(rep.Sample, p)
		}
		if o.DryRun {
			if _, dup := b.sent[p.OriginalMessageID]; !dup {
				rep.Sent++
			}
			b.sent[p.OriginalMessageID] = ""
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b.add(ctx, p)
		if len(b.pending) >= batchSize {
			return b.flush(ctx)
		}
		return nil
	})
	if ferr := b.flush(ctx); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if err != nil {
		return rep, fmt.Errorf("redrive %s: %w", rep.RedriveID, err)
	}
	rep.Complete = true
	return rep, nil
}

// batch holds messages handed to Pub/Sub whose redrives rows are not yet appended.
type batch struct {
	r       *Redriver
	rep     *Report
	pending []inFlight
	// sent maps a first delivery's id to the id its redrive got in this run, so that two dead
	// letters of one message are sent once (both are marked).
	sent map[string]string
}

type inFlight struct {
	p    Planned
	wait func(context.Context) (string, error) // nil: its first delivery was sent in this run
}

func (b *batch) add(ctx context.Context, p Planned) {
	if _, dup := b.sent[p.OriginalMessageID]; dup {
		b.pending = append(b.pending, inFlight{p: p})
		return
	}
	b.sent[p.OriginalMessageID] = ""
	b.pending = append(b.pending, inFlight{p: p, wait: b.r.pub.Publish(ctx, p.Data, p.Attributes)})
}

// flush waits for the batch's publish results and appends a row for each published message,
// even when ctx has ended: what was handed to Pub/Sub is marked, so a rerun does not send it.
func (b *batch) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	now := b.r.now().UTC()
	var rows []Record
	var errs []error
	for _, f := range b.pending {
		id := b.sent[f.p.OriginalMessageID]
		if f.wait != nil {
			var err error
			if id, err = f.wait(mctx); err != nil {
				// Not marked: a rerun sends it again (it may have reached Pub/Sub; then the
				// dedup keys absorb the copy).
				delete(b.sent, f.p.OriginalMessageID)
				errs = append(errs, fmt.Errorf("publishing dead letter %s: %w", f.p.MessageID, err))
				continue
			}
			b.sent[f.p.OriginalMessageID] = id
			b.rep.Sent++
		} else if id == "" {
			continue // its first delivery's publish failed in this batch
		}
		rows = append(rows, Record{RedrivenAt: now, RedriveID: b.rep.RedriveID, MessageID: f.p.MessageID,
			OriginalMessageID: f.p.OriginalMessageID, PublishedMessageID: id, DeadLetteredAt: f.p.DeadLetteredAt})
	}
	b.pending = b.pending[:0]
	if len(rows) > 0 {
		if err := b.r.rec.Record(mctx, rows); err != nil {
			errs = append(errs, fmt.Errorf("marking %d published dead letter(s) as redriven (a rerun sends them again; the dedup views hold each once): %w", len(rows), err))
		} else {
			b.rep.Marked += len(rows)
			b.r.log.InfoContext(ctx, "dead letters redriven", "redrive_id", b.rep.RedriveID, "marked", len(rows), "sent", b.rep.Sent)
		}
	}
	return errors.Join(errs...)
}
