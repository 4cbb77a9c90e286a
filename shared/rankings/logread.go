package rankings

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
)

// A tweetStream yields the tweets with an index term that are not deleted, newest first (by
// created_at, then IDKey), from a cursor on; nil at the end.
type tweetStream interface {
	next(ctx context.Context) (*Tweet, error)
}

// streamPage is how many records the log's stream reads a query at a time.
const streamPage = 8

// older reports whether t comes after cursor c in the latest tweets' order.
func older(t *Tweet, c *Cursor) bool {
	if c == nil {
		return true
	}
	us := t.CreatedAt.UnixMicro()
	return us < c.CreatedUS || (us == c.CreatedUS && IDKey(t.ID) < c.IDKey)
}

// newer orders tweets newest first.
func newer(a, b *Tweet) bool {
	au, bu := a.CreatedAt.UnixMicro(), b.CreatedAt.UnixMicro()
	if au != bu {
		return au > bu
	}
	return IDKey(a.ID) > IDKey(b.ID)
}

// tweets is the latest tweets with term from cur on, as the store's layout keeps them: the
// markers; the log's records, and during the switch the markers too, merged.
func (s *Store) tweets(ctx context.Context, term string, cur *Cursor, page int) (tweetStream, error) {
	page = min(max(page, 2), 101)
	if s.o.Layout != LayoutLog {
		return &markerStream{s: s, term: term, cur: cur, size: page}, nil
	}
	markers, err := s.markersWindow(ctx)
	if err != nil {
		return nil, err
	}
	logs := &logStream{s: s, term: term, cur: cur, markers: markers}
	if !markers {
		return logs, nil
	}
	return &mergedStream{a: logs, b: &markerStream{s: s, term: term, cur: cur, size: page, checkLog: true}}, nil
}

// markerStream reads the markers with the term, newest first.
type markerStream struct {
	s        *Store
	term     string
	cur      *Cursor
	checkLog bool // drop tweets a log record deletes (during the switch)
	size     int  // documents a query
	buf      []*Tweet
	done     bool
}

func (m *markerStream) next(ctx context.Context) (*Tweet, error) {
	for len(m.buf) == 0 {
		if m.done {
			return nil, nil
		}
		q := m.s.c.Collection(m.s.o.Collections.Tweets).Where("terms", "array-contains", m.term).Where("deleted", "==", false).
			OrderBy("created_us", firestore.Desc).OrderBy("id_key", firestore.Desc)
		if m.cur != nil {
			q = q.StartAfter(m.cur.CreatedUS, m.cur.IDKey)
		}
		snaps, err := q.Limit(m.size).Documents(ctx).GetAll()
		if err != nil {
			return nil, fmt.Errorf("reading the latest tweets for %q: %w", m.term, err)
		}
		m.done = len(snaps) < m.size
		var page []*Tweet
		for _, snap := range snaps {
			d, err := decodeMarker(snap)
			if err != nil {
				return nil, err
			}
			if d.Tweet == nil {
				// Only tweets with content have terms; a document without is not served.
				return nil, fmt.Errorf("tweet %s has terms but no content", snap.Ref.Path)
			}
			t := *d.Tweet
			m.cur = &Cursor{CreatedUS: t.CreatedAt.UnixMicro(), IDKey: IDKey(t.ID)}
			page = append(page, &t)
		}
		if m.checkLog {
			cands := make([]app, len(page))
			for i, t := range page {
				cands[i] = app{id: "marker", logEvent: logEvent{Key: "t:" + t.ID, Tweet: t}}
			}
			gone, err := m.s.hidden(ctx, cands, false)
			if err != nil {
				return nil, err
			}
			page = page[:0]
			for i, a := range cands {
				if !gone[i] {
					page = append(page, a.Tweet)
				}
			}
		}
		m.buf = page
	}
	t := m.buf[0]
	m.buf = m.buf[1:]
	return t, nil
}

// logStream reads the records with the term, newest minute first. A record holds tweets of
// one minute of creation, so once a record of an older minute is read, the tweets of every
// newer minute are all known: they are sorted and yielded, each once (a tweet in two records
// is one tweet), those deleted left out.
type logStream struct {
	s       *Store
	term    string
	cur     *Cursor
	markers bool
	last    *firestore.DocumentSnapshot
	done    bool
	pending map[string]app // by tweet id, the copy that counts
	ready   []*Tweet
}

