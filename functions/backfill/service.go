package backfill

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	"github.com/pipelinekit/pipelinekit/shared/taskqueue"
)

// jobIDPattern is the shape of backfill.Spec.ID; anything else cannot name a job.
var jobIDPattern = regexp.MustCompile(`^bf-[0-9a-f]{16}$`)

// Service answers the backfill API; it is safe for concurrent use.
type Service struct {
	cfg   Config
	store *backfill.Store
	enq   *taskqueue.Enqueuer // the first of queues
	// queues are every backfill queue, enq first (queues.go).
	queues queues
	// control is the queue of the function's own control tasks (BACKFILL_CONTROL_QUEUE); nil
	// sends them to queues (controlEnqueue).
	control *taskqueue.Enqueuer
	log     *slog.Logger
	now     func() time.Time
	nonce   func() string
	// sweepNow is compared with the store's update times to tell a quiet job (SweepAfter).
	sweepNow func() time.Time
	// sweepJobs is how many jobs one scheduled sweep looks at (sweepJobsLimit), and how many
	// pending notices it publishes again.
	sweepJobs int
	// notices publishes job notices (notice.go); nil leaves them pending.
	notices NoticePublisher
}

// Option configures a Service.
type Option func(*Service)

// WithClock sets the clock that decides which dates are in the future (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Service) { s.now = now } }

// WithSweepClock sets the clock a sweep compares with the job's last update (default time.Now:
// the store stamps updates with its own clock, time.Now in production).
func WithSweepClock(now func() time.Time) Option { return func(s *Service) { s.sweepNow = now } }

// WithNonce sets the source of new_run nonces (default 16 random hex digits).
func WithNonce(f func() string) Option { return func(s *Service) { s.nonce = f } }

// WithMoreQueues adds the backfill queues after the first (BACKFILL_QUEUE's second name on):
// task i of a job goes to queue i mod their count.
func WithMoreQueues(more ...*taskqueue.Enqueuer) Option {
	return func(s *Service) { s.queues = append(s.queues, more...) }
}

// WithControlQueue sets the queue of the function's control tasks (BACKFILL_CONTROL_QUEUE):
// the links of fan-out chains and the steps of retry walks, which then never wait behind worker
// tasks.
func WithControlQueue(q *taskqueue.Enqueuer) Option { return func(s *Service) { s.control = q } }

// NewService returns the service over a job store and an enqueuer on the (first) backfill
// queue; a nil logger means slog.Default().
func NewService(cfg Config, store *backfill.Store, enq *taskqueue.Enqueuer, logger *slog.Logger, opts ...Option) *Service {
	s := &Service{cfg: cfg, store: store, enq: enq, queues: queues{enq}, log: logger, now: time.Now, nonce: randomNonce, sweepNow: time.Now, sweepJobs: sweepJobsLimit}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

func randomNonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// ServeHTTP routes a request. Cloud Functions serves the function at "/", the local stack at
// "/Backfill/", so an optional "/Backfill" prefix is ignored.
//
//	POST /backfills              create a job (or plan it, with dry_run)
//	GET  /backfills              list jobs, newest first (limit, page_token)
//	GET  /backfills/{id}         its status
//	POST /backfills/{id}:expand  create a range of its tasks (Cloud Tasks only)
//	POST /backfills/{id}:retry   run its failed tasks again
//	POST /backfills/{id}:cancel  cancel it
//	POST /backfills/{id}:sweep   re-enqueue or fail its shards whose task was lost (sweep.go)
//	POST /backfills:sweep        sweep every quiet planning or running job (Cloud Scheduler)
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if rest, ok := strings.CutPrefix(path, "/"+EntryPoint); ok && (rest == "" || rest[0] == '/') {
		path = rest
	}
	path = strings.TrimSuffix(path, "/")
	if path == "/backfills:sweep" {
		if allow(w, r, http.MethodPost) {
			s.sweepAll(w, r)
		}
		return
	}
	if path == "/backfills" {
		if r.Method == http.MethodGet {
			s.list(w, r)
			return
		}
		if !allow(w, r, http.MethodPost) {
			return
		}
		s.create(w, r)
		return
	}
	rest, ok := strings.CutPrefix(path, "/backfills/")
	if !ok {
		writeError(w, http.StatusNotFound, "no such route: "+r.URL.Path+"; see POST /backfills and GET /backfills/{id}")
		return
	}
	id, action, _ := strings.Cut(rest, ":")
	if !jobIDPattern.MatchString(id) {
		writeError(w, http.StatusNotFound, "no backfill job "+id)
		return
	}
	switch action {
	case "":
		if allow(w, r, http.MethodGet) {
			s.status(w, r, id)
		}
	case "expand":
		if allow(w, r, http.MethodPost) {
			s.expand(w, r, id)
		}
	case "retry":
		if allow(w, r, http.MethodPost) {
			s.retry(w, r, id)
		}
	case "cancel":
		if allow(w, r, http.MethodPost) {
			s.cancel(w, r, id)
		}
	case "sweep":
		if allow(w, r, http.MethodPost) {
			s.sweepOne(w, r, id)
		}
	default:
		writeError(w, http.StatusNotFound, "unknown action :"+action+": want :expand, :retry, :cancel or :sweep")
	}
}

// allow answers 405 unless r uses method.
func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed here: use "+method)
	return false
}

// statusURL is where a job's status is read.
func (s *Service) statusURL(id string) string { return s.cfg.BackfillURL + "/backfills/" + id }

// storeError answers a job store failure: 404 for an unknown job, else 503 (Firestore
// failures pass; for expansion tasks, a 5xx makes Cloud Tasks retry).
func (s *Service) storeError(w http.ResponseWriter, r *http.Request, id string, err error) {
	if errors.Is(err, backfill.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no backfill job "+id)
		return
	}
	s.log.ErrorContext(r.Context(), "backfill job store failed", "job_id", id, "error", err)
	writeJSON(w, http.StatusServiceUnavailable, ErrorResponse{Error: err.Error(), JobID: id})
}
