package streamtweets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// ClientFactory returns a new X stream client for one run. A fresh client per run keeps the
// run's reconnect statistics its own.
type ClientFactory func(ctx context.Context) (*xstream.Client, error)

// Publisher publishes one message to the events topic; *publish.Publisher is one.
type Publisher interface {
	Publish(ctx context.Context, m publish.Message) *publish.Result
}

// Lease is one run's handle on the stream lease; *lease.Lease is one.
type Lease interface {
	Acquire(ctx context.Context) (bool, error)
	Keep(ctx context.Context, interval time.Duration) <-chan error
	Release(ctx context.Context) error
	Generation() int64
}

// LeaseFactory returns the lease handle of one run, holding it as holder.
type LeaseFactory func(holder string) Lease

// holderReader is implemented by leases that can say who holds the lease until when, for the
// answer of a skipped run.
type holderReader interface {
	HeldBy(ctx context.Context) (holder string, until time.Time, err error)
}

// Settings are what a Streamer does on each run.
type Settings struct {
	// Rules are the stream rules to sync; nil leaves the stored rules alone.
	Rules []xstream.Rule
	// Params are the stream's query parameters (tweet.fields, expansions, ...).
	Params url.Values
	// Langs are the tweet languages kept; empty keeps all.
	Langs []string
	// Duration is how long a run reads (default DefaultStreamDuration).
	Duration time.Duration
	// Margin is kept before the deadline for flushing and releasing the lease (default 2 s).
	Margin time.Duration
	// RenewEvery is the lease renewal interval (default LeaseTTL/3, or 10 s).
	RenewEvery time.Duration
	// LeaseTTL is the lease's time to live, used for the default RenewEvery.
	LeaseTTL time.Duration
	// FlushTimeout bounds the wait for Pub/Sub's confirmations after reading (default 8 s).
	FlushTimeout time.Duration
	// ForgetToken, if set, is called when X refuses the token, so the next run reads it again.
	ForgetToken func()
}

func (s Settings) withDefaults() Settings {
	if s.Duration <= 0 {
		s.Duration = DefaultStreamDuration
	}
	if s.Margin <= 0 {
		s.Margin = 2 * time.Second
	}
	if s.RenewEvery <= 0 {
		s.RenewEvery = 10 * time.Second
		if s.LeaseTTL > 0 {
			// A third of the ttl: one failed renewal does not lose the lease.
			s.RenewEvery = s.LeaseTTL / 3
		}
	}
	if s.FlushTimeout <= 0 {
		s.FlushTimeout = 8 * time.Second
	}
	return s
}

// leaseCallTimeout bounds one lease call, so that a Firestore outage fails the run instead of
// holding it to the request deadline.
const leaseCallTimeout = 10 * time.Second

// Streamer runs the stream: one run per Scheduler call.
type Streamer struct {
	newClient ClientFactory
	pub       Publisher
	newLease  LeaseFactory
	now       func() time.Time
	log       *slog.Logger
	set       Settings
	langs     map[string]bool
}

// NewStreamer returns a Streamer that reads with clients from newClient, publishes to pub and
// holds leases from newLease; now is the clock (nil means time.Now) and logger nil means
// slog.Default().
func NewStreamer(newClient ClientFactory, pub Publisher, newLease LeaseFactory, now func() time.Time, logger *slog.Logger, s Settings) *Streamer {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.Default()
	}
	st := &Streamer{newClient: newClient, pub: pub, newLease: newLease, now: now, log: logger, set: s.withDefaults()}
	if len(s.Langs) > 0 {
		st.langs = make(map[string]bool, len(s.Langs))
		for _, l := range s.Langs {
			st.langs[strings.ToLower(l)] = true
		}
	}
	return st
}

// ServeHTTP runs once and answers the Summary: 200 when the run read and published everything
// or was skipped (Scheduler must not count a skip as a failure), 500 when it failed, so that
// Scheduler shows the failure.
func (s *Streamer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sum, err := s.Run(r.Context())
	status := http.StatusOK
	var body any = sum
	switch {
	case err != nil:
		status = http.StatusInternalServerError
		sum.Error = err.Error()
		body = sum
		s.log.ErrorContext(r.Context(), "stream run failed", "error", err, "summary", sum)
	case sum.Skipped:
		body = skippedSummary{Skipped: true, Reason: sum.Reason}
		s.log.InfoContext(r.Context(), "stream run skipped", "reason", sum.Reason)
	default:
		s.log.InfoContext(r.Context(), "stream run finished", "summary", sum)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client may be gone; the summary is logged above
}

// Run takes the lease, syncs the rules, reads the stream until just before ctx's deadline or
// Settings.Duration, publishes what it read and releases the lease. A non-nil error means the
// run failed; the Summary says what was done all the same.
func (s *Streamer) Run(ctx context.Context) (Summary, error) {
	start := s.now()
	sum := newSummary()
	// Returning through finish keeps RanForS set on every path.
	finish := func(err error) (Summary, error) {
		sum.RanForS = float64(s.now().Sub(start).Milliseconds()) / 1000
		return sum, err
	}

	budget := s.set.Duration
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl))
	}
	budget -= s.set.Margin
	if budget <= 0 {
		return finish(fmt.Errorf("no time to read: the request deadline leaves less than the %s margin", s.set.Margin))
	}
	readDeadline := time.Now().Add(budget)

	holder := newHolder()
	log := s.log.With("holder", holder)
	client, err := s.newClient(ctx)
	if err != nil {
		return finish(fmt.Errorf("creating the X stream client: %w", err))
	}
	l := s.newLease(holder)
	// Not bounded by the read budget: racing runs can take seconds to settle who won, and the
	// winner then reads what is left of its budget.
	acqCtx, cancel := context.WithTimeout(ctx, leaseCallTimeout)
	ok, err := l.Acquire(acqCtx)
	cancel()
	if err != nil {
		return finish(fmt.Errorf("taking the stream lease: %w", err))
	}
	if !ok {
		sum.Skipped, sum.Reason = true, s.heldReason(ctx, l)
		return finish(nil)
	}
	sum.LeaseGeneration = l.Generation()
	log.InfoContext(ctx, "stream lease taken", "generation", sum.LeaseGeneration, "read_for", budget)

	err = s.stream(ctx, client, l, readDeadline, &sum, log)
	return finish(err)
}

