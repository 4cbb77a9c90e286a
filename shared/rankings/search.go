package rankings

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The search rule: what a column's query (GET /tweets?q=) matches. It is written once, here,
// and used by ServeRankings (ParseSearch, then Store.Latest, which reads the tweets indexed by
// Search.IndexTerm and keeps those Search.Match accepts), by the deck's page (which asks the
// API and shows its refusal) and by the SQL truth (Search.SQL). docs/deck.md says it in words:
//
//   - The query is trimmed; it is at most MaxSearchLen bytes of UTF-8 without control
//     characters and at most MaxSearchWords words.
//   - "#tag" matches the tweets with that hashtag, case-folded (the stream's hashtag entities).
//   - "@handle" (letters, digits, _) matches the tweets by that author and the tweets whose
//     text mentions @handle, case-folded.
//   - Otherwise the query is words separated by spaces, each matched in the tweet's text,
//     lower-cased, where it starts and ends at a word's edge: Pub/Sub, node.js, c++ and
//     at-least-once match as written, "sub" matches Pub/Sub, "node" does not match nodes.
//     Unquoted words must all occur, anywhere; words in double quotes must occur in that order
//     with only spaces between them (a phrase).
//   - Chinese, Japanese and Korean characters need no edge beside them: those scripts do not
//     separate words with spaces (Japanese) or attach particles to words (Korean), so 東京
//     matches 東京都 and 클라우드 matches 클라우드에서.
//   - Only the first MaxSearchedRunes characters of a tweet's text are searched.
//   - A word with no letter or digit (only punctuation) cannot be searched, and says so.

// Bounds of a search.
const (
	// MaxSearchLen bounds a query in bytes of UTF-8, "#" and quotes included: a column's title
	// fits, and no index term is longer (Terms keeps terms of at most this many bytes).
	MaxSearchLen = 100
	// MaxSearchWords bounds the words of a query: each is a regular expression the tweets are
	// matched against, in Go and in BigQuery.
	MaxSearchWords = 8
	// MaxSearchedRunes is how much of a tweet's text is searched, in characters: a whole
	// tweet (X counts 280 characters, a CJK one as two) with room to spare; a long post
	// (note_tweet) is found by its first MaxSearchedRunes characters. It bounds Terms too.
	MaxSearchedRunes = 1000
	// maxTermBytes is the longest index term kept: a query cannot be longer.
	maxTermBytes = MaxSearchLen
)

// SearchKind is what a query searches.
type SearchKind string

// The kinds of search.
const (
	SearchTag    SearchKind = "hashtag"
	SearchHandle SearchKind = "handle"
	SearchWords  SearchKind = "words"
	SearchPhrase SearchKind = "phrase"
)

// Search is a parsed query.
type Search struct {
	Kind SearchKind
	// Term is the query as the answer names it: "#tag", "@handle", words lower-cased and
	// separated by one space, a phrase in double quotes.
	Term string
	// IndexTerm is the term of Terms every matching tweet has: the store reads the tweets
	// with it and keeps those Match accepts.
	IndexTerm string
	tag       string
	handle    string
	words     []string
	res       []*regexp.Regexp // what Match runs; SQL runs the same expressions
}

// The classes of the rule, as RE2 (Go's regexp and BigQuery's REGEXP_CONTAINS) spells them.
const (
	// cjkClass are the characters that need no word edge: Han, Hiragana, Katakana, Hangul,
	// and the prolonged sound mark ー (script Common, inside Katakana words).
	cjkClass = `\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}ー`
	// edge is what may stand next to a word whose end is a letter or digit: the start or
	// end of the text, or a character that is neither a letter, digit, mark nor _ (or is one
	// of the scripts above).
	edgeBefore = `(?:^|[^\p{L}\p{N}\p{M}_]|[` + cjkClass + `])`
	edgeAfter  = `(?:$|[^\p{L}\p{N}\p{M}_]|[` + cjkClass + `])`
	// space is what separates a phrase's words: any run of spaces (ASCII or Unicode, U+3000
	// among them).
	space = `[\s\p{Z}]+`
)

// isCJK reports whether r needs no word edge beside it.
func isCJK(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) || r == 'ー'
}

