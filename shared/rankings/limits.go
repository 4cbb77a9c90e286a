package rankings

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Firestore's limits (https://cloud.google.com/firestore/quotas), and the budgets the store keeps
// under them by construction, whatever the events hold: a write that passes a limit fails the
// whole commit, and Pub/Sub would deliver every event of the group again, forever.
const (
	// maxDocBytes is "Maximum size for a document: 1 MiB (1,048,576 bytes)", as computed by
	// https://cloud.google.com/firestore/docs/storage-size (docSize).
	maxDocBytes = 1 << 20
	// maxFieldNameBytes is both "Maximum size of a field name" and "of a field path": 1,500 bytes.
	maxFieldNameBytes = 1500
	// maxIndexEntries is "Maximum number of index entries for each document: 40,000".
	maxIndexEntries = 40000
	// maxDocTransforms is "Maximum number of field transformations that can be performed on a
	// single document in a Commit operation or in a transaction: 500"; an Increment is one.
	maxDocTransforms = 500
	// maxRequestBytes is "Maximum API request size: 10 MiB".
	maxRequestBytes = 10 << 20
	// maxWrites is the writes per commit Firestore documented for years (500); the quotas page
	// now bounds a commit by its size alone, and 500 stays a safe bound.
	maxWrites = 500
)

// The store's budgets, each well inside the limit above it (counters.go explains the counters').
const (
	// maxKeyBytes is the longest ranking key (hashtag, tweet id, query, item id) and user id the
	// store keeps: an app event is at most 64 KiB whole (event.MaxAppEventBytes), so no app
	// event's key is longer; a tweet (a message of up to 4 MiB) with a longer one is rejected.
	maxKeyBytes = 64 << 10
	// maxCountsPerEvent bounds what one event adds to: 3 increments per key (one per bucket
	// size), so an event alone is at most 3,000 increments over at least 8 counter documents.
	maxCountsPerEvent = 1000
	// maxMarkerBytes is the largest marker document (docSize) the store writes: half a document,
	// so a tweet's content (text, hashtags, where it counted) always fits with room to spare.
	maxMarkerBytes = 512 << 10
	// commitBytesBudget is what the store lets one commit's request carry, by an upper estimate
	// of each write (wireBytes). The emulator takes no gRPC message over 4 MiB, less than
	// production's 10 MiB; one event alone is at most about 2.9 MiB (maxMarkerBytes for its
	// marker, and its keys, which the marker holds, as labels in 3 bucket sizes).
	commitBytesBudget = 3<<20 + 512<<10
)

// rejectedError says an event can never be stored within Firestore's limits.
type rejectedError struct{ reason string }

func (e *rejectedError) Error() string { return "the event can never be stored: " + e.reason }

// check returns why e can never be stored within the budgets (an *rejectedError), or nil. Every
// bound is on what the event itself carries, so the answer never changes: such an event is
// acknowledged and logged, not redelivered.
func (s *Store) check(e Entry, now time.Time) error {
	reject := func(format string, args ...any) error {
		return &rejectedError{reason: fmt.Sprintf(format, args...)}
	}
	if len(e.Counts) > maxCountsPerEvent {
		return reject("%d ranking keys, over the limit of %d", len(e.Counts), maxCountsPerEvent)
	}
	for _, c := range e.Counts {
		if !c.Ranking.Valid() {
			return reject("unknown ranking %.40q", c.Ranking)
		}
		if err := checkKey("ranking key", c.Key); err != nil {
			return err
		}
	}
	if v := e.View; v != nil {
		if err := checkKey("user id", v.UserID); err != nil {
			return err
		}
		if err := checkKey("item id", v.ItemID); err != nil {
			return err
		}
	}
	if e.Delete {
		return nil // a tombstone holds no content
	}
	// The marker as this event would leave it: counted, with its content.
	m := &marker{ref: s.markerRef(e.Key), Counted: e.Counts, PublishTime: e.PublishTime, CountedAt: e.countAt(), MessageID: e.MessageID, tweet: e.Tweet}
	data, err := s.markerFields(m, now)
	if err != nil {
		return reject("%v", err)
	}
	if n := docSize(m.ref.Parent.ID, m.ref.ID, data); n > maxMarkerBytes {
		return reject("its marker would be %d bytes, over the limit of %d", n, maxMarkerBytes)
	}
	return nil
}

func checkKey(what, k string) error {
	switch {
	case len(k) > maxKeyBytes:
		return &rejectedError{reason: fmt.Sprintf("a %s of %d bytes, over the limit of %d", what, len(k), maxKeyBytes)}
	case !utf8.ValidString(k):
		// Firestore strings are UTF-8, and the marker's JSON would not give the key back.
		return &rejectedError{reason: fmt.Sprintf("a %s that is not valid UTF-8", what)}
	}
	return nil
}

// stringSize is a string's storage size: its UTF-8 bytes and 1.
func stringSize(s string) int { return len(s) + 1 }

// docNameSize is a top-level document's name size: its collection and document ids and 16.
func docNameSize(collection, id string) int { return stringSize(collection) + stringSize(id) + 16 }

// docSize is a document's storage size (https://cloud.google.com/firestore/docs/storage-size):
// its name, each field's name and value, and 32.
func docSize(collection, id string, fields map[string]any) int {
	return docNameSize(collection, id) + valueSize(fields)
}

// valueSize is the storage size of a value the store writes; a map counts as a document does
// (its fields and 32), which bounds the page's "calculated the same way as document size".
func valueSize(v any) int {
	switch v := v.(type) {
	case nil, bool:
		return 1
	case string:
		return stringSize(v)
	case []byte:
		return len(v)
	case []string:
		n := 0
		for _, s := range v {
			n += stringSize(s)
		}
		return n
	case map[string]any:
		n := 32
		for k, x := range v {
			n += stringSize(k) + valueSize(x)
		}
		return n
	}
	return 8 // integers, floats, times, transforms of integers
}

// wireBytes bounds the bytes value takes in a commit request: its data and, generously, 16
// bytes of protocol framing for each field and element.
func wireBytes(v any) int {
	switch v := v.(type) {
	case string:
		return len(v) + 16
	case []byte:
		return len(v) + 16
	case []string:
		n := 16
		for _, s := range v {
			n += len(s) + 16
		}
		return n
	case map[string]any:
		n := 16
		for k, x := range v {
			n += len(k) + 16 + wireBytes(x)
		}
		return n
	}
	return 32 // numbers, times, booleans and transforms of them
}