// stream runs everything that happens while the lease is held, and releases it.
func (s *Streamer) stream(ctx context.Context, client *xstream.Client, l Lease, readDeadline time.Time, sum *Summary, log *slog.Logger) error {
	streamCtx, stopStream := context.WithDeadline(ctx, readDeadline)
	defer stopStream()
	// Keep renews until reading stops; if the lease is lost, reading stops at once, because
	// another run may be about to connect and X allows one connection.
	lost := l.Keep(streamCtx, s.set.RenewEvery)
	var lostErr error
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if err, ok := <-lost; ok {
			lostErr = err
			stopStream()
		}
	}()
	endKeep := func() error {
		stopStream()
		<-watchDone
		return lostErr
	}

	var errs []error
	if s.set.Rules != nil {
		rep, err := client.SyncRules(streamCtx, s.set.Rules)
		sum.Rules = rulesSummary(rep)
		switch {
		case err == nil:
		case xstream.IsPermanent(err):
			errs = append(errs, s.refused(err, sum))
		case streamCtx.Err() != nil:
			// The lease was lost or the time is up; reported below.
		default:
			// Streaming with the rules X already has beats not streaming at all.
			sum.Rules.Error = err.Error()
			log.WarnContext(ctx, "syncing stream rules failed; streaming with the stored rules", "error", err)
		}
	}

	if len(errs) == 0 && streamCtx.Err() == nil {
		run := newRun(s, client, readDeadline, log)
		err := client.Stream(streamCtx, s.set.Params, run.handle)
		if err != nil {
			if xstream.IsPermanent(err) {
				errs = append(errs, s.refused(err, sum))
			} else {
				errs = append(errs, fmt.Errorf("reading the X stream: %w", err))
			}
		}
		stats := client.Stats()
		for reason, n := range stats.Reconnects {
			sum.Reconnects[string(reason)] = n
		}
		// The connection is closed: Stream returns only after closing it.
		if err := endKeep(); err != nil {
			sum.LeaseLost = err.Error()
		}
		run.flush()
		run.counts.into(sum)
		if sum.PublishFailed > 0 {
			errs = append(errs, fmt.Errorf("%d messages could not be published (logged with their data)", sum.PublishFailed))
		}
	} else if err := endKeep(); err != nil {
		sum.LeaseLost = err.Error()
	}

	if sum.LeaseLost != "" {
		// Not released: it is no longer ours.
		errs = append(errs, fmt.Errorf("stopped reading early, the stream lease was lost: %s", sum.LeaseLost))
	} else {
		relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseCallTimeout)
		defer cancel()
		if err := l.Release(relCtx); err != nil {
			// The lease expires by itself; the next run waits for that.
			log.WarnContext(ctx, "releasing the stream lease failed", "error", err)
		}
	}
	return errors.Join(errs...)
}

// refused records X's refusal of the run (bad token, not enrolled, bad parameters).
func (s *Streamer) refused(err error, sum *Summary) error {
	sum.XError = xError(err)
	if sum.XError != nil && sum.XError.Status == http.StatusUnauthorized && s.set.ForgetToken != nil {
		s.set.ForgetToken()
	}
	return fmt.Errorf("x refused the stream: %w", err)
}

// heldReason says who holds the lease until when, as far as the lease can tell.
func (s *Streamer) heldReason(ctx context.Context, l Lease) string {
	hr, ok := l.(holderReader)
	if !ok {
		return "another run holds the stream"
	}
	rctx, cancel := context.WithTimeout(ctx, leaseCallTimeout)
	defer cancel()
	holder, until, err := hr.HeldBy(rctx)
	if err != nil {
		s.log.WarnContext(ctx, "reading the stream lease's holder", "error", err)
		return "another run holds the stream"
	}
	return fmt.Sprintf("another run holds the stream until %s (holder %s)", until.UTC().Format(time.RFC3339Nano), holder)
}

// newHolder returns an identity unique to one run: overlapping runs may share an instance.
func newHolder() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return "run-" + hex.EncodeToString(b[:])
}