// isWord reports whether r is part of a word that needs an edge (a letter, digit, mark or _
// not of the scripts above).
func isWord(r rune) bool {
	return (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || r == '_') && !isCJK(r)
}

// handleRE is an X handle: letters, digits and _.
var handleRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

func badQ(format string, args ...any) error {
	return &BadParam{Param: "q", Reason: fmt.Sprintf(format, args...)}
}

// ParseSearch parses a query by the rule above; a query that cannot be searched is a
// *BadParam naming q, saying why (quoting at most an Excerpt of it).
func ParseSearch(q string) (Search, error) {
	switch {
	case len(q) > MaxSearchLen:
		return Search{}, badQ("longer than %d bytes", MaxSearchLen)
	case !utf8.ValidString(q):
		return Search{}, badQ("not valid UTF-8")
	case strings.ContainsFunc(q, func(r rune) bool { return unicode.IsControl(r) && !unicode.IsSpace(r) }):
		return Search{}, badQ("%s holds control characters", Excerpt(q))
	}
	q = strings.TrimFunc(q, unicode.IsSpace)
	if q == "" || q == `""` {
		return Search{}, badQ("required: a word, a \"phrase\", a #hashtag or an @handle")
	}
	if tag, ok := strings.CutPrefix(q, "#"); ok {
		tag = FoldTag(tag)
		switch {
		case tag == "":
			return Search{}, badQ("a # needs a hashtag after it")
		case strings.ContainsFunc(tag, unicode.IsSpace):
			return Search{}, badQ("%s: a #hashtag is one word (search its words without the #)", Excerpt(q))
		}
		return Search{Kind: SearchTag, Term: "#" + tag, IndexTerm: "#" + tag, tag: tag}, nil
	}
	if h, ok := strings.CutPrefix(q, "@"); ok && handleRE.MatchString(h) {
		h = strings.ToLower(h)
		re := regexp.MustCompile(`(?:^|[^\p{L}\p{N}\p{M}_])@` + regexp.QuoteMeta(h) + edgeAfter)
		return Search{Kind: SearchHandle, Term: "@" + h, IndexTerm: "@" + h, handle: h, res: []*regexp.Regexp{re}}, nil
	}
	s := Search{Kind: SearchWords}
	body := q
	if len(q) >= 2 && strings.HasPrefix(q, `"`) && strings.HasSuffix(q, `"`) {
		s.Kind, body = SearchPhrase, q[1:len(q)-1]
	}
	s.words = strings.FieldsFunc(strings.ToLower(body), func(r rune) bool { return unicode.IsSpace(r) || r == '"' })
	switch {
	case len(s.words) == 0:
		return Search{}, badQ("required: a word, a \"phrase\", a #hashtag or an @handle")
	case len(s.words) > MaxSearchWords:
		return Search{}, badQ("%d words; a search takes at most %d", len(s.words), MaxSearchWords)
	}
	if len(s.words) == 1 {
		s.Kind = SearchWords
	}
	for _, w := range s.words {
		if !strings.ContainsFunc(w, func(r rune) bool { return isWord(r) || isCJK(r) }) {
			return Search{}, badQ("%s has no letter or digit to search for", Excerpt(w))
		}
		if t := indexTerm(w); len(t) > len(s.IndexTerm) {
			s.IndexTerm = t
		}
	}
	if s.Kind == SearchPhrase {
		parts := make([]string, len(s.words))
		for i, w := range s.words {
			parts[i] = regexp.QuoteMeta(w)
		}
		s.res = []*regexp.Regexp{regexp.MustCompile(edges(s.words[0], s.words[len(s.words)-1], strings.Join(parts, space)))}
		s.Term = `"` + strings.Join(s.words, " ") + `"`
	} else {
		for _, w := range s.words {
			s.res = append(s.res, regexp.MustCompile(edges(w, w, regexp.QuoteMeta(w))))
		}
		s.Term = strings.Join(s.words, " ")
	}
	return s, nil
}

