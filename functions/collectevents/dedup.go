package collectevents

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// Key names an event for dedup: ids are unique within an app, so one app's ids never hide
// another's events.
type Key struct {
	App string // event.AppEvent.AppName: never empty
	ID  string
}

// Deduper remembers which events (app and id) were published, so that an event an app sends
// again is published once. The collector asks Seen before publishing and calls Mark only for the ids whose
// publish succeeded: an id is never marked for an event that was not published, so dedup can
// never lose an event. A crash between publish and Mark lets a resend publish a second copy,
// which the loader's dedup view (keyed by app and event id) absorbs.
type Deduper interface {
	// Seen returns which of keys were marked and have not expired as of now.
	Seen(ctx context.Context, keys []Key, now time.Time) (map[Key]bool, error)
	// Mark records keys as published at now.
	Mark(ctx context.Context, keys []Key, now time.Time) error
}

// FirestoreDeduper is the production Deduper: one document per app and id, in a collection whose
// expires_at field drives a Firestore TTL policy (set by Terraform).
type FirestoreDeduper struct {
	client     *firestore.Client
	collection string
	ttl        time.Duration
}

// NewFirestoreDeduper returns a Deduper keeping ids in collection for ttl.
func NewFirestoreDeduper(client *firestore.Client, collection string, ttl time.Duration) *FirestoreDeduper {
	return &FirestoreDeduper{client: client, collection: collection, ttl: ttl}
}

// ExpiresAtField is the field of a seen-id document that the Firestore TTL policy reads.
const ExpiresAtField = "expires_at"

// seenDoc is the document stored for a published event.
type seenDoc struct {
	// App is absent in documents of the default app, as in those written before apps existed.
	App       string    `firestore:"app,omitempty"`
	EventID   string    `firestore:"event_id"`
	SeenAt    time.Time `firestore:"seen_at"`
	ExpiresAt time.Time `firestore:"expires_at"`
}

// getAllChunk bounds one BatchGetDocuments call.
const getAllChunk = 500

// docID is the document id of an event: the SHA-256 of its id in hex (ids may contain "/" or be
// otherwise unfit as document ids), prefixed with "<app>." for an app other than the default.
// The default app's documents keep the bare hash they had before apps existed, so its marks
// made then still count. The two forms never meet: a hash has no ".", an app name has none
// either, so the first "." ends the app.
func docID(k Key) string {
	sum := sha256.Sum256([]byte(k.ID))
	h := hex.EncodeToString(sum[:])
	if k.App == event.DefaultApp {
		return h
	}
	return k.App + "." + h
}

func (d *FirestoreDeduper) doc(k Key) *firestore.DocumentRef {
	return d.client.Collection(d.collection).Doc(docID(k))
}

// Seen reads the documents of ids. A document whose expires_at has passed counts as unseen:
// Firestore deletes expired documents only eventually, often a day or more later.
func (d *FirestoreDeduper) Seen(ctx context.Context, keys []Key, now time.Time) (map[Key]bool, error) {
	seen := make(map[Key]bool)
	for start := 0; start < len(keys); start += getAllChunk {
		chunk := keys[start:min(start+getAllChunk, len(keys))]
		refs := make([]*firestore.DocumentRef, len(chunk))
		for i, id := range chunk {
			refs[i] = d.doc(id)
		}
		snaps, err := d.client.GetAll(ctx, refs)
		if err != nil {
			return nil, fmt.Errorf("reading %d seen-id documents from %s: %w", len(refs), d.collection, err)
		}
		for i, snap := range snaps {
			if !snap.Exists() {
				continue
			}
			var doc seenDoc
			if err := snap.DataTo(&doc); err != nil {
				return nil, fmt.Errorf("decoding seen-id document %s: %w", snap.Ref.Path, err)
			}
			if doc.ExpiresAt.After(now) {
				seen[chunk[i]] = true
			}
		}
	}
	return seen, nil
}

// Mark writes the documents of ids in one BulkWriter batch. It sets rather than creates: a
// document left behind after its expiry (TTL deletion lags) must be overwritten, and a document
// another request just wrote for the same id is equally well overwritten, since both requests
// published the event already.
func (d *FirestoreDeduper) Mark(ctx context.Context, keys []Key, now time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	bw := d.client.BulkWriter(ctx)
	jobs := make([]*firestore.BulkWriterJob, 0, len(keys))
	// Only the first error is kept: the rest of a failed batch usually fail the same way.
	var first error
	failed := 0
	for _, k := range keys {
		doc := seenDoc{EventID: k.ID, SeenAt: now.UTC(), ExpiresAt: now.Add(d.ttl).UTC()}
		if k.App != event.DefaultApp {
			doc.App = k.App
		}
		job, err := bw.Set(d.doc(k), doc)
		if err != nil {
			failed++
			first = cmp.Or(first, err)
			continue
		}
		jobs = append(jobs, job)
	}
	bw.End()
	for _, job := range jobs {
		if _, err := job.Results(); err != nil {
			failed++
			first = cmp.Or(first, err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("marking %d of %d event ids seen in %s, first error: %w", failed, len(keys), d.collection, first)
	}
	return nil
}
