package streamtweets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/xstream"
)

// ClientFactory returns a new X stream client for one run. A fresh client per run keeps the
// run's reconnect statistics its own.
type ClientFactory func(ctx context.Context) (*xstream.Client, error)

// Publisher publishes one message to the events topic; PubSub adapts a *publish.Publisher.
type Publisher interface {
	Publish(ctx context.Context, m publish.Message) Confirmation
}

// Confirmation is the outcome of one Publish; *publish.Result is one.
type Confirmation interface {
	// Get waits for the server's answer and returns the message id.
	Get(ctx context.Context) (string, error)
}

// PubSub adapts p to Publisher.
func PubSub(p *publish.Publisher) Publisher { return pubsubPublisher{p} }

type pubsubPublisher struct{ p *publish.Publisher }

func (p pubsubPublisher) Publish(ctx context.Context, m publish.Message) Confirmation {
	return p.p.Publish(ctx, m)
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

// planner is implemented by leases that can record until when the holder means to read, so
// that a run arriving long before the hand-over answers skipped at once instead of waiting.
type planner interface {
	// Announce records that holder reads until until.
	Announce(ctx context.Context, until time.Time) error
	// Planned returns the last announcement: who reads until when (zero values if none).
	Planned(ctx context.Context) (holder string, until time.Time, err error)
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
	// LeaseWait is how long a run waits for a held lease to be released before it answers
	// skipped (default DefaultLeaseWait); negative means not at all. It must exceed the
	// schedule's period, so that a run is always waiting when the holder hands over.
	LeaseWait time.Duration
	// LeasePoll is how often a waiting run tries the lease (default 1 s): the hand-over gap
	// is at most this plus one reconnect.
	LeasePoll time.Duration
	// SetupTimeout bounds each attempt to take the lease, and the rules sync, which runs after
	// the lease is taken and before the read window starts (default 30 s each).
	SetupTimeout time.Duration
	// BackfillMinutes asks X to replay up to this many minutes on every connection (0 to 5;
	// only some access levels allow it); messages the run already had are not published twice.
	BackfillMinutes int
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
	if s.LeaseWait == 0 {
		s.LeaseWait = DefaultLeaseWait
	}
	if s.LeasePoll <= 0 {
		s.LeasePoll = time.Second
	}
	if s.SetupTimeout <= 0 {
		s.SetupTimeout = 30 * time.Second
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
		s.log.ErrorContext(r.Context(), "stream run failed", "error", err, "summary", sum, "outcome", sum.outcome(), "cause", notReadCause(sum, err))
	case sum.Skipped:
		body = skippedSummary{Skipped: true, Reason: sum.Reason}
		s.log.InfoContext(r.Context(), "stream run skipped", "reason", sum.Reason, "outcome", sum.outcome())
	default:
		s.log.InfoContext(r.Context(), "stream run finished", "summary", sum, "outcome", sum.outcome(), "cause", notReadCause(sum, nil))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body) // the client may be gone; the summary is logged above
}

// Run takes the lease (waiting up to Settings.LeaseWait for the holder to hand it over),
// syncs the rules, reads the stream for Settings.Duration from then on (or until just before
// ctx's deadline), releases the lease and publishes what it read. A non-nil error means the run
// failed; the Summary says what was done all the same.
//
// Every deadline starts when the work it bounds starts: waiting for the lease has its own
// budget, the rules sync has its own, and the read window opens only once both are done, so a
// slow Firestore or X does not eat the time to read.
func (s *Streamer) Run(ctx context.Context) (Summary, error) {
	start := s.now()
	sum := newSummary()
	// Returning through finish keeps RanForS set on every path.
	finish := func(err error) (Summary, error) {
		sum.RanForS = float64(s.now().Sub(start).Milliseconds()) / 1000
		return sum, err
	}
	if _, err := s.readWindow(ctx); err != nil {
		return finish(err)
	}

	holder := newHolder()
	log := s.log.With("holder", holder)
	client, err := s.newClient(ctx)
	if err != nil {
		return finish(fmt.Errorf("creating the X stream client: %w", err))
	}
	l := s.newLease(holder)
	ok, reason, err := s.acquire(ctx, l, holder)
	if err != nil {
		return finish(fmt.Errorf("taking the stream lease: %w", err))
	}
	if !ok {
		sum.Skipped, sum.Reason = true, reason
		return finish(nil)
	}
	sum.LeaseGeneration = l.Generation()
	sum.WaitedS = float64(s.now().Sub(start).Milliseconds()) / 1000
	log.InfoContext(ctx, "stream lease taken", "generation", sum.LeaseGeneration, "waited_s", sum.WaitedS)

	err = s.stream(ctx, client, l, &sum, log)
	if sum.NotRead != "" {
		log.WarnContext(ctx, "stream run read nothing", "why", sum.NotRead, "cause", notReadCause(sum, err))
	}
	return finish(err)
}

// readWindow returns how long a run may read from now: Settings.Duration, or less when ctx's
// deadline leaves less (minus the margin kept for flushing and releasing).
func (s *Streamer) readWindow(ctx context.Context) (time.Duration, error) {
	budget := s.set.Duration
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)-s.set.Margin)
	}
	if budget <= 0 {
		return 0, fmt.Errorf("no time to read: the request deadline leaves less than the %s margin", s.set.Margin)
	}
	return budget, nil
}

