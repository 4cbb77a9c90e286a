package taskqueue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	cloudtasks "cloud.google.com/go/cloudtasks/apiv2"
	"cloud.google.com/go/cloudtasks/apiv2/cloudtaskspb"
	"golang.org/x/time/rate"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Defaults of an Enqueuer.
const (
	// DefaultParallelism is how many CreateTask calls run at once.
	DefaultParallelism = 32
	// DefaultMaxAttempts bounds the calls made for one task when the service says to retry.
	DefaultMaxAttempts = 8
	// DefaultMinBackoff is the first backoff; it doubles on every retry up to DefaultMaxBackoff.
	DefaultMinBackoff = 100 * time.Millisecond
	// DefaultMaxBackoff caps one backoff.
	DefaultMaxBackoff = 10 * time.Second
)

// nameHexDigits is how much of the SHA-256 of Task.Name becomes the task id: 128 bits, so
// distinct names never collide in practice.
const nameHexDigits = 32

// Task is one HTTP task to create. The request is a POST to URL.
type Task struct {
	// Name is the caller's id of the task; it is hashed into the Cloud Tasks name, so creating
	// the same Name again is a dedup. Empty lets the service pick a name (no dedup).
	Name         string
	URL          string
	Body         []byte
	Headers      map[string]string
	ScheduleTime time.Time // zero: now
	// OIDCServiceAccount, when set, makes Cloud Tasks attach an OIDC token of that service
	// account, for OIDCAudience (empty: the URL).
	OIDCServiceAccount string
	OIDCAudience       string
	// DispatchDeadline is how long Cloud Tasks waits for the target's answer before it counts
	// the attempt failed; zero leaves the service's default (10 minutes).
	DispatchDeadline time.Duration
}

// TaskError is the failure of one task.
type TaskError struct {
	Name     string // Task.Name
	TaskName string // the full Cloud Tasks name
	Err      error
}

// Error implements error.
func (e TaskError) Error() string {
	return fmt.Sprintf("creating task %q (%s): %v", e.Name, e.TaskName, e.Err)
}

// Unwrap returns the underlying error.
func (e TaskError) Unwrap() error { return e.Err }

// Result is what became of the tasks of one Enqueue call.
type Result struct {
	// Created counts the tasks this call created.
	Created int
	// AlreadyExisted counts the tasks whose name was already taken: created earlier (or by a
	// concurrent call), or executed or deleted within the service's tombstone period.
	AlreadyExisted int
	// Failed lists the tasks that could not be created, in the order they were given.
	Failed []TaskError
}

// Enqueuer creates tasks in one queue; it is safe for concurrent use.
type Enqueuer struct {
	client      *cloudtasks.Client
	queue       string
	parallelism int
	maxAttempts int
	minBackoff  time.Duration
	maxBackoff  time.Duration
	logger      *slog.Logger
	jitter      func(time.Duration) time.Duration
	// limiter paces CreateTask calls across every Enqueue call of the Enqueuer; nil: no limit.
	limiter *rate.Limiter
}

// Option configures an Enqueuer.
type Option func(*Enqueuer)

// WithParallelism bounds the CreateTask calls in flight (default DefaultParallelism).
func WithParallelism(n int) Option {
	return func(e *Enqueuer) {
		if n > 0 {
			e.parallelism = n
		}
	}
}

// WithRate paces the CreateTask calls of the Enqueuer, across all its concurrent Enqueue
// calls, to at most perSecond (with a burst of one second's worth); 0 or less means no limit.
// A queue dispatches at most its max_dispatches_per_second, so creating many times faster than
// that only grows its backlog, and the creates take CPU and API quota from the work running.
func WithRate(perSecond float64) Option {
	return func(e *Enqueuer) {
		if perSecond <= 0 {
			e.limiter = nil
			return
		}
		e.limiter = rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
	}
}

// WithMaxAttempts bounds the calls made for one task (default DefaultMaxAttempts).
func WithMaxAttempts(n int) Option {
	return func(e *Enqueuer) {
		if n > 0 {
			e.maxAttempts = n
		}
	}
}

// WithBackoff sets the first backoff and its cap (defaults DefaultMinBackoff, DefaultMaxBackoff).
func WithBackoff(minBackoff, maxBackoff time.Duration) Option {
	return func(e *Enqueuer) {
		if minBackoff > 0 {
			e.minBackoff = minBackoff
		}
		e.maxBackoff = max(maxBackoff, e.minBackoff)
	}
}

// WithLogger sets the logger; nil means slog.Default().
func WithLogger(l *slog.Logger) Option { return func(e *Enqueuer) { e.logger = l } }

