package rankings

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func mustSearch(t testing.TB, q string) Search {
	t.Helper()
	s, err := ParseSearch(q)
	if err != nil {
		t.Fatalf("ParseSearch(%q): %v", q, err)
	}
	return s
}

// searchTweets are the texts the rule is tried on: the sample stream's Pub/Sub tweet, the
// Korean and Japanese sample tweets, and near misses.
var searchTweets = map[string]Tweet{
	"pubsub":   {Text: "Pub/Sub at-least-once, handled #golang #gcp", Hashtags: []string{"golang", "GCP"}, AuthorHandle: "gopher_jo"},
	"nodejs":   {Text: "Upgraded node.js and C++ add-ons today", AuthorHandle: "ana_data"},
	"nodes":    {Text: "Three nodes, no js at all", AuthorHandle: "ana_data"},
	"cloudrun": {Text: "Deployed to Cloud   Run in a minute, thanks @Gopher_Jo!", AuthorHandle: "stream_sam"},
	"runcloud": {Text: "run cloud run", AuthorHandle: "stream_sam"},
	"korean":   {Text: "클라우드에서 Pub/Sub 메시지를 정확히 한 번 처리했어요 #클라우드", Hashtags: []string{"클라우드"}, AuthorHandle: "seoul_dev"},
	"japanese": {Text: "東京リージョンでBigQueryのデータを集計しました", AuthorHandle: "tokyo_dev"},
	"email":    {Text: "write to ops@gopher_jo.example", AuthorHandle: "someone"},
}

func TestSearchRule(t *testing.T) {
	tests := []struct {
		q, term string
		want    []string // the searchTweets it matches, sorted
	}{
		{"Pub/Sub", "pub/sub", []string{"korean", "pubsub"}},
		{"pub/sub", "pub/sub", []string{"korean", "pubsub"}},
		{"sub", "sub", []string{"korean", "pubsub"}},
		{"at-least-once", "at-least-once", []string{"pubsub"}},
		{"least", "least", []string{"pubsub"}},
		{"node.js", "node.js", []string{"nodejs"}},
		{"node", "node", []string{"nodejs"}},
		{"c++", "c++", []string{"nodejs"}},
		{"C++", "c++", []string{"nodejs"}},
		{"#GCP", "#gcp", []string{"pubsub"}},
		{"#클라우드", "#클라우드", []string{"korean"}},
		{"@gopher_jo", "@gopher_jo", []string{"cloudrun", "pubsub"}},
		{"@GOPHER_JO", "@gopher_jo", []string{"cloudrun", "pubsub"}},
		{`"cloud run"`, `"cloud run"`, []string{"cloudrun", "runcloud"}},
		{`"run cloud"`, `"run cloud"`, []string{"runcloud"}},
		{"cloud run", "cloud run", []string{"cloudrun", "runcloud"}},
		{"run minute", "run minute", []string{"cloudrun"}},
		{`"run minute"`, `"run minute"`, nil},
		{"클라우드", "클라우드", []string{"korean"}},
		{"메시지", "메시지", []string{"korean"}},
		{"東京", "東京", []string{"japanese"}},
		{"データ", "データ", []string{"japanese"}},
		{"集", "集", []string{"japanese"}},
		{"bigquery", "bigquery", []string{"japanese"}},
		{"  Pub/Sub\t", "pub/sub", []string{"korean", "pubsub"}},
	}
	for _, tc := range tests {
		s, err := ParseSearch(tc.q)
		if err != nil {
			t.Errorf("ParseSearch(%q): %v", tc.q, err)
			continue
		}
		var got []string
		for name, tw := range searchTweets {
			if s.Match(&tw) {
				got = append(got, name)
				if !slices.Contains(Terms(&tw), s.IndexTerm) {
					t.Errorf("%q matches %s, whose terms %q lack its index term %q", tc.q, name, Terms(&tw), s.IndexTerm)
				}
			}
		}
		slices.Sort(got)
		if diff := cmp.Diff(tc.want, got); diff != "" || s.Term != tc.term {
			t.Errorf("%q (term %q, want %q) matches (-want +got):\n%s", tc.q, s.Term, tc.term, diff)
		}
	}
}

