package deck

import "time"

// This file is the JSON the page reads, written down in one place. The page (web/deck.js,
// the `api` object at its top) calls these endpoints relative to Config.APIBase; the serving
// function of issue 11 answers them. decktest serves the same shapes for the browser test.
//
//	GET {api}/rankings/{ranking}?window={window}&n={n}  -> Ranking
//	    ranking: hashtags | retweets | search_terms | popularity; window: 15m | 1h | 1d
//	GET {api}/tweets?q={keyword or #hashtag}&n={n}[&cursor={next_cursor}] -> TweetPage
//	    newest first; next_cursor pages to older tweets; deleted tweets are left out
//	GET {api}/users/{user_id}/recent_views -> RecentViews
//	any 4xx/5xx -> APIError
//
// The deck itself serves (so the browser needs no token for another function, nor CORS):
//
//	GET /deck/backfills       -> the Backfill function's GET /backfills (BackfillList)
//	GET /deck/backfills/{id}  -> the Backfill function's GET /backfills/{id} (backfill.Status)

// Ranking is one ranking in one window, highest first.
type Ranking struct {
	Ranking string    `json:"ranking"`
	Window  string    `json:"window"`
	AsOf    time.Time `json:"as_of"`
	Entries []Entry   `json:"entries"`
}

// Entry is one ranked key and its count: a hashtag without its # (case-folded), a tweet id
// (retweets, with the original Tweet), a normalised search query, or an item id.
type Entry struct {
	Key   string `json:"key"`
	Count int64  `json:"count"`
	Tweet *Tweet `json:"tweet,omitempty"`
}

// Tweet is one tweet as the page shows it.
type Tweet struct {
	TweetID      string `json:"tweet_id"`
	Kind         string `json:"kind"`
	AuthorID     string `json:"author_id,omitempty"`
	AuthorHandle string `json:"author_handle,omitempty"`
	// Text is the full text (extended_tweet / note_tweet where X truncated the short text).
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	Hashtags  []string  `json:"hashtags,omitempty"`
	// ReferencedTweetID is the retweeted, quoted or replied-to tweet.
	ReferencedTweetID string `json:"referenced_tweet_id,omitempty"`
	// Counts are what the pipeline counted for this tweet (e.g. "retweets"); the page shows
	// whichever are present.
	Counts map[string]int64 `json:"counts,omitempty"`
}

// TweetPage is one page of the tweets matching a column's query, newest first.
type TweetPage struct {
	Query  string  `json:"query"`
	Tweets []Tweet `json:"tweets"`
	// NextCursor fetches the next page of older tweets; empty on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// RecentViews is a user's last viewed items, newest first.
type RecentViews struct {
	UserID string       `json:"user_id"`
	Items  []RecentView `json:"items"`
}

// RecentView is one viewed item.
type RecentView struct {
	ItemID   string    `json:"item_id"`
	ViewedAt time.Time `json:"viewed_at"`
}

// APIError is the body of an error answer; Parameter names the bad query parameter.
type APIError struct {
	Error     string `json:"error"`
	Parameter string `json:"parameter,omitempty"`
}

// BackfillList is the Backfill function's list of recent jobs (newest first); the page reads
// each job with the fields of backfill.Status (job_id, state, counts, rate_per_sec, eta_s,
// created_at). A bare JSON array of jobs is read too.
type BackfillList struct {
	Jobs          []map[string]any `json:"jobs"`
	NextPageToken string           `json:"next_page_token,omitempty"`
}

// MaxQueryLen is the longest column query the page accepts (in characters, # included); the
// page says so in a message instead of opening a column.
const MaxQueryLen = 128
