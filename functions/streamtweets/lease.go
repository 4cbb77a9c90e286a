package streamtweets

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/lease"
)

// FirestoreLease is a *lease.Lease that can also say who holds the lease until when, for the
// answer of a skipped run.
type FirestoreLease struct {
	*lease.Lease
	doc *firestore.DocumentRef
}

// NewFirestoreLease returns the lease at doc (e.g. "leases/x-stream") in client, held as holder
// for ttl at a time; opts are lease.New's.
func NewFirestoreLease(client *firestore.Client, doc, holder string, ttl time.Duration, opts ...lease.Option) FirestoreLease {
	return FirestoreLease{Lease: lease.New(client, doc, holder, ttl, opts...), doc: client.Doc(doc)}
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