// TestSearchRefusals: only what cannot be searched is refused, with a 400 naming q that quotes
// at most an excerpt; the bounds hold exactly at them and one past.
func TestSearchRefusals(t *testing.T) {
	words := func(n int) string { return strings.TrimSpace(strings.Repeat("go ", n)) }
	tests := []struct {
		q      string
		refuse string // "" when it parses
	}{
		{"", "required"},
		{"   ", "required"},
		{`""`, "required"},
		{"#", "needs a hashtag"},
		{"# gcp", "is one word"},
		{"++", "no letter or digit"},
		{"go ++", "no letter or digit"},
		{"a\x00b", "control characters"},
		{"\xff", "not valid UTF-8"},
		{strings.Repeat("x", MaxSearchLen), ""},
		{strings.Repeat("x", MaxSearchLen+1), "longer than 100 bytes"},
		{"#" + strings.Repeat("한", (MaxSearchLen-1)/3), ""},
		{words(MaxSearchWords), ""},
		{words(MaxSearchWords + 1), "at most 8"},
		{"@", ""},         // not a handle: the word "@" has no letter, refused below
		{"@<b>x</b>", ""}, // not a handle: words
	}
	for _, tc := range tests {
		_, err := ParseSearch(tc.q)
		var bp *BadParam
		switch {
		case tc.refuse == "" && tc.q == "@":
			if err == nil {
				t.Errorf("ParseSearch(%q) parsed, want a refusal", tc.q)
			}
		case tc.refuse == "":
			if err != nil {
				t.Errorf("ParseSearch(%.30q) = %v, want it parsed", tc.q, err)
			}
		case !errors.As(err, &bp) || bp.Param != "q" || !strings.Contains(bp.Reason, tc.refuse):
			t.Errorf("ParseSearch(%.30q) = %v, want a BadParam naming q saying %q", tc.q, err, tc.refuse)
		case len(bp.Reason) > MaxExcerpt+80:
			t.Errorf("ParseSearch(%.30q)'s reason is %d bytes: %q", tc.q, len(bp.Reason), bp.Reason)
		}
	}
}

// TestSearchedTextBound: a word past the first MaxSearchedRunes characters is not searched, in
// Match and in Terms alike.
func TestSearchedTextBound(t *testing.T) {
	pad := strings.Repeat("가", MaxSearchedRunes-4)
	at := Tweet{Text: pad + " zzz"}      // the word ends at the bound
	beyond := Tweet{Text: pad + "  zzz"} // one character later: its last z is past the bound
	s := mustSearch(t, "zzz")
	if !s.Match(&at) || !slices.Contains(Terms(&at), "zzz") {
		t.Errorf("a word ending at character %d is not found", MaxSearchedRunes)
	}
	if s.Match(&beyond) || slices.Contains(Terms(&beyond), "zzz") {
		t.Errorf("a word ending at character %d is found", MaxSearchedRunes+1)
	}
}

// TestSearchSQLUsesTheRule: the SQL runs Match's expressions, each a valid RE2 that BigQuery
// takes, quoted as a GoogleSQL string.
func TestSearchSQLUsesTheRule(t *testing.T) {
	s := mustSearch(t, `"cloud run"`)
	got := s.SQL()
	for _, re := range s.res {
		if !strings.Contains(got, sqlString(re.String())) {
			t.Errorf("SQL %s lacks the expression %s", got, re)
		}
	}
	if want := `#gcp`; !strings.Contains(SearchSQL("p", "d", mustSearch(t, "#GCP"), 5), "LOWER(h) = 'gcp'") {
		t.Errorf("SearchSQL for %s: %s", want, SearchSQL("p", "d", mustSearch(t, "#GCP"), 5))
	}
}

// FuzzSearch: a query comes from the outside. Whatever it holds, it parses or is a BadParam
// naming q with a short reason; a parsed search's index term is in the terms of every tweet it
// matches (else the store would never read that tweet), and a text's terms stay within their
// bound.
func FuzzSearch(f *testing.F) {
	for _, q := range []string{"Pub/Sub", "node.js", "c++", "at-least-once", `"cloud run"`, "#gcp", "@gopher_jo", "클라우드", "東京", "データ", "++", "", "\xff", `"a" "b"`, "a\u3000b"} {
		f.Add(q, "Pub/Sub at-least-once, node.js c++ 클라우드에서 東京リージョン データ cloud  run @gopher_jo")
	}
	f.Fuzz(func(t *testing.T, q, text string) {
		if !utf8.ValidString(text) {
			return
		}
		s, err := ParseSearch(q)
		if err != nil {
			var bp *BadParam
			if !errors.As(err, &bp) || bp.Param != "q" || len(bp.Reason) > MaxExcerpt+80 {
				t.Fatalf("ParseSearch(%q) = %v, want a short BadParam naming q", q, err)
			}
			return
		}
		for _, re := range s.res {
			if _, err := regexp.Compile(re.String()); err != nil {
				t.Fatalf("ParseSearch(%q) made %s: %v", q, re, err)
			}
		}
		tw := &Tweet{Text: text, AuthorHandle: "gopher_jo", Hashtags: strings.Fields(text)}
		terms := Terms(tw)
		if s.Match(tw) && !slices.Contains(terms, s.IndexTerm) {
			t.Fatalf("%q matches %q but its index term %q is not among the tweet's terms %q", q, text, s.IndexTerm, terms)
		}
		if n := len(textTerms(searchedText(text), nil)); n > 2*MaxSearchedRunes {
			t.Fatalf("%d terms from a text, more than 2×MaxSearchedRunes", n)
		}
	})
}

