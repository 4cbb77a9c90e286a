package streamtweets

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/functest"
	"github.com/pipelinekit/pipelinekit/shared/lease"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/xstream"
	"github.com/pipelinekit/pipelinekit/shared/xstream/xstreamtest"
)

// CoverageResult is what a run of the scheduled hand-overs measured.
type CoverageResult struct {
	Posted, Received, Missed int64   // numbered tweets in [first received, last received]
	Coverage                 float64 // Received / Posted
	HandOvers                int     // reading runs minus one
	Runs, Skipped            int     // scheduled runs, and those that answered skipped
	DupsWithinRun            int     // numbers a run published twice (must be 0)
	DupsAcrossRuns           int     // numbers published by two runs (backfill only)
	MaxConcurrent            int     // stream connections open at once, as X saw them
	TooManyConnections       int     // connections X refused with 429
	MaxGap                   time.Duration
}

// coverageSetup is one simulated deployment: Scheduler starts a run every minute for span.
type coverageSetup struct {
	span     time.Duration
	every    time.Duration // one numbered tweet per every
	set      Settings
	backfill int
}

// simulateCoverage runs StreamTweets through scheduled hand-overs inside a synctest bubble: the
// clock is the bubble's, so minutes pass in milliseconds and the result does not depend on
// how busy the machine is. The local X API (over an in-memory connection, since real sockets
// would keep the bubble's clock still) posts one numbered tweet every setup.every whether or
// not anyone is connected, and refuses a second connection with 429 TooManyConnections; the
// lease is an in-memory one with the semantics of shared/lease (the Firestore lease is tested
// against the emulator by the other tests of this package). I/O takes no time on this clock,
// so the gap measured is the protocol's: the holder's release to the waiter's next poll.
func simulateCoverage(t *testing.T, cs coverageSetup) CoverageResult {
	var res CoverageResult
	synctest.Test(t, func(t *testing.T) {
		log, logs := functest.Logger()
		ln := newMemListener()
		x := xstreamtest.NewServer(xstreamtest.WithListener(ln), xstreamtest.WithNumberedStream(cs.every),
			xstreamtest.WithLogger(log))
		tr := &http.Transport{DialContext: ln.DialContext}
		defer x.Close()
		defer tr.CloseIdleConnections()
		store := &memLeaseStore{}
		set := cs.set
		set.BackfillMinutes = cs.backfill
		set.Rules = []xstream.Rule{{Value: "numbered", Tag: "numbered"}}

		type runRecord struct {
			pub *recordingPublisher
			sum Summary
			err error
		}
		var (
			mu   sync.Mutex
			runs []*runRecord
			wg   sync.WaitGroup
		)
		end := time.Now().Add(cs.span)
		for time.Now().Before(end) {
			rec := &runRecord{pub: &recordingPublisher{}}
			newClient := func(context.Context) (*xstream.Client, error) {
				return &xstream.Client{BaseURL: x.URL(), Token: x.Token(), HTTP: &http.Client{Transport: tr}, Logger: log}, nil
			}
			newLease := func(holder string) Lease { return &memLease{store: store, holder: holder} }
			s := NewStreamer(newClient, rec.pub, newLease, nil, log, set)
			mu.Lock()
			runs = append(runs, rec)
			mu.Unlock()
			wg.Go(func() { rec.sum, rec.err = s.Run(context.Background()) })
			time.Sleep(time.Minute) // Cloud Scheduler: "* * * * *"
		}
		wg.Wait()

		all := map[int64]int{}
		var firstAt []time.Time
		var lastAt []time.Time
		for i, r := range runs {
			res.Runs++
			if r.err != nil {
				t.Errorf("run %d failed: %v (summary %+v)", i, r.err, r.sum)
			}
			if r.sum.Skipped {
				res.Skipped++
				continue
			}
			if r.sum.Connections == 0 {
				t.Errorf("run %d held the lease but did not read: %s", i, r.sum.NotRead)
				continue
			}
			res.HandOvers++
			seen := map[int64]bool{}
			for _, m := range r.pub.messages() {
				if seen[m.n] {
					res.DupsWithinRun++
				}
				seen[m.n] = true
			}
			for n := range seen {
				all[n]++
			}
			msgs := r.pub.messages()
			if len(msgs) > 0 {
				firstAt = append(firstAt, msgs[0].at)
				lastAt = append(lastAt, msgs[len(msgs)-1].at)
			}
		}
		res.HandOvers-- // reading runs minus the first
		for i := 1; i < len(firstAt); i++ {
			res.MaxGap = max(res.MaxGap, firstAt[i].Sub(lastAt[i-1]))
		}
		var lo, hi int64 = -1, -1
		for n, c := range all {
			if lo < 0 || n < lo {
				lo = n
			}
			hi = max(hi, n)
			if c > 1 {
				res.DupsAcrossRuns++
			}
		}
		if len(all) > 0 {
			res.Posted = hi - lo + 1
			res.Received = int64(len(all))
			res.Missed = res.Posted - res.Received
			res.Coverage = float64(res.Received) / float64(res.Posted)
		}
		st := x.Stats()
		res.MaxConcurrent, res.TooManyConnections = st.MaxConcurrent, st.TooManyConnections
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	})
	return res
}

