package rankings

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
)

// Key pages: where the log layout finds a key's applications (log.go).
//
// A key's applications are listed in one page document, whose id every copy of the event
// computes alike: the second every copy shares (a tweet's creation second, read from its id;
// an app event's publish second, which a redelivery of its message keeps) and a hash of the key
// modulo KeyPages. A commit adds, to the page of each key it writes, the application's id
// (record and index) under the key's hash, with a merge that never conflicts (no precondition);
// a look-up reads the pages of a group's keys by id (a few documents a group). Ids and reads by
// id rather than queries: a query over the records' arrays is what Firestore indexes, but the
// emulator scans it, and a group's look-up took seconds there.
//
// Bounds: a page holds one second of a quarter of the keys (KeyPages 4), at about 80 bytes an
// application: 512 KiB holds 6,500, so the default holds about 26,000 events a second whose
// copies share a second. Two copies of an app event published in different seconds are not
// found by each other (a client's resend, which CollectEvents' dedup drops within its window);
// a redelivery of one message always is.

// twitterEpochMs is the time a tweet id counts from (X's Snowflake ids: milliseconds since
// 2010-11-04T01:42:54.657Z in the bits above 22).
const twitterEpochMs = 1288834974657

// keySecond is the second every copy of the event of key shares: a tweet's creation second
// from its id (0 for an id that is no number), an app event's publish second.
func keySecond(key string, publish time.Time) int64 {
	if id, ok := strings.CutPrefix(key, "t:"); ok {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			return 0
		}
		return (int64(n>>22) + twitterEpochMs) / 1000
	}
	return publish.Unix()
}

// keyAt is a key and the second its page is found by.
type keyAt struct {
	Key    string
	Second int64
}

func (e logEvent) at() keyAt { return keyAt{Key: e.Key, Second: keySecond(e.Key, e.PublishTime)} }

// pageRef is the page listing k's applications.
func (s *Store) pageRef(k keyAt) *firestore.DocumentRef {
	h := sha256.Sum256([]byte(k.Key))
	return s.c.Collection(s.o.Collections.Keys).Doc(fmt.Sprintf("%d.%d", k.Second, int(h[0])%s.o.KeyPages))
}

// Entry flags: what an application of a key is.
const (
	pageCounts = 1 // an event that counts (unless reconciled out)
	pageDelete = 2 // a delete of the tweet
)

// pageWrites are a commit's additions to pages: page path, key hash, application id, flag.
type pageWrites map[string]*pageWrite

type pageWrite struct {
	ref     *firestore.DocumentRef
	entries map[string]map[string]any
	bytes   int
}

func (p pageWrites) add(ref *firestore.DocumentRef, kh, appID string, flag int) {
	w := p[ref.Path]
	if w == nil {
		w = &pageWrite{ref: ref, entries: map[string]map[string]any{}, bytes: len(ref.Path) + 64}
		p[ref.Path] = w
	}
	if w.entries[kh] == nil {
		w.entries[kh] = map[string]any{}
		w.bytes += len(kh) + 16
	}
	w.entries[kh][appID] = flag
	w.bytes += len(appID) + 24
}

// set adds w to wb: a merge, so the page keeps every other entry.
func (w *pageWrite) set(wb *firestore.WriteBatch, expires time.Time) {
	a := map[string]any{}
	for kh, apps := range w.entries {
		a[kh] = apps
	}
	wb.Set(w.ref, map[string]any{"a": a, "expires_at": expires}, firestore.MergeAll)
}

// pageEntries reads the pages of keys and returns each key's entries: application id, flag.
func (s *Store) pageEntries(ctx context.Context, keys []keyAt) (map[string]map[string]int64, error) {
	refs := map[string]*firestore.DocumentRef{}
	for _, k := range keys {
		r := s.pageRef(k)
		refs[r.Path] = r
	}
	list := make([]*firestore.DocumentRef, 0, len(refs))
	for _, r := range refs {
		list = append(list, r)
	}
	out := map[string]map[string]int64{}
	if len(list) == 0 {
		return out, nil
	}
	snaps, err := s.c.GetAll(ctx, list)
	if err != nil {
		return nil, fmt.Errorf("reading %d ranking key pages: %w", len(list), err)
	}
	pages := map[string]map[string]map[string]int64{}
	for _, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		var d struct {
			A map[string]map[string]int64 `firestore:"a"`
		}
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("decoding ranking key page %s: %w", snap.Ref.ID, err)
		}
		pages[snap.Ref.Path] = d.A
	}
	for _, k := range keys {
		if e := pages[s.pageRef(k).Path][hashKey(k.Key)]; len(e) > 0 {
			out[k.Key] = e
		}
	}
	return out, nil
}
