package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Collection is the Firestore collection of backfill jobs.
const Collection = "backfills"

// DefaultCounterShards is how many counter documents a job's counts are spread over when
// WithCounterShards is not given. Firestore sustains about one write per second on one
// document; outcomes are spread evenly (task index modulo n), so n should be at least the
// worker queue's max dispatches per second: 100 covers a queue dispatching 100 tasks/s.
const DefaultCounterShards = 100

// Stored job states; Status derives done and done_with_failures from the counts.
const (
	JobPlanning  = "planning"
	JobRunning   = "running"
	JobCancelled = "cancelled"
	JobBlocked   = "blocked"
)

// ErrNotFound means the job does not exist.
var ErrNotFound = errors.New("backfill job not found")

// Store keeps backfill jobs and their task outcomes in Firestore; it is safe for concurrent use.
type Store struct {
	client   *firestore.Client
	now      func() time.Time
	counters int
	logger   *slog.Logger
	layouts  layoutCache
}

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock that stamps documents and measures rates; the default is time.Now.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithCounterShards sets how many counter documents each job uses (see DefaultCounterShards).
// Status sums every counter document of a job, so processes that disagree on n still count
// exactly.
func WithCounterShards(n int) Option {
	return func(s *Store) {
		if n > 0 {
			s.counters = n
		}
	}
}

// WithLogger sets the logger; nil means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.logger = l } }

// NewStore returns a Store on client.
func NewStore(client *firestore.Client, opts ...Option) *Store {
	s := &Store{client: client, now: time.Now, counters: DefaultCounterShards}
	for _, o := range opts {
		o(s)
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s
}

// Job is a backfill job as stored in backfills/{id}.
type Job struct {
	ID       string `firestore:"id" json:"id"`
	Source   string `firestore:"source" json:"source"`
	Spec     string `firestore:"spec" json:"spec"`
	RunNonce string `firestore:"run_nonce,omitempty" json:"run_nonce,omitempty"`
	// State is planning, running, cancelled or blocked.
	State            string    `firestore:"state" json:"state"`
	Planned          int       `firestore:"planned" json:"planned"`
	APICallsEstimate int       `firestore:"api_calls_estimate" json:"api_calls_estimate"`
	Cancelled        bool      `firestore:"cancelled" json:"cancelled"`
	Blocked          string    `firestore:"blocked,omitempty" json:"blocked,omitempty"`
	Retries          int       `firestore:"retries" json:"retries"`
	CreatedAt        time.Time `firestore:"created_at" json:"created_at"`
	UpdatedAt        time.Time `firestore:"updated_at" json:"updated_at"`
	// SweptAt is when a sweep last looked at the job (its creation until one does); zero in
	// documents written before the field existed. Setting it never moves UpdatedAt, which tells
	// a quiet job.
	SweptAt time.Time `firestore:"swept_at,omitempty" json:"swept_at,omitzero"`
	// Ends counts the times the job ended (MarkEnded); a :retry that reopens it and a second
	// end make it 2. End is the latest end, NoticePending whether its notice is still to be
	// published, NotifiedAt when the latest notice was (end.go).
	Ends          int       `firestore:"ends,omitempty" json:"ends,omitempty"`
	End           *End      `firestore:"end,omitempty" json:"end,omitempty"`
	NoticePending bool      `firestore:"notice_pending,omitempty" json:"notice_pending,omitempty"`
	NotifiedAt    time.Time `firestore:"notified_at,omitempty" json:"notified_at,omitzero"`
	// ShardLayout is how many key ranges the job's shard document ids are spread over
	// (ShardBuckets, shardid.go); 0 in jobs created before, whose ids are t<index>.
	ShardLayout int `firestore:"shard_layout,omitempty" json:"-"`
}

// NewJob returns the job for a spec and its plan, in state planning.
func NewJob(spec *Spec, plan *Plan) *Job {
	return &Job{
		ID: plan.JobID, Source: spec.Source, Spec: string(spec.JSON()), RunNonce: spec.RunNonce,
		State: JobPlanning, Planned: plan.Tasks, APICallsEstimate: plan.APICalls, ShardLayout: currentLayout.buckets,
	}
}

// LoadSpec decodes the job's stored spec (already validated when the job was created, so not
// checked again: its dates may since have become valid or the limits changed).
func (j *Job) LoadSpec() (*Spec, error) {
	var s Spec
	if err := json.Unmarshal([]byte(j.Spec), &s); err != nil {
		return nil, fmt.Errorf("decoding spec of job %s: %w", j.ID, err)
	}
	s.RunNonce = j.RunNonce
	return &s, nil
}

func (s *Store) jobRef(id string) *firestore.DocumentRef {
	return s.client.Collection(Collection).Doc(id)
}

// CreateJob creates the job unless a job with its id exists; then it returns that job and
// created false, which is how the same spec posted twice lands on the same job.
func (s *Store) CreateJob(ctx context.Context, job *Job) (created bool, existing *Job, err error) {
	now := s.now().UTC()
	// swept_at from the start, so that the scheduled sweep's rotation (ordered by it) lists the job.
	job.CreatedAt, job.UpdatedAt, job.SweptAt = now, now, now
	if job.State == "" {
		job.State = JobPlanning
	}
	_, err = s.jobRef(job.ID).Create(ctx, job)
	if status.Code(err) == codes.AlreadyExists {
		existing, err := s.GetJob(ctx, job.ID)
		return false, existing, err
	}
	if err != nil {
		return false, nil, fmt.Errorf("creating backfill job %s: %w", job.ID, err)
	}
	return true, nil, nil
}

// GetJob returns the job, or an error wrapping ErrNotFound.
func (s *Store) GetJob(ctx context.Context, id string) (*Job, error) {
	snap, err := s.jobRef(id).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, fmt.Errorf("reading backfill job %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading backfill job %s: %w", id, err)
	}
	var j Job
	if err := snap.DataTo(&j); err != nil {
		return nil, fmt.Errorf("decoding backfill job %s: %w", id, err)
	}
	return &j, nil
}

