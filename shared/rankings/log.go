package rankings

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"cloud.google.com/go/firestore"
)

// The log layout (Options.Layout = LayoutLog).
//
// The markers layout writes a document per event: about one Firestore write per ranked event
// whatever the grouping, most of what the rankings cost. The log layout writes a group's
// events into a few records instead (rankings_log, a random id each, written once and never
// updated): one record per minute of the tweets' creation, holding every event's key, message,
// publish time, counts and content, with the indexed arrays the reads query: terms (its
// tweets' search terms) and refs (the originals its retweets retweet). Where each key's
// applications are is in key pages (keypages.go), read by id.
//
// Exactly once comes after the commit instead of from a precondition in it. A group is
// committed blind (its records, its keys' page entries, its counts added), then each of its
// keys is looked up in its page. A key another record holds is a duplicate (a redelivery,
// another message of the event, a commit retried after an unknown answer) or meets its delete:
// the key is reconciled. Reconciling reads every application of the key (each event in a
// record; during the switch from markers, its marker too) and its ledger (rankings_dups, one
// document per key that ever had a duplicate: the applications whose counts were taken back
// out), and takes out the counts of every application that should not count and is not yet
// taken out: all of them once the key has a delete, else all but the earliest published (then
// lowest message id, then application id). The ledger is written with a precondition on what
// was read, so two reconcilers of a key never take one application out twice.
//
// Why it converges: a page entry is visible to every read that starts after its commit, so of
// two applications of a key the later one's look-up finds the earlier; a delivery is answered
// only after its key is reconciled, so a deliverer that dies in between is delivered again
// and its redelivery reconciles; the earliest application only ever gets earlier as
// applications come, so an application taken out never has to count again.

// Layout names how a Store keeps each event counting once.
type Layout string

const (
	// LayoutMarkers keeps a marker document per event, created with a must-not-exist
	// precondition in the commit that adds its counts.
	LayoutMarkers Layout = "markers"
	// LayoutLog keeps a group's events in a few records and reconciles duplicates after the
	// commit.
	LayoutLog Layout = "log"
)

// Layouts are the layouts a Store takes.
var Layouts = []Layout{LayoutMarkers, LayoutLog}

// ParseLayout returns the layout named s ("" is the default, log).
func ParseLayout(s string) (Layout, error) {
	if s == "" {
		return LayoutLog, nil
	}
	for _, l := range Layouts {
		if string(l) == s {
			return l, nil
		}
	}
	return "", fmt.Errorf("unknown rankings layout %q: want one of %v", s, Layouts)
}

// Budgets of one record, by what it holds: well under Firestore's 1 MiB document and 40,000
// index entries (limits.go), so that a record of any events this store accepts is valid. An
// event alone is at most maxMarkerBytes in its body and maxTerms terms, so it always fits.
const (
	recordBytes   = 768 << 10
	recordEntries = 16000
	recordEvents  = 1000
)

// logEvent is one application of an event: an event as one record holds it.
type logEvent struct {
	Key         string    `json:"k"`
	PublishTime time.Time `json:"p"`
	MessageID   string    `json:"m"`
	CountAt     time.Time `json:"a,omitzero"`
	Delete      bool      `json:"d,omitempty"`
	Counts      []Count   `json:"c,omitempty"`
	Tweet       *Tweet    `json:"t,omitempty"`
}

// app is an application as reconciling sees it: a record's event, or a marker.
type app struct {
	id string // record id and index, or "marker"
	logEvent
}

// first reports whether a counts before b: earliest published, then lowest message id, then id.
func (a app) first(b app) bool {
	if !a.PublishTime.Equal(b.PublishTime) || a.MessageID != b.MessageID {
		return before(a.PublishTime, a.MessageID, b.PublishTime, b.MessageID)
	}
	return a.id < b.id
}

// quote is a record's lowest-id retweet of an original: what the retweets ranking shows of an
// original the pipeline never saw, read alone (field q.<hash of the original's id>), never
// the record's body.
type quote struct {
	ID   string `firestore:"i"`
	App  int    `firestore:"a"` // its index in the record
	Text string `firestore:"t"`
}

// record is a record being built.
type record struct {
	ref    *firestore.DocumentRef
	minute int64
	events []logEvent
	terms  map[string]bool
	refs   map[string]bool
	// quotes are, by retweeted original (hashKey of its id), the record's lowest-id retweet of it.
	quotes  map[string]quote
	bytes   int
	entries int
}

func (r *record) fields(now time.Time, retention time.Duration) (map[string]any, error) {
	body, err := json.Marshal(r.events)
	if err != nil {
		return nil, fmt.Errorf("encoding ranking record %s: %w", r.ref.ID, err)
	}
	data := map[string]any{
		bodyField: body, "minute_us": r.minute,
		"expires_at": now.Add(retention),
	}
	for name, set := range map[string]map[string]bool{"terms": r.terms, "refs": r.refs} {
		if len(set) > 0 {
			data[name] = slices.Sorted(maps.Keys(set))
		}
	}
	if len(r.quotes) > 0 {
		q := map[string]any{}
		for h, v := range r.quotes {
			q[h] = map[string]any{"i": v.ID, "a": v.App, "t": v.Text}
		}
		data["q"] = q
	}
	return data, nil
}

