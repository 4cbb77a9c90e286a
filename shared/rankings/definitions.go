// Package rankings holds the one written definition of each ranking and window (what counts,
// in which window, how ties break), the SQL that computes each of them over the dedup views (the
// truth the tests and scripts/dev compare against), and the Firestore store that keeps them
// current from the events topic and serves them: per-minute counters written in sharded,
// batched commits that are idempotent by event id, recent views, and the latest tweets per term.
//
// Reference: docs/rankings.md.
package rankings

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Ranking names a ranking. The names are part of the serving API (/rankings/{name}).
type Ranking string

// The rankings. docs/rankings.md ("Definitions") says the same in words.
const (
	// Hashtags: distinct tweets (any kind, retweets included) using a hashtag in the window,
	// tags case-folded, deleted tweets excluded once their delete arrives.
	Hashtags Ranking = "hashtags"
	// Retweets: original tweets ranked by the distinct retweets of them seen in the window, with
	// the original's text and author; deleted retweets and deleted originals are excluded.
	Retweets Ranking = "retweets"
	// SearchTerms: search app events by normalised query (NormaliseQuery).
	SearchTerms Ranking = "search_terms"
	// Popularity: detail_view app events per item_id.
	Popularity Ranking = "popularity"
)

// All lists every ranking, in a stable order.
var All = []Ranking{Hashtags, Retweets, SearchTerms, Popularity}

// Valid reports whether r is one of the rankings.
func (r Ranking) Valid() bool {
	for _, a := range All {
		if a == r {
			return true
		}
	}
	return false
}

// Window is a sliding window of whole buckets: the Len/Bucket buckets ending with the one
// that holds the current time. An event counts in it when its Pub/Sub publish time (when the
// pipeline received it, the same for a replayed 2015 capture and a live tweet) falls in
// [From, To).
type Window struct {
	Name   string
	Len    time.Duration
	Bucket time.Duration
}

// Windows lists the windows, shortest first. Longer windows have coarser buckets so that a
// window is never more than 24 buckets to read.
var Windows = []Window{
	{Name: "15m", Len: 15 * time.Minute, Bucket: time.Minute},
	{Name: "1h", Len: time.Hour, Bucket: 5 * time.Minute},
	{Name: "1d", Len: 24 * time.Hour, Bucket: time.Hour},
}

// BucketSizes are the distinct bucket sizes of Windows: every count is written once per size.
var BucketSizes = []time.Duration{time.Minute, 5 * time.Minute, time.Hour}

// WindowNamed returns the window of that name.
func WindowNamed(name string) (Window, bool) {
	for _, w := range Windows {
		if w.Name == name {
			return w, true
		}
	}
	return Window{}, false
}

// Range returns the window's bounds at now: To is the end of the bucket holding now, From is
// Len before it.
func (w Window) Range(now time.Time) (from, to time.Time) {
	to = now.UTC().Truncate(w.Bucket).Add(w.Bucket)
	return to.Add(-w.Len), to
}

// Limits of a ranking request.
const (
	DefaultN = 10
	MaxN     = 100
	// RecentViews is how many distinct items a user's recent views hold.
	RecentViews = 10
)

// FoldTag case-folds a hashtag the way the SQL does (LOWER), without the #.
func FoldTag(tag string) string {
	return strings.ToLower(strings.TrimPrefix(tag, "#"))
}

// asciiSpace is RE2's \s, which BigQuery's REGEXP_REPLACE uses too: the SQL and Go normalise
// alike only if both collapse the same characters.
var asciiSpace = regexp.MustCompile(`[\t\n\f\r ]+`)

// NormaliseQuery is a search term as the search_terms ranking counts it: lower-cased, runs of
// spaces collapsed to one, trimmed. "" means the search counts nowhere.
func NormaliseQuery(q string) string {
	return strings.Trim(asciiSpace.ReplaceAllString(strings.ToLower(q), " "), " ")
}

// Item is one entry of a ranking.
type Item struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
	// Text and Author are the original tweet's, for the retweets ranking.
	Text         string `json:"text,omitempty"`
	AuthorHandle string `json:"author_handle,omitempty"`
	AuthorID     string `json:"author_id,omitempty"`
}

// Less is the ranking order: higher count first, then the key in byte order, so ties always
// break the same way.
func Less(a, b Item) bool {
	if a.Count != b.Count {
		return a.Count > b.Count
	}
	return a.Key < b.Key
}

// View is one item of a user's recent views.
type View struct {
	ItemID   string    `json:"item_id"`
	ViewedAt time.Time `json:"viewed_at"`
}

// ViewLess is the recent views' order: the latest view first, then the item id.
func ViewLess(a, b View) bool {
	if !a.ViewedAt.Equal(b.ViewedAt) {
		return a.ViewedAt.After(b.ViewedAt)
	}
	return a.ItemID < b.ItemID
}

// rtPrefix matches the "RT @handle: " a retweet's text starts with.
var rtPrefix = regexp.MustCompile(`^RT @([A-Za-z0-9_]+): `)

// QuotedOriginal returns the author handle and text of the original that a retweet's text
// quotes ("RT @handle: text"), or "", "" when the text has no such prefix.
func QuotedOriginal(retweetText string) (handle, text string) {
	m := rtPrefix.FindStringSubmatchIndex(retweetText)
	if m == nil {
		return "", ""
	}
	return retweetText[m[2]:m[3]], retweetText[m[1]:]
}

// IDKey orders tweet ids as numbers: decimal ids are left-padded to 20 digits, so that string
// order is numeric order (the SQL orders by LENGTH, then the id).
func IDKey(id string) string {
	if len(id) < 20 && strings.Trim(id, "0123456789") == "" {
		return strings.Repeat("0", 20-len(id)) + id
	}
	return id
}

// BadParam is a request parameter that is wrong, named for the 400 answer.
type BadParam struct {
	Param  string
	Reason string
}

func (e *BadParam) Error() string { return fmt.Sprintf("%s: %s", e.Param, e.Reason) }

// MaxExcerpt bounds how much of a caller's input an error message quotes, in bytes.
const MaxExcerpt = 40

// Excerpt quotes s for an error message: whole when it is at most MaxExcerpt bytes, else its
// first MaxExcerpt bytes (never cutting a character) and "…", so an answer never echoes a long
// input back.
func Excerpt(s string) string {
	if len(s) <= MaxExcerpt {
		return strconv.Quote(s)
	}
	cut := MaxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}

// ParseN parses a top-N parameter: empty means DefaultN.
func ParseN(s string) (int, error) {
	if s == "" {
		return DefaultN, nil
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || fmt.Sprint(n) != s {
		return 0, &BadParam{"n", fmt.Sprintf("%s is not an integer", Excerpt(s))}
	}
	if n < 1 || n > MaxN {
		return 0, &BadParam{"n", fmt.Sprintf("%d is out of range [1, %d]", n, MaxN)}
	}
	return n, nil
}
