package rankings

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/event"
)

// Entry is one event as the rankings see it. Its Key is what makes it count once: a tweet's
// id (a tweet from the stream and again from a replay is one tweet, as in tweets_dedup), or an
// app event's app and id (as in app_events_dedup). Of two messages with one key, the earliest published
// (then the lowest message id) is the one that counts, as the dedup views choose.
type Entry struct {
	Key         string // "t:<tweet id>", or AppEventKey's "e:<event id>" or "a:<app>:<event id>"
	PublishTime time.Time
	// CountAt is the time the event counts at in the windowed rankings: a backfilled tweet's
	// created_at (event.CountsAtCreation), so that last week's tweets count last week and never
	// look like a burst now; zero (every other event) means PublishTime (see countAt).
	CountAt   time.Time
	MessageID string
	// Delete is a delete notice for the tweet of Key: it leaves every ranking.
	Delete bool
	// Counts are the (ranking, key) pairs the event adds one to.
	Counts []Count
	// Tweet is the tweet's content, kept for the latest tweets and the retweets ranking's text.
	Tweet *Tweet
	// View is a detail view for the user's recent views.
	View *ViewEvent
}

// Count is one ranking key an event counts for.
type Count struct {
	Ranking Ranking `firestore:"r" json:"r"`
	Key     string  `firestore:"k" json:"k"`
}

// Tweet is what the store keeps of a tweet.
type Tweet struct {
	ID                string    `firestore:"tweet_id" json:"tweet_id"`
	Kind              string    `firestore:"kind" json:"kind"`
	Text              string    `firestore:"text" json:"text"`
	AuthorID          string    `firestore:"author_id" json:"author_id,omitempty"`
	AuthorHandle      string    `firestore:"author_handle" json:"author_handle,omitempty"`
	CreatedAt         time.Time `firestore:"created_at" json:"created_at"`
	ReferencedTweetID string    `firestore:"referenced_tweet_id" json:"referenced_tweet_id,omitempty"`
	Hashtags          []string  `firestore:"hashtags" json:"hashtags,omitempty"`
	// Counts are the tweet's card counts, given by Latest; never stored in its marker.
	Counts *TweetCounts `firestore:"-" json:"counts,omitempty"`
}

// ViewEvent is a detail view.
type ViewEvent struct {
	UserID string
	ItemID string
	Time   time.Time
}

// countAt is the time e counts at: CountAt, else PublishTime.
func (e Entry) countAt() time.Time {
	if !e.CountAt.IsZero() {
		return e.CountAt
	}
	return e.PublishTime
}

// tweetCountAt is when a tweet counts: when it was created, or when it was published if it
// carries no created_at or claims one after its publication (a clock X does not keep), so no
// tweet counts in the future.
func tweetCountAt(created, published time.Time) time.Time {
	if created.IsZero() || created.After(published) {
		return published
	}
	return created
}

// EntryOf turns a decoded event into its Entry; ok is false for events no ranking, recent view
// or feed uses (stream control messages other than deletes, app events of other kinds).
func EntryOf(rec event.Record) (e Entry, ok bool) {
	switch row := rec.Row.(type) {
	case *event.TweetRow:
		e = Entry{Key: "t:" + row.TweetID, PublishTime: row.PublishTime, MessageID: row.MessageID}
		if event.CountsAtCreation(row.Source) {
			// A backfill's tweets count when they were written; the stream's and a replay's
			// count when published (a replayed capture animates the rankings now).
			e.CountAt = tweetCountAt(row.EventTime, row.PublishTime)
		}
		seen := map[string]bool{}
		for _, h := range row.Hashtags {
			if tag := FoldTag(h); tag != "" && !seen[tag] {
				seen[tag] = true
				e.Counts = append(e.Counts, Count{Hashtags, tag})
			}
		}
		if row.Kind == string(event.KindRetweet) && row.ReferencedTweetID != "" {
			e.Counts = append(e.Counts, Count{Retweets, row.ReferencedTweetID})
		}
		e.Tweet = &Tweet{ID: row.TweetID, Kind: row.Kind, Text: row.Text, AuthorID: row.AuthorID, AuthorHandle: row.AuthorHandle,
			CreatedAt: row.EventTime, ReferencedTweetID: row.ReferencedTweetID, Hashtags: row.Hashtags}
		return e, true
	case *event.StreamEventRow:
		if row.Kind != string(event.KindDelete) || row.TweetID == "" {
			return Entry{}, false
		}
		return Entry{Key: "t:" + row.TweetID, PublishTime: row.PublishTime, MessageID: row.MessageID, Delete: true}, true
	case *event.AppEventRow:
		e = Entry{Key: AppEventKey(row.App, row.EventID), PublishTime: row.PublishTime, MessageID: row.MessageID}
		switch row.Kind {
		case string(event.KindSearch):
			if q := NormaliseQuery(row.Query); q != "" {
				e.Counts = append(e.Counts, Count{SearchTerms, q})
			}
		case string(event.KindDetailView):
			if row.ItemID != "" {
				e.Counts = append(e.Counts, Count{Popularity, row.ItemID})
				if row.UserID != "" {
					e.View = &ViewEvent{UserID: row.UserID, ItemID: row.ItemID, Time: row.EventTime}
				}
			}
		}
		return e, len(e.Counts) > 0
	}
	return Entry{}, false
}

// AppEventKey is the Entry key of an app event: "e:<event id>" for the default app (the key all
// app events had before apps existed, so their markers still hold), "a:<app>:<event id>" for
// another app. An app name has no ":", so two (app, id) pairs never share a key.
func AppEventKey(app, eventID string) string {
	if app == "" || app == event.DefaultApp {
		return "e:" + eventID
	}
	return "a:" + app + ":" + eventID
}

// maxTerms bounds a tweet's index terms: a character of the searched text yields at most two
// (a CJK character and its pair, a word and its @mention), and the store takes at most
// maxCountsPerEvent hashtags; one more for the author. FuzzSearch checks the text's share.
// Each term is an index entry of the single-field and of the terms composite index: about
// 6,000 at most, within Firestore's 40,000 index entries per document
// (https://cloud.google.com/firestore/quotas, "Maximum number of index entries for each
// document"), which the local Firestore's checks enforce too (shared/emulators/firestorelimits).
const maxTerms = 2*MaxSearchedRunes + maxCountsPerEvent + 1

// Terms are what a tweet is found by in the latest tweets (the index of the search rule,
// search.go): its hashtags as "#tag", its author and the handles its text mentions as
// "@handle", and the terms of its searched text (textTerms), each of at most maxTermBytes.
func Terms(t *Tweet) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if s != "" && !seen[s] && len(out) < maxTerms && len(s) <= maxTermBytes {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, h := range t.Hashtags {
		if tag := FoldTag(h); tag != "" {
			add("#" + tag)
		}
	}
	if t.AuthorHandle != "" {
		add("@" + strings.ToLower(t.AuthorHandle))
	}
	text := searchedText(t.Text)
	for _, m := range mentionRE.FindAllStringSubmatch(text, -1) {
		add("@" + m[1])
	}
	for _, w := range textTerms(text, nil) {
		add(w)
	}
	sort.Strings(out)
	return out
}

// hashKey is a key as a Firestore field name: short, and safe whatever the key holds.
func hashKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:10])
}