// TestLatestFindsEveryTermBySearchRule: through the store, every search of TestSearchRule
// pages (one tweet a page) to exactly the tweets Match accepts, newest first, deleted ones
// left out, and a search whose index term reaches many refused tweets stops at MaxSearchScan
// with a cursor that goes on.
func TestLatestFindsEveryTermBySearchRule(t *testing.T) {
	s := newStore(t, Options{})
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range searchTweets {
			if !yield(k) {
				return
			}
		}
	})
	var es []Entry
	for i, name := range names {
		tw := searchTweets[name]
		tw.ID, tw.Kind, tw.CreatedAt = fmt.Sprint(2000+i), "tweet", time.Date(2026, 3, 1, 12, i, 0, 0, time.UTC)
		es = append(es, Entry{Key: "t:" + tw.ID, PublishTime: tw.CreatedAt, MessageID: "m" + tw.ID, Tweet: &tw})
	}
	// A deleted tweet that every search below would match.
	gone := Tweet{ID: "2999", Kind: "tweet", Text: "Pub/Sub node.js c++ at-least-once cloud run 클라우드 東京 @gopher_jo", CreatedAt: time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC)}
	es = append(es, Entry{Key: "t:2999", PublishTime: gone.CreatedAt, MessageID: "m2999", Tweet: &gone})
	applyAll(t, s, es...)
	applyAll(t, s, del("2999", time.Minute, "d2999"))
	for _, q := range []string{"Pub/Sub", "node.js", "node", "c++", "at-least-once", `"cloud run"`, `"run cloud"`, "#gcp", "@gopher_jo", "클라우드", "東京", "データ"} {
		search := mustSearch(t, q)
		var want []string
		for i := len(names) - 1; i >= 0; i-- {
			if tw := searchTweets[names[i]]; search.Match(&tw) {
				want = append(want, fmt.Sprint(2000+i))
			}
		}
		var got []string
		var cur *Cursor
		for range 20 {
			page, next, err := s.Latest(context.Background(), search, cur, 1)
			if err != nil {
				t.Fatal(err)
			}
			for _, tw := range page {
				got = append(got, tw.ID)
			}
			if next == "" {
				break
			}
			if cur, err = ParseCursor(next); err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" || len(want) == 0 {
			t.Errorf("Latest(%q) pages (-Match +served):\n%s", q, diff)
		}
	}
}

// TestLatestStopsAtMaxSearchScan: MaxSearchScan tweets with the index term that the rule
// refuses end the page (empty, with a cursor); the cursor goes on to the match past them.
func TestLatestStopsAtMaxSearchScan(t *testing.T) {
	s := newStore(t, Options{})
	at := func(i int) time.Time {
		return time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	}
	var es []Entry
	match := Tweet{ID: "5000", Kind: "tweet", Text: "run cloud", CreatedAt: at(0)}
	es = append(es, Entry{Key: "t:5000", PublishTime: at(0), MessageID: "m5000", Tweet: &match})
	for i := 1; i <= MaxSearchScan; i++ {
		tw := Tweet{ID: fmt.Sprint(5000 + i), Kind: "tweet", Text: "cloud run", CreatedAt: at(i)}
		es = append(es, Entry{Key: "t:" + tw.ID, PublishTime: at(i), MessageID: "m" + tw.ID, Tweet: &tw})
	}
	applyAll(t, s, es...)
	search := mustSearch(t, `"run cloud"`)
	page, next, err := s.Latest(context.Background(), search, nil, 5)
	if err != nil || len(page) != 0 || next == "" {
		t.Fatalf("first page = %d tweets, cursor %q, %v; want none and a cursor after %d refused", len(page), next, err, MaxSearchScan)
	}
	cur, _ := ParseCursor(next)
	page, next, err = s.Latest(context.Background(), search, cur, 5)
	if err != nil || len(page) != 1 || page[0].ID != "5000" || next != "" {
		t.Fatalf("second page = %+v, cursor %q, %v; want tweet 5000 and the end", page, next, err)
	}
}