func (l *logStream) next(ctx context.Context) (*Tweet, error) {
	for len(l.ready) == 0 {
		if l.done && len(l.pending) == 0 {
			return nil, nil
		}
		if l.done {
			if err := l.release(ctx, -1); err != nil {
				return nil, err
			}
			continue
		}
		q := l.s.c.Collection(l.s.o.Collections.Log).Where("terms", "array-contains", l.term)
		if l.cur != nil {
			q = q.Where("minute_us", "<=", l.cur.CreatedUS)
		}
		q = q.OrderBy("minute_us", firestore.Desc)
		if l.last != nil {
			q = q.StartAfter(l.last)
		}
		it := q.Limit(streamPage).Documents(ctx)
		n := 0
		for {
			snap, err := it.Next()
			if err == iterator.Done {
				break
			}
			if err != nil {
				it.Stop()
				return nil, fmt.Errorf("reading the latest tweets for %q: %w", l.term, err)
			}
			n++
			l.last = snap
			var minute int64
			if err := snap.DataTo(&struct {
				Minute *int64 `firestore:"minute_us"`
			}{&minute}); err != nil {
				it.Stop()
				return nil, fmt.Errorf("decoding ranking record %s: %w", snap.Ref.Path, err)
			}
			// Every tweet of a newer minute than this record's is known.
			if err := l.release(ctx, minute); err != nil {
				it.Stop()
				return nil, err
			}
			apps, err := decodeRecord(snap)
			if err != nil {
				it.Stop()
				return nil, err
			}
			for _, a := range apps {
				t := a.Tweet
				if a.Delete || t == nil || !older(t, l.cur) || !slices.Contains(Terms(t), l.term) {
					continue
				}
				if l.pending == nil {
					l.pending = map[string]app{}
				}
				if p, ok := l.pending[t.ID]; !ok || a.first(p) {
					l.pending[t.ID] = a
				}
			}
		}
		it.Stop()
		l.done = n < streamPage
	}
	t := l.ready[0]
	l.ready = l.ready[1:]
	return t, nil
}