// coverageSettings are production's settings but for a 10-minute read window, so that ten
// hand-overs take under two simulated hours.
func coverageSettings() Settings {
	return Settings{
		Duration:     10 * time.Minute,
		Margin:       2 * time.Second,
		LeaseTTL:     DefaultLeaseTTL,
		LeaseWait:    DefaultLeaseWait,
		LeasePoll:    time.Second,
		FlushTimeout: 8 * time.Second,
		SetupTimeout: 30 * time.Second,
	}
}

// TestCoverageAcrossHandOvers: with runs every minute and each holding the stream for its read
// window, the stream is covered but for about one poll per hand-over; with backfill_minutes,
// wholly. No run publishes a number twice, and X never sees two connections.
func TestCoverageAcrossHandOvers(t *testing.T) {
	tests := []struct {
		name     string
		backfill int
		want     float64
	}{
		{"without backfill", 0, 0.995},
		{"with backfill_minutes=1", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := simulateCoverage(t, coverageSetup{span: 125 * time.Minute, every: time.Second, set: coverageSettings(), backfill: tt.backfill})
			t.Logf("%+v", res)
			if res.HandOvers < 10 {
				t.Errorf("%d hand-overs, want at least 10", res.HandOvers)
			}
			if res.Coverage < tt.want {
				t.Errorf("coverage = %.4f (%d of %d numbers), want at least %.3f", res.Coverage, res.Received, res.Posted, tt.want)
			}
			if res.DupsWithinRun != 0 {
				t.Errorf("%d numbers published twice within a run, want 0", res.DupsWithinRun)
			}
			if res.MaxConcurrent != 1 || res.TooManyConnections != 0 {
				t.Errorf("X saw %d connections at once and refused %d, want 1 and 0", res.MaxConcurrent, res.TooManyConnections)
			}
			if tt.backfill == 0 && res.DupsAcrossRuns != 0 {
				t.Errorf("%d numbers published by two runs without backfill, want 0", res.DupsAcrossRuns)
			}
		})
	}
}