// New returns an Enqueuer creating tasks in queue (projects/P/locations/L/queues/Q) with client.
func New(client *cloudtasks.Client, queue string, opts ...Option) *Enqueuer {
	e := &Enqueuer{
		client: client, queue: queue, parallelism: DefaultParallelism, maxAttempts: DefaultMaxAttempts,
		minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff, jitter: equalJitter,
	}
	for _, o := range opts {
		o(e)
	}
	if e.logger == nil {
		e.logger = slog.Default()
	}
	return e
}

// Queue returns the full name of the queue tasks are created in.
func (e *Enqueuer) Queue() string { return e.queue }

// TaskName returns the full Cloud Tasks name of the task with the given Task.Name: the queue,
// then 32 hex digits of its SHA-256. Hashing spreads names over the keyspace, which Cloud
// Tasks needs to create tasks fast, and keeps any caller's id within the allowed characters.
func (e *Enqueuer) TaskName(name string) string {
	if name == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(name))
	return e.queue + "/tasks/" + hex.EncodeToString(sum[:])[:nameHexDigits]
}

// outcome of one task.
type outcome int

const (
	created outcome = iota + 1
	existed
	failed
)

// Enqueue creates the tasks, at most WithParallelism at once. A task whose name exists counts
// as AlreadyExisted, not as a failure. The error is non-nil when any task failed; Result.Failed
// then says which and why.
func (e *Enqueuer) Enqueue(ctx context.Context, tasks []Task) (Result, error) {
	outcomes := make([]outcome, len(tasks))
	errs := make([]error, len(tasks))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(e.parallelism, len(tasks)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(tasks) {
					return
				}
				outcomes[i], errs[i] = e.create(ctx, tasks[i])
			}
		})
	}
	wg.Wait()

	var res Result
	for i, o := range outcomes {
		switch o {
		case created:
			res.Created++
		case existed:
			res.AlreadyExisted++
		default:
			res.Failed = append(res.Failed, TaskError{Name: tasks[i].Name, TaskName: e.TaskName(tasks[i].Name), Err: errs[i]})
		}
	}
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("creating %d of %d tasks in %s failed, the first: %w", len(res.Failed), len(tasks), e.queue, res.Failed[0])
	}
	return res, nil
}

// create makes one task, retrying the codes that ask for it.
func (e *Enqueuer) create(ctx context.Context, t Task) (outcome, error) {
	req := e.request(t)
	// ambiguous is set once an attempt may have reached the service and created the task
	// before failing (a deadline or a broken connection): ALREADY_EXISTS on a later attempt is
	// then most likely that attempt's task, and counting it as created keeps callers' counts of
	// created tasks exact.
	ambiguous := false
	for attempt := 1; ; attempt++ {
		if e.limiter != nil {
			if err := e.limiter.Wait(ctx); err != nil {
				return failed, fmt.Errorf("waiting for the enqueue rate: %w", err)
			}
		}
		_, err := e.client.CreateTask(ctx, req)
		code := status.Code(err)
		switch {
		case err == nil:
			return created, nil
		case code == codes.AlreadyExists && ambiguous:
			return created, nil
		case code == codes.AlreadyExists:
			return existed, nil
		case !retryable(code):
			return failed, err
		case attempt >= e.maxAttempts:
			return failed, fmt.Errorf("giving up after %d attempts: %w", attempt, err)
		}
		if code == codes.DeadlineExceeded || code == codes.Unavailable {
			ambiguous = true
		}
		d := e.jitter(e.backoff(attempt))
		e.logger.DebugContext(ctx, "backing off CreateTask", "task", req.GetTask().GetName(), "code", code.String(), "attempt", attempt, "backoff", d)
		if err := sleep(ctx, d); err != nil {
			return failed, fmt.Errorf("backing off after %s: %w", code, err)
		}
	}
}

func (e *Enqueuer) request(t Task) *cloudtaskspb.CreateTaskRequest {
	hr := &cloudtaskspb.HttpRequest{Url: t.URL, HttpMethod: cloudtaskspb.HttpMethod_POST, Headers: t.Headers, Body: t.Body}
	if t.OIDCServiceAccount != "" {
		hr.AuthorizationHeader = &cloudtaskspb.HttpRequest_OidcToken{
			OidcToken: &cloudtaskspb.OidcToken{ServiceAccountEmail: t.OIDCServiceAccount, Audience: t.OIDCAudience},
		}
	}
	pb := &cloudtaskspb.Task{Name: e.TaskName(t.Name), MessageType: &cloudtaskspb.Task_HttpRequest{HttpRequest: hr}}
	if !t.ScheduleTime.IsZero() {
		pb.ScheduleTime = timestamppb.New(t.ScheduleTime)
	}
	if t.DispatchDeadline > 0 {
		pb.DispatchDeadline = durationpb.New(t.DispatchDeadline)
	}
	return &cloudtaskspb.CreateTaskRequest{Parent: e.queue, Task: pb}
}
