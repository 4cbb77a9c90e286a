package deck

import "time"

// This file is the JSON the page reads, written down in one place: the shapes of the serving
// function ServeRankings (issue 11, functions/serverankings), which decktest serves too for the
// browser test. The page (web/deck.js, the `api` object at its top) calls these endpoints
// relative to Config.APIBase (by default, relative to the page's own URL):
//
//	GET {api}/rankings/{ranking}?window={window}&n={n}  -> Ranking
//	    ranking: hashtags | retweets | search_terms | popularity; window: 15m | 1h | 1d
//	GET {api}/tweets?q={search}&n={n}[&cursor={next_cursor}] -> TweetPage
//	    search: words, "a phrase", #tag or @handle, by the search rule of shared/rankings/search.go
//	    (a query it cannot search is a 400 APIError naming q, with the reason); newest first;
//	    next_cursor pages to older tweets (a page may be short, or empty, and still have one);
//	    deleted tweets are left out
//	GET {api}/recent_views?user_id={user} -> RecentViews
//	    with X-Recent-Views-Token: a token for that user (the page takes it from #view_token=);
//	    without one, a 401 APIError saying so
//	any 4xx/5xx -> APIError
//
// The deck itself serves (so the browser needs no token for another function, nor CORS):
//
//	GET deck/backfills       -> the Backfill function's GET /backfills, as PanelJobs
//	GET deck/backfills/{id}  -> the Backfill function's GET /backfills/{id}, as a Job
//	    only the fields of Job pass: failure causes, quota and blocked reasons stay out
//	    a 400 or 404 of it -> APIError with its error and param; any other failure -> 502
//	    APIError {"error":"backfills are unavailable; try again"} (the cause is logged)
//	POST deck/history {"q": "keyword or #hashtag"} -> HistoryStart (history.go)
//	    starts, or finds, the x_search backfill of the term's last 7 days; 202 new, 200 the
//	    period's job; 400 APIError naming q or body; 429 past MaxHistoryJobsPerDay; 404 without
//	    a Backfill function; any other failure -> 502 APIError (the cause is logged)
//	GET deck/health          -> Config.HealthURL's answer (the local stack's health), as Health
//	    only the fields of Health pass; 404 APIError when no HealthURL is configured (the
//	    deployed deck: the page then has no health panel); any failure -> 502 APIError
//	    {"error":"health is unavailable; try again"} (the cause is logged)

// Ranking is one ranking in one window, highest first.
type Ranking struct {
	Ranking string    `json:"ranking"`
	Window  string    `json:"window"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	AsOf    time.Time `json:"as_of"`
	Items   []Item    `json:"items"`
}

// Item is one ranked key and its count: a hashtag without its # (case-folded), a tweet id
// (retweets, with the original tweet's text and author), a normalised search query, or an
// item id.
type Item struct {
	Key          string `json:"key"`
	Count        int64  `json:"count"`
	Text         string `json:"text,omitempty"`
	AuthorHandle string `json:"author_handle,omitempty"`
	AuthorID     string `json:"author_id,omitempty"`
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
	// ReferencedTweetID is the retweeted, quoted or replied-to tweet.
	ReferencedTweetID string   `json:"referenced_tweet_id,omitempty"`
	Hashtags          []string `json:"hashtags,omitempty"`
	// Counts are what the pipeline counted for this tweet: "retweets", "replies" and
	// "quotes" (shared/rankings.TweetCounts, each retweet, reply or quote once, deleted ones
	// not); the page shows whichever are present.
	Counts map[string]int64 `json:"counts,omitempty"`
}

// TweetPage is one page of the tweets matching a column's query, newest first.
type TweetPage struct {
	Query  string  `json:"q"`
	Term   string  `json:"term"`
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

// APIError is the body of an error answer; Param names the bad query parameter.
type APIError struct {
	Error string `json:"error"`
	Param string `json:"param,omitempty"`
}

// PanelJobs is the backfills panel's list of jobs, as the deck passes it on.
type PanelJobs struct {
	Jobs []Job `json:"jobs"`
}

// Job is a backfill job as the panel renders it (web/deck.js, backfillColumn): the fields of
// backfill.Status the page reads, and nothing else.
type Job struct {
	JobID      string     `json:"job_id"`
	State      string     `json:"state"`
	Counts     *JobCounts `json:"counts,omitempty"`
	RatePerSec float64    `json:"rate_per_sec,omitempty"`
	ETASeconds float64    `json:"eta_s,omitempty"`
}

// JobCounts are the task counts the panel's progress line shows.
type JobCounts struct {
	Planned   int `json:"planned,omitempty"`
	Succeeded int `json:"succeeded,omitempty"`
	Failed    int `json:"failed,omitempty"`
	Cancelled int `json:"cancelled,omitempty"`
	Retrying  int `json:"retrying,omitempty"`
}

// BackfillList is the Backfill function's list of recent jobs (newest first), each with the
// fields of backfill.Status; the deck reads a bare JSON array of jobs too.
type BackfillList struct {
	Jobs          []map[string]any `json:"jobs"`
	NextPageToken string           `json:"next_page_token,omitempty"`
}

// MaxQueryLen is the longest column query the page accepts, in bytes of UTF-8 (# included),
// ServeRankings' limit for q (rankings.MaxSearchLen); the page says so in a message instead of
// opening a column. What else a query may be is the API's search rule, which the page asks.
const MaxQueryLen = 100

// Health is the health panel's view of the local stack's health (shared/localstack.Health):
// the signals the production alerts watch, the fields the page renders and nothing else.
type Health struct {
	At      time.Time `json:"at"`
	WindowS int       `json:"window_s"`
	// DeadLetters are the window's dead letters by minute (oldest first) and reason.
	DeadLetters   []HealthDeadLetters `json:"dead_letters"`
	Subscriptions []HealthBacklog     `json:"subscriptions"`
	Stream        *HealthStream       `json:"stream,omitempty"`
	Jobs          []HealthJob         `json:"jobs"`
	Functions     []HealthFunction    `json:"functions"`
}

// HealthDeadLetters is one minute's dead letters with one reason.
type HealthDeadLetters struct {
	Minute time.Time `json:"minute"`
	Reason string    `json:"reason"`
	Count  int64     `json:"count"`
}

// HealthBacklog is one subscription's backlog: unacked messages (a lower bound when AtLeast)
// and the oldest one's age.
type HealthBacklog struct {
	Subscription      string  `json:"subscription"`
	Unacked           int     `json:"unacked"`
	AtLeast           bool    `json:"at_least,omitempty"`
	OldestUnackedAgeS float64 `json:"oldest_unacked_age_s"`
}

// HealthStream is the stream's lease: never taken, held, or idle for IdleS seconds.
type HealthStream struct {
	State string  `json:"state"`
	IdleS float64 `json:"idle_s,omitempty"`
}

// HealthJob is a running backfill job and its rate.
type HealthJob struct {
	JobID      string  `json:"job_id"`
	RatePerSec float64 `json:"rate_per_sec"`
}

// HealthFunction is one function's requests and 5xx answers in the window.
type HealthFunction struct {
	Function  string `json:"function"`
	Requests  int    `json:"requests"`
	Errors5xx int    `json:"errors_5xx"`
}
