package localstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
	"github.com/pipelinekit/pipelinekit/shared/viewtoken"
)

// RankingsSub is the filtered subscription that delivers ranking events to UpdateRankings, as
// Terraform's rankings_subscription default names it.
const RankingsSub = "events-rankings"

// RankingsParts are what the rankings half of the stack started.
type RankingsParts struct {
	// Forwarder delivers the rankings subscription to UpdateRankings.
	Forwarder *Forwarder
	// URL is ServeRankings' base URL: GET URL+"/rankings/hashtags?window=15m".
	URL     string
	stop    context.CancelFunc
	fwdDone chan error
}

// startRankings creates the rankings' filtered subscription and delivers it to UpdateRankings.
func (s *Stack) startRankings(ctx context.Context, o Options) error {
	topic, opts, err := subscriptionOptions(RankingsSub)
	if err != nil {
		return err
	}
	if err := publish.EnsureSubscription(ctx, s.PubSub, s.Project, RankingsSub, topic, opts); err != nil {
		return err
	}
	r := &RankingsParts{URL: s.Functions.URL + "/ServeRankings"}
	target, err := s.pushURL(RankingsSub)
	if err != nil {
		return err
	}
	r.Forwarder = NewForwarder(s.PubSub, publish.SubscriptionName(s.Project, RankingsSub), target, o.LoaderInFlight, opts.AckDeadline, opts.MaxDeliveryAttempts, o.Log)
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.stop, r.fwdDone = cancel, make(chan error, 1)
	go func() { r.fwdDone <- r.Forwarder.Run(fctx) }()
	s.Rankings = r
	// Wait until ServeRankings answers from Firestore: a fresh emulator's first queries take
	// seconds on a busy machine, which would otherwise land on the first caller's deadline.
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		var out ServedRanking
		err := s.getJSON(wctx, "/rankings/hashtags?window=15m&n=1", &out)
		if err == nil {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("ServeRankings did not answer: %w", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (r *RankingsParts) close() error {
	r.stop()
	return <-r.fwdDone
}

// DeliverRankingMessage posts one message of the events topic to UpdateRankings as the rankings
// push subscription does, bypassing the subscription, so that a drill can deliver it any number
// of times.
func (s *Stack) DeliverRankingMessage(ctx context.Context, m PushMessage) (int, error) {
	return s.deliverPush(ctx, RankingsSub, m)
}

// ServedRanking is a ranking as ServeRankings answers it.
type ServedRanking struct {
	Ranking string          `json:"ranking"`
	Window  string          `json:"window"`
	From    time.Time       `json:"from"`
	To      time.Time       `json:"to"`
	Items   []rankings.Item `json:"items"`
}

// getJSON GETs a ServeRankings path and decodes the answer.
func (s *Stack) getJSON(ctx context.Context, path string, out any, header ...string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Rankings.URL+path, nil)
	if err != nil {
		return err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if !hasHeader(header, "Authorization") {
		auth, err := s.authorization(ctx)
		if err != nil {
			return fmt.Errorf("GET %s: %w", path, err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s = %d: %s", path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("GET %s: decoding %s: %w", path, b, err)
	}
	return nil
}

// ServedRanking GETs one ranking from ServeRankings, top n.
func (s *Stack) ServedRanking(ctx context.Context, r rankings.Ranking, window string, n int) (ServedRanking, error) {
	var out ServedRanking
	err := s.getJSON(ctx, fmt.Sprintf("/rankings/%s?window=%s&n=%d", r, window, n), &out)
	return out, err
}

// RankingTruth computes ranking r over [from, to) by SQL over the dedup views, top n, with the
// retweets' text and author as the definition gives them.
func (s *Stack) RankingTruth(ctx context.Context, r rankings.Ranking, from, to time.Time, n int) ([]rankings.Item, error) {
	q, err := rankings.TruthSQL(s.Project, s.Dataset, r, from, to, n)
	if err != nil {
		return nil, err
	}
	rows, err := s.BigQuery.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("computing %s by SQL: %w", r, err)
	}
	items := make([]rankings.Item, 0, len(rows))
	var keys []string
	for _, row := range rows {
		items = append(items, rankings.Item{Key: fmt.Sprint(row["key"]), Count: row["count"].(int64)})
		keys = append(keys, fmt.Sprint(row["key"]))
	}
	if r != rankings.Retweets || len(keys) == 0 {
		return items, nil
	}
	rows, err = s.BigQuery.Query(ctx, rankings.OriginalSQL(s.Project, s.Dataset, keys))
	if err != nil {
		return nil, fmt.Errorf("reading the retweeted originals by SQL: %w", err)
	}
	own, quoted := map[string]rankings.Item{}, map[string]rankings.Item{}
	for _, row := range rows {
		str := func(k string) string { v, _ := row[k].(string); return v }
		if row["own"] == true {
			own[str("key")] = rankings.Item{Text: str("text"), AuthorHandle: str("author_handle"), AuthorID: str("author_id")}
		} else {
			h, text := rankings.QuotedOriginal(str("text"))
			quoted[str("key")] = rankings.Item{Text: text, AuthorHandle: h}
		}
	}
	for i, it := range items {
		meta, ok := own[it.Key]
		if !ok {
			meta = quoted[it.Key]
		}
		items[i].Text, items[i].AuthorHandle, items[i].AuthorID = meta.Text, meta.AuthorHandle, meta.AuthorID
	}
	return items, nil
}

// RecentViewsTruth computes a user's recent views by SQL over app_events_dedup.
func (s *Stack) RecentViewsTruth(ctx context.Context, user string) ([]rankings.View, error) {
	rows, err := s.BigQuery.Query(ctx, rankings.RecentViewsSQL(s.Project, s.Dataset, user))
	if err != nil {
		return nil, fmt.Errorf("computing recent views by SQL: %w", err)
	}
	out := make([]rankings.View, 0, len(rows))
	for _, row := range rows {
		at, _ := row["viewed_at"].(time.Time)
		out = append(out, rankings.View{ItemID: fmt.Sprint(row["item_id"]), ViewedAt: at.UTC()})
	}
	return out, nil
}

// ServedRecentViews GETs a user's recent views from ServeRankings.
func (s *Stack) ServedRecentViews(ctx context.Context, user string) ([]rankings.View, error) {
	var out struct {
		Items []rankings.View `json:"items"`
	}
	tok, err := s.ViewToken(user, time.Now())
	if err != nil {
		return nil, err
	}
	err = s.getJSON(ctx, "/recent_views?user_id="+url.QueryEscape(user), &out, viewsHeader, tok)
	return out.Items, err
}

// viewsHeader is serverankings.ViewsTokenHeader (the function's package is not imported here).
const viewsHeader = "X-Recent-Views-Token"

// newViewsKey returns a random key for recent-views tokens, printable so it passes through
// the environment.
func newViewsKey() ([]byte, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("making the recent-views token key: %w", err)
	}
	return []byte(base64.RawURLEncoding.EncodeToString(b)), nil
}

// ViewToken mints a token that lets its holder read user's recent views from this stack's
// ServeRankings for viewtoken.MaxLifetime from now, as an app's backend would for its
// signed-in user.
func (s *Stack) ViewToken(user string, now time.Time) (string, error) {
	if s.viewsKey == nil {
		return "", errors.New("the stack serves no rankings: no recent-views key")
	}
	return viewtoken.Mint(s.viewsKey, user, now.Add(viewtoken.MaxLifetime))
}

// RankingCheck is one ranking and window served, and its SQL truth over the same window.
type RankingCheck struct {
	Ranking string          `json:"ranking"`
	Window  string          `json:"window"`
	Served  []rankings.Item `json:"served"`
	Truth   []rankings.Item `json:"truth"`
	Equal   bool            `json:"equal"`
}

// CheckRankings compares every ranking and window that ServeRankings answers (top MaxN) and
// the recent views of users with the same by SQL. Each served ranking names its window, which
// is the one the SQL uses.
func (s *Stack) CheckRankings(ctx context.Context, users []string) ([]RankingCheck, error) {
	var out []RankingCheck
	for _, r := range rankings.All {
		for _, w := range rankings.Windows {
			served, err := s.ServedRanking(ctx, r, w.Name, rankings.MaxN)
			if err != nil {
				return nil, err
			}
			truth, err := s.RankingTruth(ctx, r, served.From, served.To, rankings.MaxN)
			if err != nil {
				return nil, err
			}
			out = append(out, RankingCheck{Ranking: string(r), Window: w.Name, Served: served.Items, Truth: truth,
				Equal: cmp.Equal(served.Items, truth, cmpopts.EquateEmpty())})
		}
	}
	sort.Strings(users)
	for _, u := range users {
		served, err := s.ServedRecentViews(ctx, u)
		if err != nil {
			return nil, err
		}
		truth, err := s.RecentViewsTruth(ctx, u)
		if err != nil {
			return nil, err
		}
		c := RankingCheck{Ranking: "recent_views", Window: u, Equal: cmp.Equal(served, truth, cmpopts.EquateEmpty())}
		for _, v := range served {
			c.Served = append(c.Served, rankings.Item{Key: v.ItemID, Text: v.ViewedAt.Format(time.RFC3339Nano)})
		}
		for _, v := range truth {
			c.Truth = append(c.Truth, rankings.Item{Key: v.ItemID, Text: v.ViewedAt.Format(time.RFC3339Nano)})
		}
		out = append(out, c)
	}
	return out, nil
}

// WaitRankings checks the rankings until every one equals its truth or timeout passes (the
// rankings subscription and the loader's are delivered independently), and returns the last
// checks.
func (s *Stack) WaitRankings(ctx context.Context, users []string, timeout time.Duration) ([]RankingCheck, error) {
	deadline := time.Now().Add(timeout)
	for {
		checks, err := s.CheckRankings(ctx, users)
		if err != nil {
			return nil, err
		}
		equal := true
		for _, c := range checks {
			equal = equal && c.Equal
		}
		if equal || time.Now().After(deadline) {
			return checks, nil
		}
		select {
		case <-ctx.Done():
			return checks, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// SearchCheck is one search served by ServeRankings (/tweets, every page) beside the same by
// SQL over tweets_current (rankings.SearchSQL): tweet ids, newest first.
type SearchCheck struct {
	Query  string   `json:"q"`
	Served []string `json:"served"`
	Truth  []string `json:"truth"`
	// ServedCounts are the card counts /tweets sent, by tweet id; TruthCounts those of
	// rankings.CardCountsSQL for the tweets of Truth.
	ServedCounts map[string]rankings.TweetCounts `json:"served_counts"`
	TruthCounts  map[string]rankings.TweetCounts `json:"truth_counts"`
	Equal        bool                            `json:"equal"`
}

// maxSearchCheck bounds the tweets a search check compares (and the pages it reads).
const maxSearchCheck = 500

// CheckSearch compares the tweets ServeRankings answers for q with the search rule's SQL.
func (s *Stack) CheckSearch(ctx context.Context, q string) (SearchCheck, error) {
	search, err := rankings.ParseSearch(q)
	if err != nil {
		return SearchCheck{}, err
	}
	c := SearchCheck{Query: q, ServedCounts: map[string]rankings.TweetCounts{}, TruthCounts: map[string]rankings.TweetCounts{}}
	cursor := ""
	for len(c.Served) < maxSearchCheck {
		var page struct {
			Tweets []struct {
				ID     string                `json:"tweet_id"`
				Counts *rankings.TweetCounts `json:"counts"`
			} `json:"tweets"`
			NextCursor string `json:"next_cursor"`
		}
		path := "/tweets?n=100&q=" + url.QueryEscape(q)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := s.getJSON(ctx, path, &page); err != nil {
			return SearchCheck{}, err
		}
		for _, t := range page.Tweets {
			c.Served = append(c.Served, t.ID)
			if t.Counts != nil {
				c.ServedCounts[t.ID] = *t.Counts
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	rows, err := s.BigQuery.Query(ctx, rankings.SearchSQL(s.Project, s.Dataset, search, maxSearchCheck))
	if err != nil {
		return SearchCheck{}, fmt.Errorf("searching %q by SQL: %w", q, err)
	}
	for _, row := range rows {
		id := fmt.Sprint(row["tweet_id"])
		c.Truth = append(c.Truth, id)
		c.TruthCounts[id] = rankings.TweetCounts{} // a tweet nothing references: zeros
	}
	rows, err = s.BigQuery.Query(ctx, rankings.CardCountsSQL(s.Project, s.Dataset, c.Truth))
	if err != nil {
		return SearchCheck{}, fmt.Errorf("counting the cards of %q by SQL: %w", q, err)
	}
	for _, row := range rows {
		n := func(col string) int64 {
			v, _ := strconv.ParseInt(fmt.Sprint(row[col]), 10, 64)
			return v
		}
		c.TruthCounts[fmt.Sprint(row["tweet_id"])] = rankings.TweetCounts{Retweets: n("retweets"), Replies: n("replies"), Quotes: n("quotes")}
	}
	c.Equal = cmp.Equal(c.Served, c.Truth, cmpopts.EquateEmpty()) && cmp.Equal(c.ServedCounts, c.TruthCounts, cmpopts.EquateEmpty())
	return c, nil
}

// WaitSearch checks each query until all equal their truth or timeout passes, and returns the
// last checks.
func (s *Stack) WaitSearch(ctx context.Context, queries []string, timeout time.Duration) ([]SearchCheck, error) {
	deadline := time.Now().Add(timeout)
	for {
		var checks []SearchCheck
		equal := true
		for _, q := range queries {
			c, err := s.CheckSearch(ctx, q)
			if err != nil {
				return nil, err
			}
			checks = append(checks, c)
			equal = equal && c.Equal
		}
		if equal || time.Now().After(deadline) {
			return checks, nil
		}
		select {
		case <-ctx.Done():
			return checks, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
