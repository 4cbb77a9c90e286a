package rankings

import (
	"encoding/json"
	"fmt"
	"time"

	"cloud.google.com/go/firestore"
)

// A marker document (rankings_tweets/{id}, rankings_events/{hash}) keeps what only the store
// reads back — where the event counted, which message counted, a tweet's content — in one
// bytes field, body: the emulator indexes every field of every write (production too, unless
// exempted), and the first shape's 17 fields per tweet, an array of maps among them, were most
// of what a tweet cost once the counters had shrunk. Beside body are only the fields a query
// filters or orders on (a tweet's terms, created_us, id_key; a retweet's kind and
// referenced_tweet_id; deleted), and expires_at for the TTL.
const bodyField = "body"

// markerBody is a marker's body field (JSON).
type markerBody struct {
	PublishTime time.Time `json:"p"`
	MessageID   string    `json:"m"`
	Counted     []Count   `json:"c,omitempty"`
	CountedAt   time.Time `json:"a,omitzero"`
	Tweet       *Tweet    `json:"t,omitempty"`
}

// markerFieldNames are every field a marker document has had, in this shape or the first one
// (legacyFields): an update deletes those it does not set, so a document is always one shape.
var markerFieldNames = append([]string{bodyField, "deleted", "expires_at", "terms", "created_us", "id_key", "kind", "referenced_tweet_id"},
	legacyFields...)

// legacyFields are the first shape's fields not in this one: a field each for where it counted,
// the message and the content.
var legacyFields = []string{"counted", "publish_time", "message_id", "has_content", "tweet_id", "text",
	"author_id", "author_handle", "created_at", "hashtags"}

// markerFields is the document of marker m.
func (s *Store) markerFields(m *marker, now time.Time) (map[string]any, error) {
	body, err := json.Marshal(markerBody{PublishTime: m.PublishTime, MessageID: m.MessageID, Counted: m.Counted, CountedAt: m.CountedAt, Tweet: m.tweet})
	if err != nil {
		return nil, fmt.Errorf("encoding marker %s: %w", m.ref.Path, err)
	}
	data := map[string]any{bodyField: body, "expires_at": now.Add(s.o.Retention)}
	if m.ref.Parent.ID != s.o.Collections.Tweets {
		return data, nil
	}
	data["deleted"] = m.Deleted
	if t := m.tweet; t != nil {
		// The latest tweets (Latest): a term, not deleted, newest first.
		if terms := Terms(t); len(terms) > 0 {
			data["terms"] = terms
		}
		data["created_us"], data["id_key"] = t.CreatedAt.UnixMicro(), IDKey(t.ID)
		if t.Kind == "retweet" && t.ReferencedTweetID != "" {
			// An original's text as quoted by its first retweet (quote).
			data["kind"], data["referenced_tweet_id"] = t.Kind, t.ReferencedTweetID
		}
	}
	return data, nil
}

// storedMarker is a marker document as stored, in either shape.
type storedMarker struct {
	Body    []byte `firestore:"body"`
	Deleted bool   `firestore:"deleted"`

	// The first shape.
	Counted      []Count   `firestore:"counted"`
	PublishTime  time.Time `firestore:"publish_time"`
	MessageID    string    `firestore:"message_id"`
	HasContent   bool      `firestore:"has_content"`
	TweetID      string    `firestore:"tweet_id"`
	Kind         string    `firestore:"kind"`
	Text         string    `firestore:"text"`
	AuthorID     string    `firestore:"author_id"`
	AuthorHandle string    `firestore:"author_handle"`
	CreatedAt    time.Time `firestore:"created_at"`
	Referenced   string    `firestore:"referenced_tweet_id"`
	Hashtags     []string  `firestore:"hashtags"`
}

// decodedMarker is a marker document's content, whatever its shape.
type decodedMarker struct {
	markerBody
	Deleted bool
}

// decodeMarker reads a marker document of either shape.
func decodeMarker(snap *firestore.DocumentSnapshot) (decodedMarker, error) {
	var d storedMarker
	if err := snap.DataTo(&d); err != nil {
		return decodedMarker{}, fmt.Errorf("decoding marker %s: %w", snap.Ref.Path, err)
	}
	out := decodedMarker{Deleted: d.Deleted}
	if d.Body != nil {
		if err := json.Unmarshal(d.Body, &out.markerBody); err != nil {
			return decodedMarker{}, fmt.Errorf("decoding marker %s's body: %w", snap.Ref.Path, err)
		}
		if out.Tweet != nil {
			out.Tweet.CreatedAt = out.Tweet.CreatedAt.UTC()
		}
		return out, nil
	}
	out.PublishTime, out.MessageID, out.Counted = d.PublishTime, d.MessageID, d.Counted
	if d.HasContent {
		out.Tweet = &Tweet{ID: d.TweetID, Kind: d.Kind, Text: d.Text, AuthorID: d.AuthorID, AuthorHandle: d.AuthorHandle,
			CreatedAt: d.CreatedAt.UTC(), ReferencedTweetID: d.Referenced, Hashtags: d.Hashtags}
	}
	return out, nil
}