// acquire takes the lease, waiting for the holder to hand it over when the holder means to
// stop reading within Settings.LeaseWait. It reports ok=false with the reason when another run
// keeps it.
func (s *Streamer) acquire(ctx context.Context, l Lease, holder string) (ok bool, reason string, err error) {
	waitUntil := time.Now().Add(s.set.LeaseWait)
	p, _ := l.(planner)
	for first := true; ; first = false {
		if !first {
			// Waiting polls with plain reads and tries the transaction only once the lease is
			// free: transactions of waiting runs would contend with the holder's renewals and
			// with each other, and slow the hand-over down.
			if by, until, err := s.holder(ctx, l); err == nil && by != "" && time.Now().Before(until) {
				if !time.Now().Add(s.set.LeasePoll).Before(waitUntil) {
					return false, s.heldReason(ctx, l), nil
				}
				if !sleepCtx(ctx, s.set.LeasePoll) {
					return false, s.heldReason(context.WithoutCancel(ctx), l), nil
				}
				continue
			}
		}
		// Its own budget, not the read window's: racing runs can take seconds to settle who
		// won, and a cold or busy Firestore more than the other lease calls' 10 s.
		actx, cancel := context.WithTimeout(ctx, s.set.SetupTimeout)
		ok, err := l.Acquire(actx)
		cancel()
		if err != nil || ok {
			return ok, "", err
		}
		if first && p != nil && s.set.LeaseWait > 0 {
			// A holder that reads long past our wait: skip now rather than wait for nothing.
			pctx, cancel := context.WithTimeout(ctx, leaseCallTimeout)
			by, until, perr := p.Planned(pctx)
			cancel()
			cur, _, herr := s.holder(ctx, l)
			if perr == nil && herr == nil && by != "" && by == cur && until.After(waitUntil) {
				return false, fmt.Sprintf("another run reads the stream until %s (holder %s)", until.UTC().Format(time.RFC3339Nano), by), nil
			}
		}
		if s.set.LeaseWait < 0 || !time.Now().Add(s.set.LeasePoll).Before(waitUntil) {
			return false, s.heldReason(ctx, l), nil
		}
		if !sleepCtx(ctx, s.set.LeasePoll) {
			return false, s.heldReason(context.WithoutCancel(ctx), l), nil
		}
	}
}

// sleepCtx waits d and reports true, or false as soon as ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// holder reads who holds the lease, if the lease can tell.
func (s *Streamer) holder(ctx context.Context, l Lease) (string, time.Time, error) {
	hr, ok := l.(holderReader)
	if !ok {
		return "", time.Time{}, errors.New("the lease cannot say who holds it")
	}
	rctx, cancel := context.WithTimeout(ctx, leaseCallTimeout)
	defer cancel()
	return hr.HeldBy(rctx)
}

