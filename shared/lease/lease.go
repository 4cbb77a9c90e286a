// Package lease decides in Firestore which single process may hold a
// resource, such as X's one filtered-stream connection per app that
// StreamTweets runs (every minute from Cloud Scheduler, so runs overlap).
//
// A lease is one document (e.g. leases/x-stream) with the holder, the expiry,
// when it was acquired and a generation. Every change is a compare-and-set: the
// document is read, and the write is preconditioned on it being unchanged since
// (its update time, or its absence), so two runs racing for it cannot both win,
// and no document is locked across round trips as a transaction would. The generation only
// grows (Release expires the document instead of deleting it), so it can fence
// work: a holder that finds a higher generation has been replaced.
//
// Pattern for a holder:
//
//	l := lease.New(client, "leases/x-stream", executionID, 90*time.Second, nil)
//	ok, err := l.Acquire(ctx)
//	if err != nil || !ok { return err } // another run holds the stream
//	defer l.Release(context.WithoutCancel(ctx))
//	ctx, cancel := context.WithCancel(ctx)
//	defer cancel()
//	lost := l.Keep(ctx, 30*time.Second)
//	for { select { case err := <-lost: return err /* stop reading */; case m := <-stream: ... } }
//
// Reference: docs/x-stream.md.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrLost means the lease is no longer ours: it expired, was released, or another holder took it.
var ErrLost = errors.New("lease lost")

// record is the lease document as stored in Firestore.
type record struct {
	Holder     string    `firestore:"holder"`
	ExpiresAt  time.Time `firestore:"expires_at"`
	AcquiredAt time.Time `firestore:"acquired_at"`
	Generation int64     `firestore:"generation"`
}

// Lease is one would-be holder's handle on a lease document; its methods are safe for concurrent use.
type Lease struct {
	client *firestore.Client
	path   string
	holder string
	ttl    time.Duration
	now    func() time.Time
	logger *slog.Logger

	mu         sync.Mutex
	generation int64     // of our current or last hold; 0 before the first
	expiresAt  time.Time // of our current hold; zero when not held
}

// Option configures a Lease.
type Option func(*Lease)

// WithClock replaces time.Now for deciding expiry, so tests can move time.
func WithClock(now func() time.Time) Option {
	return func(l *Lease) { l.now = now }
}

// WithLogger sets the logger; nil means slog.Default().
func WithLogger(logger *slog.Logger) Option {
	return func(l *Lease) {
		if logger != nil {
			l.logger = logger
		}
	}
}

// New returns a handle on the lease document at doc (e.g. "leases/x-stream")
// for holder, which must be unique to this process or run (an execution id):
// two handles with the same holder both count as holding it.
func New(client *firestore.Client, doc string, holder string, ttl time.Duration, opts ...Option) *Lease {
	l := &Lease{client: client, path: doc, holder: holder, ttl: ttl, now: time.Now, logger: slog.Default()}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Holder returns the identity this handle holds the lease as.
func (l *Lease) Holder() string { return l.holder }

// Generation returns the generation of our current (or last) hold, 0 if we never held it;
// it increases with every new acquisition by anyone, so it can fence stale holders.
func (l *Lease) Generation() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.generation
}

// ExpiresAt returns when our current hold expires by the lease's clock, zero if we do not hold it.
func (l *Lease) ExpiresAt() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expiresAt
}

func (l *Lease) doc() (*firestore.DocumentRef, error) {
	d := l.client.Doc(l.path)
	if d == nil {
		return nil, fmt.Errorf("lease document path %q is not collection/document", l.path)
	}
	return d, nil
}

