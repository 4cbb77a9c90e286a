package streamtweets

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipelinekit/pipelinekit/shared/lease"
)

// FirestoreLease is a *lease.Lease that can also say who holds the lease until when, for the
// answer of a skipped run, and record until when the holder reads, in a document beside the
// lease's (doc + "-plan"), so that runs arriving long before the hand-over need not wait.
type FirestoreLease struct {
	*lease.Lease
	doc    *firestore.DocumentRef
	plan   *firestore.DocumentRef
	holder string
}

// NewFirestoreLease returns the lease at doc (e.g. "leases/x-stream") in client, held as holder
// for ttl at a time; opts are lease.New's.
func NewFirestoreLease(client *firestore.Client, doc, holder string, ttl time.Duration, opts ...lease.Option) FirestoreLease {
	return FirestoreLease{Lease: lease.New(client, doc, holder, ttl, opts...), doc: client.Doc(doc), plan: client.Doc(doc + "-plan"), holder: holder}
}

// planRecord is the read plan of the lease's holder.
type planRecord struct {
	Holder     string    `firestore:"holder"`
	ReadsUntil time.Time `firestore:"reads_until"`
}

// Announce records that this holder reads until until. Only the lease's holder calls it, so a
// plain write is enough; a reader checks the plan's holder against the lease's.
func (l FirestoreLease) Announce(ctx context.Context, until time.Time) error {
	if l.plan == nil {
		return fmt.Errorf("lease document path is not collection/document")
	}
	if _, err := l.plan.Set(ctx, planRecord{Holder: l.holder, ReadsUntil: until}); err != nil {
		return fmt.Errorf("writing read plan %s: %w", l.plan.Path, err)
	}
	return nil
}

// Planned returns the last announced read plan; zero values when there is none.
func (l FirestoreLease) Planned(ctx context.Context) (string, time.Time, error) {
	if l.plan == nil {
		return "", time.Time{}, fmt.Errorf("lease document path is not collection/document")
	}
	snap, err := l.plan.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("reading read plan %s: %w", l.plan.Path, err)
	}
	var rec planRecord
	if err := snap.DataTo(&rec); err != nil {
		return "", time.Time{}, fmt.Errorf("decoding read plan %s: %w", l.plan.Path, err)
	}
	return rec.Holder, rec.ReadsUntil, nil
}

// HeldBy reads the lease document's holder and expiry. It reads the fields shared/lease writes
// ("holder", "expires_at"), because lease.Acquire does not say who won.
func (l FirestoreLease) HeldBy(ctx context.Context) (string, time.Time, error) {
	if l.doc == nil {
		return "", time.Time{}, fmt.Errorf("lease document path is not collection/document")
	}
	snap, err := l.doc.Get(ctx)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("reading lease %s: %w", l.doc.Path, err)
	}
	var rec struct {
		Holder    string    `firestore:"holder"`
		ExpiresAt time.Time `firestore:"expires_at"`
	}
	if err := snap.DataTo(&rec); err != nil {
		return "", time.Time{}, fmt.Errorf("decoding lease %s: %w", l.doc.Path, err)
	}
	return rec.Holder, rec.ExpiresAt, nil
}