// release moves the pending tweets created in a minute after minute (all of them for -1) to
// ready, newest first, leaving out those deleted.
func (l *logStream) release(ctx context.Context, minute int64) error {
	var cands []app
	for id, a := range l.pending {
		if minute < 0 || a.Tweet.CreatedAt.UnixMicro() >= minute+60e6 {
			cands = append(cands, a)
			delete(l.pending, id)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	gone, err := l.s.hidden(ctx, cands, l.markers)
	if err != nil {
		return err
	}
	var out []*Tweet
	for i, a := range cands {
		if !gone[i] {
			out = append(out, a.Tweet)
		}
	}
	sort.Slice(out, func(i, j int) bool { return newer(out[i], out[j]) })
	l.ready = append(l.ready, out...)
	return nil
}

// hidden returns which of the tweets' applications the latest tweets leave out (by index in
// cands): a tweet its page lists a delete of, an application its key's ledger took out (another
// message of the tweet counts), and with markers a tweet its marker says deleted. All reads by
// id: the candidates' pages and ledgers.
func (s *Store) hidden(ctx context.Context, cands []app, markers bool) (map[int]bool, error) {
	gone := map[int]bool{}
	if len(cands) == 0 {
		return gone, nil
	}
	var keys []keyAt
	ledgers := map[string]*firestore.DocumentRef{}
	for _, a := range cands {
		k := "t:" + a.Tweet.ID
		keys = append(keys, keyAt{Key: k, Second: keySecond(k, time.Time{})})
		ledgers[k] = s.c.Collection(s.o.Collections.Dups).Doc(hashKey(k))
	}
	entries, err := s.pageEntries(ctx, keys)
	if err != nil {
		return nil, err
	}
	list := make([]*firestore.DocumentRef, 0, len(ledgers))
	for _, r := range ledgers {
		list = append(list, r)
	}
	snaps, err := s.c.GetAll(ctx, list)
	if err != nil {
		return nil, fmt.Errorf("reading the ledgers of %d tweets: %w", len(list), err)
	}
	reversed := map[string]bool{}
	for _, snap := range snaps {
		if !snap.Exists() {
			continue
		}
		l, err := decodeLedger(snap)
		if err != nil {
			return nil, err
		}
		for _, id := range l.Reversed {
			reversed[snap.Ref.ID+"/"+id] = true
		}
	}
	for i, a := range cands {
		k := "t:" + a.Tweet.ID
		for _, flag := range entries[k] {
			if flag == pageDelete {
				gone[i] = true
			}
		}
		if reversed[hashKey(k)+"/"+a.id] {
			gone[i] = true
		}
	}
	if !markers {
		return gone, nil
	}
	names := make([]string, len(cands))
	for i, a := range cands {
		names[i] = "t:" + a.Tweet.ID
	}
	ms, err := s.readMarkers(ctx, names)
	if err != nil {
		return nil, err
	}
	for i, d := range ms {
		if d != nil && d.Deleted {
			gone[i] = true
		}
	}
	return gone, nil
}

// mergedStream yields two streams' tweets in order, a tweet both hold once.
type mergedStream struct {
	a, b           tweetStream
	ta, tb         *Tweet
	startA, startB bool
}

func (m *mergedStream) next(ctx context.Context) (*Tweet, error) {
	var err error
	if !m.startA {
		m.startA = true
		if m.ta, err = m.a.next(ctx); err != nil {
			return nil, err
		}
	}
	if !m.startB {
		m.startB = true
		if m.tb, err = m.b.next(ctx); err != nil {
			return nil, err
		}
	}
	switch {
	case m.ta == nil && m.tb == nil:
		return nil, nil
	case m.tb == nil || (m.ta != nil && newer(m.ta, m.tb)):
		t := m.ta
		m.ta, err = m.a.next(ctx)
		return t, err
	case m.ta == nil || newer(m.tb, m.ta):
		t := m.tb
		m.tb, err = m.b.next(ctx)
		return t, err
	default: // the same tweet in both
		t := m.ta
		if m.ta, err = m.a.next(ctx); err != nil {
			return nil, err
		}
		m.tb, err = m.b.next(ctx)
		return t, err
	}
}

// originalsLog gives the log layout's retweeted originals their text and author, and drops
// the deleted ones: the original's own content (the copy that counts), else the text of the
// lowest-id retweet of it found in the first records that hold one.
func (s *Store) originalsLog(ctx context.Context, chunk []Item) ([]Item, error) {
	markers, err := s.markersWindow(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]keyAt, len(chunk))
	for i, it := range chunk {
		k := "t:" + it.Key
		keys[i] = keyAt{Key: k, Second: keySecond(k, time.Time{})}
	}
	apps, err := s.appsOf(ctx, keys, true, markers)
	if err != nil {
		return nil, fmt.Errorf("reading retweeted originals: %w", err)
	}
	kept := make([]Item, 0, len(chunk))
	var quoted []int
	for i, it := range chunk {
		as := apps[keys[i].Key]
		if slices.ContainsFunc(as, func(a app) bool { return a.Delete }) {
			continue
		}
		if j := slices.IndexFunc(as, func(a app) bool { return a.Tweet != nil }); j >= 0 {
			t := as[j].Tweet
			it.Text, it.AuthorHandle, it.AuthorID = t.Text, t.AuthorHandle, t.AuthorID
			kept = append(kept, it)
			continue
		}
		quoted = append(quoted, len(kept))
		kept = append(kept, it)
	}
	if err := quoteEach(kept, quoted, func(it *Item) error { return s.quoteLog(ctx, it, markers) }); err != nil {
		return nil, err
	}
	return kept, nil
}

// quoteRecords bounds the records one original's quote reads: a much retweeted original is
// in every record; each read is one field (the record's lowest-id retweet of it).
const quoteRecords = 4

// quoteLog sets it's text and author as its lowest-id retweet in the first quoteRecords
// records that hold a retweet of it quotes them (and in its markers during the switch).
func (s *Store) quoteLog(ctx context.Context, it *Item, markers bool) error {
	field := "q." + hashKey(it.Key)
	snaps, err := s.c.Collection(s.o.Collections.Log).Where("refs", "array-contains", it.Key).Select(field).Limit(quoteRecords).Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("reading a retweet of %s: %w", it.Key, err)
	}
	var cands []app
	for _, snap := range snaps {
		v, err := snap.DataAt(field)
		if err != nil {
			continue // a record of an earlier version, without quotes
		}
		m, _ := v.(map[string]any)
		id, _ := m["i"].(string)
		idx, _ := m["a"].(int64)
		text, _ := m["t"].(string)
		if id == "" {
			continue
		}
		cands = append(cands, app{id: fmt.Sprintf("%s:%d", snap.Ref.ID, idx), logEvent: logEvent{Key: "t:" + id, Tweet: &Tweet{ID: id, Kind: "retweet", Text: text, ReferencedTweetID: it.Key}}})
	}
	gone, err := s.hidden(ctx, cands, markers)
	if err != nil {
		return err
	}
	var best *Tweet
	for i, a := range cands {
		if t := a.Tweet; !gone[i] && (best == nil || IDKey(t.ID) < IDKey(best.ID)) {
			best = t
		}
	}
	if markers {
		m := *it
		if err := s.quote(ctx, &m); err != nil {
			return err
		}
		if m.Text != "" && best == nil {
			it.AuthorHandle, it.Text = m.AuthorHandle, m.Text
			return nil
		}
	}
	if best != nil {
		it.AuthorHandle, it.Text = QuotedOriginal(best.Text)
	}
	return nil
}