func (s *Store) updateJob(ctx context.Context, id, what string, updates ...firestore.Update) error {
	updates = append(updates, firestore.Update{Path: "updated_at", Value: s.now().UTC()})
	_, err := s.jobRef(id).Update(ctx, updates)
	if status.Code(err) == codes.NotFound {
		return fmt.Errorf("%s of backfill job %s: %w", what, id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s of backfill job %s: %w", what, id, err)
	}
	return nil
}

// MarkPlanned records how many tasks the job has (when it differs from NewJob's plan).
func (s *Store) MarkPlanned(ctx context.Context, id string, tasks, apiCalls int) error {
	return s.updateJob(ctx, id, "recording the plan",
		firestore.Update{Path: "planned", Value: tasks}, firestore.Update{Path: "api_calls_estimate", Value: apiCalls})
}

// MarkRunning moves the job to running: its tasks are being enqueued or have been.
func (s *Store) MarkRunning(ctx context.Context, id string) error {
	return s.updateJob(ctx, id, "marking running", firestore.Update{Path: "state", Value: JobRunning})
}

// RecordEnqueued counts the tasks of range r as enqueued, once: call it when every task of r
// exists in the queue. The range's marker document and the counter increment are committed
// together, and the commit fails if the marker exists, so a retried expansion never counts its
// range twice, and a count lost after the tasks were created (the request died, the commit
// failed) is made good when the queue retries the expansion. The count goes to a counter shard,
// not the job document, which a thousand expansions would otherwise all write at once.
func (s *Store) RecordEnqueued(ctx context.Context, id string, r Range) (first bool, err error) {
	at := s.now().UTC()
	err = s.commitBatch(ctx, func() *firestore.WriteBatch {
		b := s.client.Batch()
		b.Create(s.jobRef(id).Collection("enqueued").Doc(fmt.Sprintf("%d-%d", r.From, r.To)),
			map[string]any{"from": r.From, "to": r.To, "at": at})
		b.Set(s.counterRef(id, r.From), map[string]any{"enqueued": firestore.Increment(r.To - r.From)}, firestore.MergeAll)
		return b
	})
	switch {
	case status.Code(err) == codes.AlreadyExists:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("counting tasks [%d, %d) of backfill job %s as enqueued: %w", r.From, r.To, id, err)
	}
	return true, nil
}

// Cancel marks the job cancelled; workers check it (GetJob) and record their tasks cancelled.
func (s *Store) Cancel(ctx context.Context, id string) error {
	return s.updateJob(ctx, id, "cancelling",
		firestore.Update{Path: "cancelled", Value: true}, firestore.Update{Path: "state", Value: JobCancelled})
}

// Block stops the job for a reason a person must fix (e.g. a revoked OAuth token); workers
// check it and leave their tasks to be retried once Unblock is called.
func (s *Store) Block(ctx context.Context, id, reason string) error {
	return s.updateJob(ctx, id, "blocking",
		firestore.Update{Path: "blocked", Value: reason}, firestore.Update{Path: "state", Value: JobBlocked})
}

// Unblock clears Block and moves the job back to running.
func (s *Store) Unblock(ctx context.Context, id string) error {
	return s.updateJob(ctx, id, "unblocking",
		firestore.Update{Path: "blocked", Value: firestore.Delete}, firestore.Update{Path: "state", Value: JobRunning})
}