// eventSize is what an event adds to a record: its body bytes (an upper bound) and its
// array elements.
func eventSize(e logEvent, terms []string) (bytes, entries int) {
	b, _ := json.Marshal(e)
	bytes = len(b) + 8
	entries = 0
	for _, t := range terms {
		bytes += stringSize(t)
		entries++
	}
	if e.Tweet != nil && e.Tweet.ReferencedTweetID != "" {
		// refs, and the quote (its text once more).
		bytes += stringSize(e.Tweet.ReferencedTweetID) + stringSize(e.Tweet.Text) + stringSize(e.Tweet.ID) + 64
		entries++
	}
	return bytes, entries
}

// recordsOf places a group's applications in records: one per minute of the tweets' creation
// (the latest tweets read records newest minute first), within each record's budgets; events
// with no content join the first record.
func (s *Store) recordsOf(events []logEvent) []*record {
	byMinute := map[int64][]*record{}
	var order []int64
	for _, e := range events {
		minute := int64(0)
		var terms []string
		if e.Tweet != nil && !e.Delete {
			minute = e.Tweet.CreatedAt.UTC().Truncate(time.Minute).UnixMicro()
			terms = Terms(e.Tweet)
		}
		if minute == 0 && len(order) > 0 {
			minute = order[0]
		}
		bytes, entries := eventSize(e, terms)
		rs := byMinute[minute]
		var r *record
		if len(rs) > 0 {
			r = rs[len(rs)-1]
			if len(r.events) >= recordEvents || r.bytes+bytes > recordBytes || r.entries+entries > recordEntries {
				r = nil
			}
		}
		if r == nil {
			if len(rs) == 0 {
				order = append(order, minute)
			}
			r = &record{ref: s.c.Collection(s.o.Collections.Log).NewDoc(), minute: minute,
				terms: map[string]bool{}, refs: map[string]bool{}, quotes: map[string]quote{}, bytes: 512}
			byMinute[minute] = append(rs, r)
		}
		r.events = append(r.events, e)
		r.bytes, r.entries = r.bytes+bytes, r.entries+entries
		for _, t := range terms {
			r.terms[t] = true
		}
		if t := e.Tweet; t != nil && !e.Delete && t.Kind == "retweet" && t.ReferencedTweetID != "" {
			r.refs[t.ReferencedTweetID] = true
			qh := hashKey(t.ReferencedTweetID)
			if q, ok := r.quotes[qh]; !ok || IDKey(t.ID) < IDKey(q.ID) {
				r.quotes[qh] = quote{ID: t.ID, App: len(r.events) - 1, Text: t.Text}
			}
		}
	}
	var out []*record
	for _, m := range order {
		out = append(out, byMinute[m]...)
	}
	return out
}

// decodeRecord returns a record document's applications.
func decodeRecord(snap *firestore.DocumentSnapshot) ([]app, error) {
	var d struct {
		Body []byte `firestore:"body"`
	}
	if err := snap.DataTo(&d); err != nil {
		return nil, fmt.Errorf("decoding ranking record %s: %w", snap.Ref.Path, err)
	}
	var events []logEvent
	if err := json.Unmarshal(d.Body, &events); err != nil {
		return nil, fmt.Errorf("decoding ranking record %s's body: %w", snap.Ref.Path, err)
	}
	out := make([]app, len(events))
	for i, e := range events {
		if e.Tweet != nil {
			e.Tweet.CreatedAt = e.Tweet.CreatedAt.UTC()
		}
		out[i] = app{id: fmt.Sprintf("%s:%d", snap.Ref.ID, i), logEvent: e}
	}
	return out, nil
}

// groupApps picks the group's one application per key from its deliveries: a delete if it
// has one (the tweet then never counts), else the earliest published message.
func groupApps(batch []*pending) (apps []logEvent, byKey map[string][]*pending) {
	byKey = map[string][]*pending{}
	pick := map[string]Entry{}
	var keys []string
	for _, p := range batch {
		e := p.e
		if _, ok := byKey[e.Key]; !ok {
			keys = append(keys, e.Key)
		}
		byKey[e.Key] = append(byKey[e.Key], p)
		cur, ok := pick[e.Key]
		switch {
		case !ok:
			pick[e.Key] = e
		case cur.Delete:
		case e.Delete || before(e.PublishTime, e.MessageID, cur.PublishTime, cur.MessageID):
			pick[e.Key] = e
		}
	}
	for _, k := range keys {
		e := pick[k]
		le := logEvent{Key: e.Key, PublishTime: e.PublishTime.UTC(), MessageID: e.MessageID, Delete: e.Delete}
		if !e.Delete {
			le.CountAt, le.Counts, le.Tweet = e.countAt().UTC(), e.Counts, e.Tweet
		}
		apps = append(apps, le)
	}
	return apps, byKey
}

// counted is the time an application's counts were added at.
func (e logEvent) countedAt() time.Time {
	if !e.CountAt.IsZero() {
		return e.CountAt
	}
	return e.PublishTime
}

// sortApps orders applications by what counts first.
func sortApps(as []app) {
	sort.Slice(as, func(i, j int) bool { return as[i].first(as[j]) })
}
