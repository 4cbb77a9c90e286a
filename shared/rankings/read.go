package rankings

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
)

// Top computes ranking r over window w at now from the counters: every key with a positive
// count, in the ranking order, cut at MaxN (retweets of deleted originals left out). It reads
// the window's bucket documents (at most 24 buckets, each a few documents per writing
// instance), never BigQuery.
func (s *Store) Top(ctx context.Context, r Ranking, w Window, now time.Time) ([]Item, error) {
	from, to := w.Range(now)
	it := s.c.Collection(s.o.Collections.Counts).
		Where("ranking", "==", string(r)).Where("size", "==", sizeName(w.Bucket)).
		Where("bucket", ">=", from).Where("bucket", "<", to).Documents(ctx)
	defer it.Stop()
	sums := map[string]int64{}
	labels := map[string]string{}    // every label of the window
	unlabelled := map[string]int64{} // counts of digests labelled in another document, by field
	for {
		snap, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s counts: %w", r, err)
		}
		var doc struct {
			C map[string]int64  `firestore:"c"`
			K map[string]string `firestore:"k"`
		}
		if err := snap.DataTo(&doc); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", snap.Ref.Path, err)
		}
		maps.Copy(labels, doc.K)
		for f, n := range doc.C {
			if key, ok := keyOf(f, doc.K); ok {
				sums[key] += n
			} else {
				unlabelled[f] += n
			}
		}
	}
	for f, n := range unlabelled {
		if key, ok := labels[f]; ok {
			sums[key] += n
		}
	}
	items := make([]Item, 0, len(sums))
	for k, n := range sums {
		if n > 0 {
			items = append(items, Item{Key: k, Count: n})
		}
	}
	sort.Slice(items, func(i, j int) bool { return Less(items[i], items[j]) })
	if r != Retweets {
		return items[:min(len(items), MaxN)], nil
	}
	return s.originals(ctx, items)
}

// originals drops the retweeted originals that were deleted and gives the others their text
// and author: the original's own when the pipeline saw it, else as quoted by its retweet with
// the lowest id. It stops at MaxN.
func (s *Store) originals(ctx context.Context, items []Item) ([]Item, error) {
	out := make([]Item, 0, min(len(items), MaxN))
	for len(items) > 0 && len(out) < MaxN {
		chunk := items[:min(len(items), MaxN)]
		items = items[len(chunk):]
		if s.o.Layout == LayoutLog {
			kept, err := s.originalsLog(ctx, chunk)
			if err != nil {
				return nil, err
			}
			out = append(out, kept...)
			continue
		}
		refs := make([]*firestore.DocumentRef, len(chunk))
		for i, it := range chunk {
			refs[i] = s.c.Collection(s.o.Collections.Tweets).Doc(docID(it.Key))
		}
		snaps, err := s.c.GetAll(ctx, refs)
		if err != nil {
			return nil, fmt.Errorf("reading retweeted originals: %w", err)
		}
		kept := make([]Item, 0, len(chunk))
		var quoted []int
		for i, snap := range snaps {
			it := chunk[i]
			if snap.Exists() {
				d, err := decodeMarker(snap)
				if err != nil {
					return nil, err
				}
				if d.Deleted {
					continue
				}
				if t := d.Tweet; t != nil {
					it.Text, it.AuthorHandle, it.AuthorID = t.Text, t.AuthorHandle, t.AuthorID
					kept = append(kept, it)
					continue
				}
			}
			quoted = append(quoted, len(kept))
			kept = append(kept, it)
		}
		// The quoting retweets, at most 16 queries at a time.
		if err := quoteEach(kept, quoted, func(it *Item) error { return s.quote(ctx, it) }); err != nil {
			return nil, err
		}
		out = append(out, kept...)
	}
	return out[:min(len(out), MaxN)], nil
}

func (s *Store) quote(ctx context.Context, it *Item) error {
	snaps, err := s.c.Collection(s.o.Collections.Tweets).Where("referenced_tweet_id", "==", it.Key).
		Where("kind", "==", "retweet").Where("deleted", "==", false).OrderBy("id_key", firestore.Asc).Limit(1).
		Documents(ctx).GetAll()
	if err != nil {
		return fmt.Errorf("reading a retweet of %s: %w", it.Key, err)
	}
	if len(snaps) == 1 {
		d, err := decodeMarker(snaps[0])
		if err != nil {
			return err
		}
		if d.Tweet != nil {
			it.AuthorHandle, it.Text = QuotedOriginal(d.Tweet.Text)
		}
	}
	return nil
}

