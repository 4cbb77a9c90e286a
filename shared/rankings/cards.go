package rankings

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
)

// A tweet's card counts: how many retweets, replies and quotes of it the pipeline has seen,
// each tweet once (its marker decides, as for the rankings) and none that was deleted. They
// live in one document per referenced tweet (Collections.TweetCounts, keyed as the tweets'
// markers), apart from its marker: the marker is written with preconditions on its update
// time, and increments to it would make every such write conflict. A commit adds its group's
// deltas, merged per referenced tweet, with increment transforms in the same atomic commit as
// the markers that decide them, so a count changes exactly when a marker does; concurrent
// commits of several instances add up without reading or conflicting.

// TweetCounts are a tweet's card counts.
type TweetCounts struct {
	Retweets int64 `json:"retweets"`
	Replies  int64 `json:"replies"`
	Quotes   int64 `json:"quotes"`
}

// cardFields are the kinds that count on the card of the tweet they reference, by the field
// of its counts document (and of TweetCounts' JSON) they add to.
var cardFields = map[string]string{"retweet": "retweets", "reply": "replies", "quote": "quotes"}

// cardRef is the tweet a tweet counts on the card of, and the field; ok is false for a tweet
// that counts on none. A referenced id over maxKeyBytes counts nowhere, as in CardCountsSQL.
func cardRef(t *Tweet) (id, field string, ok bool) {
	if t == nil || t.ReferencedTweetID == "" || len(t.ReferencedTweetID) > maxKeyBytes {
		return "", "", false
	}
	field, ok = cardFields[t.Kind]
	return t.ReferencedTweetID, field, ok
}

// cardDeltas are a commit's card count changes: referenced tweet id, then field.
type cardDeltas map[string]map[string]int64

func (c cardDeltas) add(t *Tweet, d int64) {
	id, field, ok := cardRef(t)
	if !ok {
		return
	}
	if c[id] == nil {
		c[id] = map[string]int64{}
	}
	c[id][field] += d
}

// writes returns the commit's writes of the counts documents: one per referenced tweet whose
// deltas do not cancel out, each refreshing expires_at (the documents' TTL, as the markers').
func (s *Store) cardWrites(c cardDeltas, now time.Time) (adds []func(*firestore.WriteBatch), bytes int) {
	for id, fields := range c {
		data := map[string]any{}
		for f, d := range fields {
			if d != 0 {
				data[f] = firestore.Increment(d)
				bytes += len(f) + 16
			}
		}
		if len(data) == 0 {
			continue
		}
		data["expires_at"] = now.Add(s.o.Retention)
		ref := s.c.Collection(s.o.Collections.TweetCounts).Doc(docID(id))
		bytes += len(ref.Path) + 32
		adds = append(adds, func(wb *firestore.WriteBatch) { wb.Set(ref, data, firestore.MergeAll) })
	}
	return adds, bytes
}

// addCounts gives each tweet of a page its card counts: one batched read of the page's counts
// documents (a page is at most MaxN tweets; a missing document is all zeros).
func (s *Store) addCounts(ctx context.Context, page []Tweet) error {
	if len(page) == 0 {
		return nil
	}
	refs := make([]*firestore.DocumentRef, len(page))
	for i, t := range page {
		refs[i] = s.c.Collection(s.o.Collections.TweetCounts).Doc(docID(t.ID))
	}
	snaps, err := s.c.GetAll(ctx, refs)
	if err != nil {
		return fmt.Errorf("reading the counts of %d tweets: %w", len(page), err)
	}
	for i, snap := range snaps { // GetAll answers in the order of refs
		c := &TweetCounts{}
		if snap.Exists() {
			var d struct {
				Retweets int64 `firestore:"retweets"`
				Replies  int64 `firestore:"replies"`
				Quotes   int64 `firestore:"quotes"`
			}
			if err := snap.DataTo(&d); err != nil {
				return fmt.Errorf("decoding %s: %w", snap.Ref.Path, err)
			}
			// Never below zero: a counts document and the markers that decrement it expire
			// apart (TTL deletes within a day of expires_at, not at it).
			c.Retweets, c.Replies, c.Quotes = max(d.Retweets, 0), max(d.Replies, 0), max(d.Quotes, 0)
		}
		page[i].Counts = c
	}
	return nil
}