// stream runs everything that happens while the lease is held, and releases it.
func (s *Streamer) stream(ctx context.Context, client *xstream.Client, l Lease, sum *Summary, log *slog.Logger) error {
	leaseCtx, stopLease := context.WithCancel(ctx)
	defer stopLease()
	// Keep renews until reading stops; if the lease is lost, everything stops at once, because
	// another run may be about to connect and X allows one connection.
	lost := l.Keep(leaseCtx, s.set.RenewEvery)
	var lostErr error
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		if err, ok := <-lost; ok {
			lostErr = err
			stopLease()
		}
	}()
	endKeep := func() error {
		stopLease()
		<-watchDone
		return lostErr
	}

	var errs []error
	if s.set.Rules != nil {
		// The sync has its own budget, before the read window opens.
		syncCtx, cancel := context.WithTimeout(leaseCtx, s.set.SetupTimeout)
		rep, err := client.SyncRules(syncCtx, s.set.Rules)
		cancel()
		sum.Rules = rulesSummary(rep)
		switch {
		case err == nil:
		case xstream.IsPermanent(err):
			errs = append(errs, s.refused(err, sum))
		case leaseCtx.Err() != nil:
			// The lease was lost or the request ended; reported below.
		default:
			// Streaming with the rules X already has beats not streaming at all.
			sum.Rules.Error = err.Error()
			log.WarnContext(ctx, "syncing stream rules failed; streaming with the stored rules", "error", err)
		}
	}

	var run *run
	if len(errs) == 0 && leaseCtx.Err() == nil {
		budget, err := s.readWindow(ctx)
		if err != nil {
			errs = append(errs, err)
		} else {
			run = s.read(ctx, leaseCtx, client, l, budget, sum, log, &errs)
		}
	}
	if err := endKeep(); err != nil {
		sum.LeaseLost = err.Error()
	}
	if sum.LeaseLost != "" {
		// Not released: it is no longer ours.
		errs = append(errs, fmt.Errorf("stopped reading early, the stream lease was lost: %s", sum.LeaseLost))
	} else {
		// Released before the publish flush: the connection is closed, and the next run can
		// connect while this one waits for Pub/Sub's confirmations.
		relCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaseCallTimeout)
		if err := l.Release(relCtx); err != nil {
			// The lease expires by itself; the next run waits for that.
			log.WarnContext(ctx, "releasing the stream lease failed", "error", err)
		}
		cancel()
	}
	if run != nil {
		run.flush()
		run.counts.into(sum)
		if sum.PublishFailed > 0 {
			errs = append(errs, fmt.Errorf("%d messages could not be published (logged with their data)", sum.PublishFailed))
		}
	}
	if sum.Connections == 0 && sum.NotRead == "" {
		sum.NotRead = notRead(errs, sum)
	}
	return errors.Join(errs...)
}

// read opens the read window (budget from now), announces it, and reads until it closes or
// the lease is lost. The returned run still has to be flushed.
func (s *Streamer) read(ctx, leaseCtx context.Context, client *xstream.Client, l Lease, budget time.Duration, sum *Summary, log *slog.Logger, errs *[]error) *run {
	readDeadline := time.Now().Add(budget)
	streamCtx, stopStream := context.WithDeadline(leaseCtx, readDeadline)
	defer stopStream()
	if p, ok := l.(planner); ok {
		actx, cancel := context.WithTimeout(streamCtx, leaseCallTimeout)
		if err := p.Announce(actx, readDeadline); err != nil {
			// Only costs the next runs a wait: they poll until their own budget ends.
			log.WarnContext(ctx, "announcing the read window failed", "error", err)
		}
		cancel()
	}
	log.InfoContext(ctx, "reading the stream", "read_for", budget, "until", readDeadline)
	run := newRun(s, client, readDeadline, log)
	params := s.set.Params
	if s.set.BackfillMinutes > 0 {
		params = maps.Clone(params)
		if params == nil {
			params = url.Values{}
		}
		params.Set("backfill_minutes", strconv.Itoa(s.set.BackfillMinutes))
	}
	if err := client.Stream(streamCtx, params, run.handle); err != nil {
		if xstream.IsPermanent(err) {
			*errs = append(*errs, s.refused(err, sum))
		} else {
			*errs = append(*errs, fmt.Errorf("reading the X stream: %w", err))
		}
	}
	sum.ReadS = float64(budget.Milliseconds()-max(0, time.Until(readDeadline).Milliseconds())) / 1000
	stats := client.Stats()
	sum.Connections = stats.Connections
	for reason, n := range stats.Reconnects {
		sum.Reconnects[string(reason)] = n
	}
	if stats.Connections == 0 {
		switch {
		case stats.Reconnects[xstream.ReasonTooManyConnections] > 0:
			sum.NotRead = fmt.Sprintf("X kept the stream busy for the whole read window (%d times 429 TooManyConnections): another connection of this app is open", stats.Reconnects[xstream.ReasonTooManyConnections])
		case len(stats.Reconnects) > 0:
			sum.NotRead = fmt.Sprintf("no connection to the X stream in the read window (reconnects: %v)", stats.Reconnects)
		}
	}
	return run
}

// notRead says why a run that held the lease never connected.
func notRead(errs []error, sum *Summary) string {
	switch {
	case sum.LeaseLost != "":
		return "the stream lease was lost before reading: " + sum.LeaseLost
	case len(errs) > 0:
		return "the run failed before reading: " + errors.Join(errs...).Error()
	}
	return "the read window closed before a connection was made"
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
	holder, until, err := s.holder(ctx, l)
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