// TestBusyStreamBacksOffAndConnects: a run that holds the lease but finds X's one connection
// taken (429 TooManyConnections) backs off and connects once the other connection closes,
// within its read window; one that never gets in says so in not_read.
func TestBusyStreamBacksOffAndConnects(t *testing.T) {
	for _, release := range []bool{true, false} {
		t.Run(fmt.Sprintf("other connection closes: %v", release), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				log, logs := functest.Logger()
				ln := newMemListener()
				x := xstreamtest.NewServer(xstreamtest.WithListener(ln), xstreamtest.WithNumberedStream(time.Second), xstreamtest.WithLogger(log))
				tr := &http.Transport{DialContext: ln.DialContext}
				defer x.Close()
				defer tr.CloseIdleConnections()
				// Another client of the same app holds the connection (a developer's laptop).
				otherCtx, closeOther := context.WithCancel(context.Background())
				other := &xstream.Client{BaseURL: x.URL(), Token: x.Token(), HTTP: &http.Client{Transport: tr}, Logger: log}
				done := make(chan struct{})
				go func() {
					defer close(done)
					_ = other.Stream(otherCtx, nil, func(xstream.Message) error { return nil })
				}()
				synctest.Wait()
				if release {
					time.AfterFunc(10*time.Second, closeOther)
				}
				set := coverageSettings()
				set.Duration = time.Minute
				pub := &recordingPublisher{}
				s := NewStreamer(func(context.Context) (*xstream.Client, error) {
					return &xstream.Client{BaseURL: x.URL(), Token: x.Token(), HTTP: &http.Client{Transport: tr}, Logger: log}, nil
				}, pub, func(h string) Lease { return &memLease{store: &memLeaseStore{}, holder: h} }, nil, log, set)
				sum, err := s.Run(context.Background())
				closeOther()
				<-done
				if err != nil {
					t.Errorf("Run() error = %v", err)
				}
				if release {
					// 1+2+4+8 s of backoff: connected about 15 s into the minute.
					if sum.Connections != 1 || sum.Published < 40 || sum.NotRead != "" {
						t.Errorf("Run() = %+v; want one connection, about 45 messages and no not_read", sum)
					}
				} else if sum.Connections != 0 || sum.NotRead == "" || sum.Reconnects[string(xstream.ReasonTooManyConnections)] == 0 {
					t.Errorf("Run() = %+v; want no connection and a not_read naming TooManyConnections", sum)
				} else if want := "TooManyConnections"; !strings.Contains(sum.NotRead, want) {
					t.Errorf("not_read = %q, want it to name %s", sum.NotRead, want)
				}
				if !release && len(logLines(t, logs.String(), "stream run read nothing")) != 1 {
					t.Errorf("no warning logged for a run that read nothing")
				}
				if st := x.Stats(); st.MaxConcurrent != 1 || st.TooManyConnections == 0 {
					t.Errorf("server stats %+v, want at most 1 connection and some refused", st)
				}
			})
		})
	}
}

// recordingPublisher keeps the numbered tweets a run published, confirming each at once.
type recordingPublisher struct {
	mu   sync.Mutex
	msgs []published
}

type published struct {
	n  int64
	at time.Time
}

type confirmed struct{}

func (confirmed) Get(context.Context) (string, error) { return "id", nil }

func (p *recordingPublisher) Publish(_ context.Context, m publish.Message) Confirmation {
	x, err := event.ParseX(m.Data)
	if err == nil && x.Tweet != nil {
		n, _ := strconv.ParseInt(x.Tweet.ID, 10, 64)
		p.mu.Lock()
		p.msgs = append(p.msgs, published{n: n, at: time.Now()})
		p.mu.Unlock()
	}
	return confirmed{}
}

func (p *recordingPublisher) messages() []published {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]published(nil), p.msgs...)
}

// memLeaseStore is the lease document, in memory.
type memLeaseStore struct {
	mu         sync.Mutex
	holder     string
	expires    time.Time
	generation int64
	planBy     string
	planUntil  time.Time
}

// memLease follows shared/lease's rules: taken when free, expired or ours; renewed and
// released only by its live holder; the generation grows with every new holder.
type memLease struct {
	store  *memLeaseStore
	holder string
	gen    int64
	ttl    time.Duration
}

func (l *memLease) ttlOr() time.Duration {
	if l.ttl > 0 {
		return l.ttl
	}
	return DefaultLeaseTTL
}

func (l *memLease) Acquire(context.Context) (bool, error) {
	s := l.store
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.holder != "" && now.Before(s.expires) && s.holder != l.holder {
		return false, nil
	}
	if s.holder != l.holder || !now.Before(s.expires) {
		s.generation++
	}
	s.holder, s.expires, l.gen = l.holder, now.Add(l.ttlOr()), s.generation
	return true, nil
}

func (l *memLease) renew() error {
	s := l.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder != l.holder || s.generation != l.gen || !time.Now().Before(s.expires) {
		return fmt.Errorf("held by %q: %w", s.holder, lease.ErrLost)
	}
	s.expires = time.Now().Add(l.ttlOr())
	return nil
}