// Acquire takes the lease if it is absent, expired, or already ours, and
// reports whether we now hold it; false with a nil error means another holder
// has it.
func (l *Lease) Acquire(ctx context.Context) (bool, error) {
	doc, err := l.doc()
	if err != nil {
		return false, err
	}
	var got record
	var won bool
	err = l.cas(ctx, doc, func(cur record, exists bool) (*record, error) {
		won = false
		now := l.now()
		live := exists && now.Before(cur.ExpiresAt)
		switch {
		case live && cur.Holder == l.holder:
			// Ours already: extend it; the same hold keeps its generation.
			got = cur
		case live:
			got = cur
			return nil, nil
		default:
			got = record{Holder: l.holder, AcquiredAt: now, Generation: cur.Generation + 1}
		}
		got.ExpiresAt = now.Add(l.ttl)
		won = true
		return &got, nil
	})
	if err != nil {
		return false, fmt.Errorf("acquiring lease %s for %s: %w", l.path, l.holder, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !won {
		l.expiresAt = time.Time{}
		l.logger.Debug("lease held by another", "lease", l.path, "holder", got.Holder, "expires_at", got.ExpiresAt)
		return false, nil
	}
	if got.Generation != l.generation {
		l.logger.Info("lease acquired", "lease", l.path, "holder", l.holder, "generation", got.Generation)
	}
	l.generation, l.expiresAt = got.Generation, got.ExpiresAt
	return true, nil
}

// Renew extends our hold by the ttl from now; it returns an error wrapping
// ErrLost if the lease is no longer ours (expired, released or taken).
func (l *Lease) Renew(ctx context.Context) error {
	doc, err := l.doc()
	if err != nil {
		return err
	}
	gen := l.Generation()
	var expires time.Time
	err = l.cas(ctx, doc, func(cur record, exists bool) (*record, error) {
		if err := l.checkOurs(cur, exists, gen); err != nil {
			return nil, err
		}
		cur.ExpiresAt = l.now().Add(l.ttl)
		expires = cur.ExpiresAt
		return &cur, nil
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	if errors.Is(err, ErrLost) {
		l.expiresAt = time.Time{}
	}
	if err != nil {
		return fmt.Errorf("renewing lease %s for %s: %w", l.path, l.holder, err)
	}
	l.expiresAt = expires
	return nil
}

// Release gives the lease up if it is ours, so the next run need not wait for
// the expiry; it expires the document rather than deleting it so the
// generation keeps growing. Releasing a lease we do not hold returns ErrLost.
func (l *Lease) Release(ctx context.Context) error {
	doc, err := l.doc()
	if err != nil {
		return err
	}
	gen := l.Generation()
	err = l.cas(ctx, doc, func(cur record, exists bool) (*record, error) {
		if err := l.checkOurs(cur, exists, gen); err != nil {
			return nil, err
		}
		cur.Holder = ""
		cur.ExpiresAt = l.now()
		return &cur, nil
	})
	l.mu.Lock()
	l.expiresAt = time.Time{}
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("releasing lease %s for %s: %w", l.path, l.holder, err)
	}
	l.logger.Info("lease released", "lease", l.path, "holder", l.holder, "generation", gen)
	return nil
}

// checkOurs checks that cur is our live hold of generation gen.
func (l *Lease) checkOurs(cur record, exists bool, gen int64) error {
	switch {
	case gen == 0:
		return fmt.Errorf("never acquired: %w", ErrLost)
	case !exists:
		return fmt.Errorf("document gone: %w", ErrLost)
	case cur.Holder != l.holder || cur.Generation != gen:
		return fmt.Errorf("now held by %q at generation %d, ours was %d: %w", cur.Holder, cur.Generation, gen, ErrLost)
	case !l.now().Before(cur.ExpiresAt):
		return fmt.Errorf("expired at %s: %w", cur.ExpiresAt.Format(time.RFC3339Nano), ErrLost)
	}
	return nil
}

// cas reads the lease document and asks decide what to write (nil: nothing); the write is
// preconditioned on the document being as read (absent, or at the update time read). When
// another holder wrote in between, the precondition fails and nothing is written; cas then
// reads again, until ctx ends: every lost round means a racer's write landed, after which the
// others read a live lease held by someone else and stop.
func (l *Lease) cas(ctx context.Context, doc *firestore.DocumentRef, decide func(cur record, exists bool) (*record, error)) error {
	for {
		snap, err := doc.Get(ctx)
		exists := true
		var cur record
		switch {
		case status.Code(err) == codes.NotFound:
			exists = false
		case err != nil:
			return fmt.Errorf("reading %s: %w", doc.Path, err)
		default:
			if err := snap.DataTo(&cur); err != nil {
				return fmt.Errorf("decoding %s: %w", doc.Path, err)
			}
		}
		next, err := decide(cur, exists)
		if err != nil || next == nil {
			return err
		}
		if exists {
			_, err = doc.Update(ctx, []firestore.Update{
				{Path: "holder", Value: next.Holder}, {Path: "expires_at", Value: next.ExpiresAt},
				{Path: "acquired_at", Value: next.AcquiredAt}, {Path: "generation", Value: next.Generation},
			}, firestore.LastUpdateTime(snap.UpdateTime))
		} else {
			_, err = doc.Create(ctx, next)
		}
		switch status.Code(err) {
		case codes.OK:
			return nil
		case codes.FailedPrecondition, codes.AlreadyExists, codes.NotFound, codes.Aborted:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			l.logger.Debug("lease changed under us, reading it again", "lease", l.path, "error", err)
		default:
			return fmt.Errorf("writing %s: %w", doc.Path, err)
		}
	}
}