// RecentViews returns a user's recent views: the RecentViews latest distinct items, newest
// first.
func (s *Store) RecentViews(ctx context.Context, user string) ([]View, error) {
	snaps, err := s.c.Collection(s.o.Collections.Views).Where("user_id", "==", user).
		OrderBy("viewed_us", firestore.Desc).OrderBy("item_id", firestore.Asc).Limit(RecentViews).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("reading the recent views of a user: %w", err)
	}
	out := make([]View, 0, len(snaps))
	for _, snap := range snaps {
		var d struct {
			ItemID   string `firestore:"item_id"`
			ViewedUS int64  `firestore:"viewed_us"`
		}
		if err := snap.DataTo(&d); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", snap.Ref.Path, err)
		}
		out = append(out, View{ItemID: d.ItemID, ViewedAt: time.UnixMicro(d.ViewedUS).UTC()})
	}
	return out, nil
}

// Cursor is where a page of latest tweets ended: the next page holds older ones.
type Cursor struct {
	CreatedUS int64  `json:"t"`
	IDKey     string `json:"id"`
}

// Encode returns the cursor as an opaque URL-safe string.
func (c Cursor) Encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// MaxCursorLen bounds a cursor parameter: Encode's cursors are well under it (a tweet id key
// and a time).
const MaxCursorLen = 200

// ParseCursor decodes a cursor from Encode; "" is the first page (nil).
func ParseCursor(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > MaxCursorLen {
		return nil, &BadParam{"cursor", "malformed: pass back the next_cursor of a previous page"}
	}
	var c Cursor
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.IDKey == "" || dec.More() {
		return nil, &BadParam{"cursor", "malformed: pass back the next_cursor of a previous page"}
	}
	return &c, nil
}

// MaxSearchScan bounds the tweets one page of a search reads past those it returns: the tweets
// with the search's index term that the rule then refuses (a phrase's words apart, "node" in
// "node.js"). Past it the page is shorter than asked, with a cursor to go on from where it
// stopped; each read is a billed Firestore read, so a page never costs more than n+1 plus this.
const MaxSearchScan = 300

// Latest returns up to n of the latest tweets (by created_at, then id) that s matches, older
// than the cursor, and the cursor of the next page ("" after the last). It reads the tweets
// with s's index term, newest first, n+1 at a time, and keeps those s.Match accepts. A page
// that filled up while the rule refused tweets ends with a cursor even when no older match is
// left (the next page is then empty); one that met MaxSearchScan refused tweets is shorter
// than n, with a cursor after the last tweet it read. Each tweet carries its card counts, read
// in one batched get for the page (addCounts).
func (s *Store) Latest(ctx context.Context, search Search, cur *Cursor, n int) ([]Tweet, string, error) {
	page, next, err := s.latest(ctx, search, cur, n)
	if err != nil {
		return nil, "", err
	}
	if err := s.addCounts(ctx, page); err != nil {
		return nil, "", err
	}
	return page, next, nil
}

func (s *Store) latest(ctx context.Context, search Search, cur *Cursor, n int) ([]Tweet, string, error) {
	out := make([]Tweet, 0, n)
	refused := 0
	st, err := s.tweets(ctx, search.IndexTerm, cur, n+1)
	if err != nil {
		return nil, "", err
	}
	for {
		t, err := st.next(ctx)
		if err != nil {
			return nil, "", err
		}
		if t == nil {
			return out, "", nil
		}
		switch {
		case !search.Match(t):
			if refused++; refused >= MaxSearchScan {
				return out, Cursor{CreatedUS: t.CreatedAt.UnixMicro(), IDKey: IDKey(t.ID)}.Encode(), nil
			}
			if len(out) == n {
				return out, pageEnd(out), nil
			}
		case len(out) == n:
			return out, pageEnd(out), nil
		default:
			out = append(out, *t)
		}
	}
}

// pageEnd is the cursor after a full page's last tweet.
func pageEnd(page []Tweet) string {
	last := page[len(page)-1]
	return Cursor{CreatedUS: last.CreatedAt.UnixMicro(), IDKey: IDKey(last.ID)}.Encode()
}

// quoteEach calls quote on the items of kept at the indexes quoted, at most 16 at a time, and
// returns their errors.
func quoteEach(kept []Item, quoted []int, quote func(*Item) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(quoted))
	sem := make(chan struct{}, 16)
	for qi, i := range quoted {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[qi] = quote(&kept[i])
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