// edges puts the word edges around expr, whose text starts with first's first character and
// ends with last's last: an edge is needed only beside a word character.
func edges(first, last, expr string) string {
	r0, _ := utf8.DecodeRuneInString(first)
	r1, _ := utf8.DecodeLastRuneInString(last)
	if isWord(r0) {
		expr = edgeBefore + expr
	}
	if isWord(r1) {
		expr += edgeAfter
	}
	return expr
}

// indexTerm is the longest term of Terms that every text matching word w has: one of w's
// word runs (bounded by w's punctuation, CJK or the word edges the rule demands, it is a whole
// run in the text), or a pair of adjacent CJK characters (or the only one).
func indexTerm(w string) string {
	best := ""
	for _, t := range textTerms(w, nil) {
		if len(t) > len(best) || (len(t) == len(best) && t < best) {
			best = t
		}
	}
	return best
}

// Match reports whether tweet t matches the search.
func (s Search) Match(t *Tweet) bool {
	switch s.Kind {
	case SearchTag:
		for _, h := range t.Hashtags {
			if FoldTag(h) == s.tag {
				return true
			}
		}
		return false
	case SearchHandle:
		if strings.ToLower(t.AuthorHandle) == s.handle {
			return true
		}
	}
	text := searchedText(t.Text)
	for _, re := range s.res {
		if !re.MatchString(text) {
			return false
		}
	}
	return true
}

// searchedText is the part of a tweet's text the rule searches, lower-cased.
func searchedText(text string) string {
	n := 0
	for i := range text {
		if n == MaxSearchedRunes {
			text = text[:i]
			break
		}
		n++
	}
	return strings.ToLower(text)
}

// SQL is the rule as a GoogleSQL condition on a row t of tweets_current (columns text,
// hashtags, author_handle): the same expressions Match runs, through REGEXP_CONTAINS (RE2, as
// Go's regexp).
func (s Search) SQL() string {
	text := fmt.Sprintf("LOWER(SUBSTR(IFNULL(t.text, ''), 1, %d))", MaxSearchedRunes)
	var conds []string
	for _, re := range s.res {
		conds = append(conds, fmt.Sprintf("REGEXP_CONTAINS(%s, %s)", text, sqlString(re.String())))
	}
	switch s.Kind {
	case SearchTag:
		return fmt.Sprintf("EXISTS (SELECT 1 FROM UNNEST(t.hashtags) AS h WHERE LOWER(h) = %s)", sqlString(s.tag))
	case SearchHandle:
		return fmt.Sprintf("(LOWER(IFNULL(t.author_handle, '')) = %s OR %s)", sqlString(s.handle), conds[0])
	}
	return "(" + strings.Join(conds, " AND ") + ")"
}

// SearchSQL returns the query of the tweets matching s, newest first as Latest orders them
// (created_at, then the id as a number), at most n: column tweet_id.
func SearchSQL(project, dataset string, s Search, n int) string {
	return fmt.Sprintf("SELECT t.tweet_id FROM `%s.%s.tweets_current` AS t\nWHERE %s\nORDER BY t.created_at DESC, LENGTH(t.tweet_id) DESC, t.tweet_id DESC\nLIMIT %d",
		project, dataset, s.SQL(), n)
}

// mentionRE finds the @handles a text mentions.
var mentionRE = regexp.MustCompile(`(?:^|[^\p{L}\p{N}\p{M}_])@([A-Za-z0-9_]+)`)

// textTerms appends to out the index terms of a (lower-cased) text: each run of word
// characters, and each CJK character and pair of adjacent CJK characters.
func textTerms(text string, out []string) []string {
	var run []rune
	flushCJK := func() {
		for i := range run {
			out = append(out, string(run[i]))
			if i+1 < len(run) {
				out = append(out, string(run[i:i+2]))
			}
		}
		run = run[:0]
	}
	start := -1
	for i, r := range text {
		switch {
		case isWord(r):
			flushCJK()
			if start < 0 {
				start = i
			}
			continue
		case isCJK(r):
			run = append(run, r)
		default:
			flushCJK()
		}
		if start >= 0 {
			out = append(out, text[start:i])
			start = -1
		}
	}
	flushCJK()
	if start >= 0 {
		out = append(out, text[start:])
	}
	return out
}