func (l *memLease) Keep(ctx context.Context, interval time.Duration) <-chan error {
	lost := make(chan error, 1)
	go func() {
		defer close(lost)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := l.renew(); err != nil {
				lost <- err
				return
			}
		}
	}()
	return lost
}

func (l *memLease) Release(context.Context) error {
	s := l.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder != l.holder || s.generation != l.gen {
		return lease.ErrLost
	}
	s.holder, s.expires = "", time.Now()
	return nil
}

func (l *memLease) Generation() int64 { return l.gen }

func (l *memLease) HeldBy(context.Context) (string, time.Time, error) {
	s := l.store
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.holder, s.expires, nil
}

func (l *memLease) Announce(_ context.Context, until time.Time) error {
	s := l.store
	s.mu.Lock()
	defer s.mu.Unlock()
	s.planBy, s.planUntil = l.holder, until
	return nil
}

func (l *memLease) Planned(context.Context) (string, time.Time, error) {
	s := l.store
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.planBy, s.planUntil, nil
}

// memListener is an in-memory net.Listener: DialContext hands one end of a net.Pipe to Accept.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newMemListener() *memListener {
	return &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr{} }

func (l *memListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memAddr struct{}

func (memAddr) Network() string { return "memory" }
func (memAddr) String() string  { return "x.test:80" }

// slowLease takes delay to acquire, as the Firestore emulator does when it starts cold.
type slowLease struct {
	*memLease
	delay time.Duration
}

func (l slowLease) Acquire(ctx context.Context) (bool, error) {
	time.Sleep(l.delay)
	return l.memLease.Acquire(ctx)
}

// slowRules delays X's rules endpoint by delay and passes everything else on.
type slowRules struct {
	next  http.RoundTripper
	delay time.Duration
}

func (s slowRules) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == xstream.RulesPath {
		time.Sleep(s.delay)
	}
	return s.next.RoundTrip(r)
}

// TestReadWindowStartsAfterSetup: the read window opens once the lease is taken and the rules
// are synced, so a lease and a sync each slower than the whole window (the demo's 3 s read on a
// cold emulator) still leave the run its full window to read.
func TestReadWindowStartsAfterSetup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log, logs := functest.Logger()
		ln := newMemListener()
		x := xstreamtest.NewServer(xstreamtest.WithListener(ln), xstreamtest.WithNumberedStream(100*time.Millisecond), xstreamtest.WithLogger(log))
		defer x.Close()
		tr := &http.Transport{DialContext: ln.DialContext}
		defer tr.CloseIdleConnections()
		set := coverageSettings()
		set.Duration, set.Margin = 3*time.Second, 2*time.Second
		set.Rules = []xstream.Rule{{Value: "cat", Tag: "cats"}}
		const slow = 4 * time.Second
		pub := &recordingPublisher{}
		s := NewStreamer(func(context.Context) (*xstream.Client, error) {
			return &xstream.Client{BaseURL: x.URL(), Token: x.Token(), HTTP: &http.Client{Transport: slowRules{tr, slow}}, Logger: log}, nil
		}, pub, func(h string) Lease { return slowLease{&memLease{store: &memLeaseStore{}, holder: h}, slow} }, nil, log, set)
		// A request deadline as Cloud Run gives one: room for the setup and the window.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sum, err := s.Run(ctx)
		if err != nil {
			t.Errorf("Run() error = %v", err)
		}
		if sum.Connections != 1 || sum.NotRead != "" || sum.Rules == nil || sum.Rules.Error != "" {
			t.Errorf("Run() = %+v; want one connection, rules synced and no not_read", sum)
		}
		// The window is Duration from the end of the setup: 3 s of messages every 100 ms.
		if sum.ReadS != set.Duration.Seconds() || sum.Published < 25 {
			t.Errorf("Run() read for %.1f s and published %d; want the whole %v window, about 30 messages", sum.ReadS, sum.Published, set.Duration)
		}
		if sum.WaitedS < slow.Seconds() {
			t.Errorf("Run() waited %.1f s for the lease, want the slow lease's %v", sum.WaitedS, slow)
		}
		if lines := logLines(t, logs.String(), "stream run read nothing"); len(lines) != 0 {
			t.Errorf("warnings %v for a run that read", lines)
		}
	})
}
