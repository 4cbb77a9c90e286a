// Package decktest serves the deck with the JSON endpoints of deck/api.go computed from real
// event shapes: X stream messages and app events decoded by shared/event, as the loader decodes
// them. It stands in for the serving function (issue 11) in the deck's browser test until that
// function is merged; its rankings follow issue 11's written definitions, computed in memory.
//
// Differences from the serving function: everything is in memory and exact at every request
// (no refresh lag); windows are counted back from the server's clock; only one instance.
//
// Reference: docs/deck.md#tested-in-a-real-browser.
package decktest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/deck"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
	"github.com/pipelinekit/pipelinekit/shared/viewtoken"
)

// Server is an httptest server answering the deck's page and API, a Backfill function's
// GET /backfills and GET /backfills/{id} under /backfill-api, and a health source (the local
// stack's /_stack/health) at /health-api.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	now      func() time.Time
	viewsKey []byte
	seq      int
	tweets   map[string]*event.TweetRow
	deleted  map[string]bool
	apps     []*event.AppEventRow
	jobs     []map[string]any
	health   []byte
}

// Options configure a Server.
type Options struct {
	// Deck is the deck's configuration; BackfillURL and HealthURL are filled in to point at
	// this server.
	Deck deck.Config
	// Now is the clock windows are counted back from; nil is time.Now.
	Now func() time.Time
	// ViewsKey signs the recent-views tokens /recent_views requires, as ServeRankings does;
	// nil refuses every /recent_views (ServeRankings without a key).
	ViewsKey []byte
}

// NewServer starts a Server; Close stops it.
func NewServer(opts Options) (*Server, error) {
	s := &Server{now: opts.Now, viewsKey: opts.ViewsKey, tweets: map[string]*event.TweetRow{}, deleted: map[string]bool{}}
	if s.now == nil {
		s.now = time.Now
	}
	mux := http.NewServeMux()
	s.Server = httptest.NewUnstartedServer(mux)
	s.Start()
	cfg := opts.Deck
	cfg.BackfillURL = s.URL + "/backfill-api"
	cfg.HealthURL = s.URL + "/health-api"
	s.health = []byte(`{}`)
	d, err := deck.New(cfg)
	if err != nil {
		s.Close()
		return nil, err
	}
	mux.Handle("/", d)
	mux.HandleFunc("GET /rankings/{ranking}", s.ranking)
	mux.HandleFunc("GET /tweets", s.tweetsPage)
	mux.HandleFunc("GET /recent_views", s.recentViews)
	mux.HandleFunc("GET /backfill-api/backfills", s.backfillList)
	mux.HandleFunc("GET /backfill-api/backfills/{id}", s.backfillStatus)
	mux.HandleFunc("GET /health-api", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.health)
	})
	return s, nil
}

// Publish decodes one Pub/Sub message's data as the loader does (an X stream message or an app
// event) and adds its row; a delete notice hides its tweet. It returns the decoded kind.
func (s *Server) Publish(data []byte) (event.Kind, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	now := s.now()
	rec, err := event.Decode(event.Message{ID: "m" + strconv.Itoa(s.seq), PublishTime: now, Data: data}, now)
	if err != nil {
		return "", err
	}
	switch row := rec.Row.(type) {
	case *event.TweetRow:
		if _, dup := s.tweets[row.TweetID]; !dup {
			s.tweets[row.TweetID] = row
		}
	case *event.StreamEventRow:
		if rec.Kind == event.KindDelete {
			s.deleted[row.TweetID] = true
		}
	case *event.AppEventRow:
		s.apps = append(s.apps, row)
	}
	return rec.Kind, nil
}

// SetJobs sets what the Backfill function's list answers: statuses as GET /backfills/{id}
// reports them (backfill.Status's JSON).
func (s *Server) SetJobs(jobs []map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs = jobs
}

// SetHealth sets what the health source answers: the local stack's health JSON
// (shared/localstack.Health), with any fields the panel does not read.
func (s *Server) SetHealth(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.health = b
	return nil
}

var windows = map[string]time.Duration{"15m": 15 * time.Minute, "1h": time.Hour, "1d": 24 * time.Hour}

func (s *Server) ranking(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("ranking")
	q := r.URL.Query()
	win := q.Get("window")
	if win == "" {
		win = "1h"
	}
	d, ok := windows[win]
	if !ok {
		writeErr(w, "window", "window must be 15m, 1h or 1d")
		return
	}
	n, err := intParam(q.Get("n"), 10, 100)
	if err != nil {
		writeErr(w, "n", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	from := now.Add(-d)
	counts := map[string]int64{}
	in := func(t time.Time) bool { return !t.Before(from) && !t.After(now) }
	switch name {
	case "hashtags":
		for id, t := range s.tweets {
			if s.deleted[id] || !in(t.EventTime) {
				continue
			}
			seen := map[string]bool{}
			for _, h := range t.Hashtags {
				h = strings.ToLower(h)
				if !seen[h] {
					seen[h] = true
					counts[h]++
				}
			}
		}
	case "retweets":
		for id, t := range s.tweets {
			if t.Kind == string(event.KindRetweet) && t.ReferencedTweetID != "" && !s.deleted[id] &&
				!s.deleted[t.ReferencedTweetID] && in(t.EventTime) {
				counts[t.ReferencedTweetID]++
			}
		}
	case "search_terms", "popularity":
		seen := map[string]bool{}
		for _, a := range s.apps {
			if seen[a.EventID] || !in(a.EventTime) {
				continue
			}
			seen[a.EventID] = true
			switch {
			case name == "search_terms" && a.Kind == string(event.KindSearch):
				if k := strings.Join(strings.Fields(strings.ToLower(a.Query)), " "); k != "" {
					counts[k]++
				}
			case name == "popularity" && a.Kind == string(event.KindDetailView) && a.ItemID != "":
				counts[a.ItemID]++
			}
		}
	default:
		writeErr(w, "ranking", "ranking must be hashtags, retweets, search_terms or popularity")
		return
	}
	out := deck.Ranking{Ranking: name, Window: win, From: from.UTC(), To: now.UTC(), AsOf: now.UTC(), Items: []deck.Item{}}
	for k, c := range counts {
		out.Items = append(out.Items, deck.Item{Key: k, Count: c})
	}
	sort.Slice(out.Items, func(i, j int) bool {
		a, b := out.Items[i], out.Items[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		return a.Key < b.Key
	})
	if len(out.Items) > n {
		out.Items = out.Items[:n]
	}
	if name == "retweets" {
		for i := range out.Items {
			if t, ok := s.tweets[out.Items[i].Key]; ok {
				out.Items[i].Text, out.Items[i].AuthorHandle, out.Items[i].AuthorID = t.Text, t.AuthorHandle, t.AuthorID
			}
		}
	}
	writeJSON(w, r, out)
}

// cardFields are the kinds that count on the card of the tweet they reference, as
// ServeRankings counts them (shared/rankings/cards.go).
var cardFields = map[string]string{string(event.KindRetweet): "retweets", string(event.KindReply): "replies", string(event.KindQuote): "quotes"}

// tweet is a row as the page shows it, with its counts as ServeRankings sends them (every one,
// zeros included): the retweets, replies and quotes of it not deleted; s.mu is held.
func (s *Server) tweet(t *event.TweetRow) deck.Tweet {
	out := deck.Tweet{TweetID: t.TweetID, Kind: t.Kind, AuthorID: t.AuthorID, AuthorHandle: t.AuthorHandle,
		Text: t.Text, CreatedAt: t.EventTime.UTC(), Hashtags: t.Hashtags, ReferencedTweetID: t.ReferencedTweetID,
		Counts: map[string]int64{"retweets": 0, "replies": 0, "quotes": 0}}
	for id, o := range s.tweets {
		if f, ok := cardFields[o.Kind]; ok && o.ReferencedTweetID == t.TweetID && !s.deleted[id] {
			out.Counts[f]++
		}
	}
	return out
}

// Newest first: by event time, then by id (ids as decimal strings, longer is larger).
func newer(a, b *event.TweetRow) bool {
	if !a.EventTime.Equal(b.EventTime) {
		return a.EventTime.After(b.EventTime)
	}
	if len(a.TweetID) != len(b.TweetID) {
		return len(a.TweetID) > len(b.TweetID)
	}
	return a.TweetID > b.TweetID
}

func (s *Server) tweetsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	raw := q.Get("q")
	// The search rule ServeRankings answers by (shared/rankings/search.go).
	search, err := rankings.ParseSearch(raw)
	var bad *rankings.BadParam
	if errors.As(err, &bad) {
		writeErr(w, bad.Param, bad.Error())
		return
	}
	n, err := intParam(q.Get("n"), 20, 100)
	if err != nil {
		writeErr(w, "n", err.Error())
		return
	}
	var after *event.TweetRow
	if c := q.Get("cursor"); c != "" {
		if after, err = decodeCursor(c); err != nil {
			writeErr(w, "cursor", "cursor: "+err.Error())
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*event.TweetRow
	for id, t := range s.tweets {
		if !s.deleted[id] && (after == nil || newer(after, t)) && search.Match(searchable(t)) {
			match = append(match, t)
		}
	}
	sort.Slice(match, func(i, j int) bool { return newer(match[i], match[j]) })
	page := deck.TweetPage{Query: raw, Term: search.Term, Tweets: []deck.Tweet{}}
	if len(match) > n {
		match = match[:n]
		last := match[n-1]
		page.NextCursor = encodeCursor(last)
	}
	for _, t := range match {
		page.Tweets = append(page.Tweets, s.tweet(t))
	}
	writeJSON(w, r, page)
}

// searchable is a row as the search rule reads it.
func searchable(t *event.TweetRow) *rankings.Tweet {
	return &rankings.Tweet{ID: t.TweetID, Text: t.Text, AuthorHandle: t.AuthorHandle, Hashtags: t.Hashtags}
}

func encodeCursor(t *event.TweetRow) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(t.EventTime.UnixNano(), 10) + ":" + t.TweetID))
}

func decodeCursor(c string) (*event.TweetRow, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, errors.New("not a cursor this server gave")
	}
	ns, id, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return nil, errors.New("not a cursor this server gave")
	}
	return &event.TweetRow{EventTime: time.Unix(0, n), TweetID: id}, nil
}

func (s *Server) recentViews(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user_id")
	if user == "" || len(user) > 128 {
		writeErr(w, "user_id", "1 to 128 bytes")
		return
	}
	// As ServeRankings: a token for this user, or 401 (none or a bad one) or 403 (another's).
	tok := r.Header.Get("X-Recent-Views-Token")
	var bad *viewtoken.Error
	switch err := viewtoken.Verify(s.viewsKey, tok, user, s.now()); {
	case s.viewsKey == nil:
		writeStatus(w, http.StatusForbidden, "recent views are off: no token key")
		return
	case tok == "":
		writeStatus(w, http.StatusUnauthorized, "recent views need a token for the user in the X-Recent-Views-Token header")
		return
	case errors.As(err, &bad) && bad.Kind == viewtoken.WrongUser:
		writeStatus(w, http.StatusForbidden, "X-Recent-Views-Token: "+bad.Reason)
		return
	case err != nil:
		writeStatus(w, http.StatusUnauthorized, "X-Recent-Views-Token: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := deck.RecentViews{UserID: user, Items: []deck.RecentView{}}
	seen := map[string]bool{}
	for i := len(s.apps) - 1; i >= 0 && len(out.Items) < 10; i-- {
		a := s.apps[i]
		if a.Kind == string(event.KindDetailView) && a.UserID == user && a.ItemID != "" && !seen[a.ItemID] {
			seen[a.ItemID] = true
			out.Items = append(out.Items, deck.RecentView{ItemID: a.ItemID, ViewedAt: a.EventTime.UTC()})
		}
	}
	writeJSON(w, r, out)
}

func (s *Server) backfillList(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, r, deck.BackfillList{Jobs: append([]map[string]any{}, s.jobs...)})
}

func (s *Server) backfillStatus(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range s.jobs {
		if j["job_id"] == r.PathValue("id") {
			writeJSON(w, r, j)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintln(w, `{"error":"no such backfill job"}`)
}

func intParam(v string, def, max int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("must be a whole number from 1 to %d", max)
	}
	return n, nil
}

// writeJSON answers v with an ETag, and 304 when the page already has it.
func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(b)
	tag := `"` + hex.EncodeToString(sum[:8]) + `"`
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func writeStatus(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(deck.APIError{Error: msg})
}

func writeErr(w http.ResponseWriter, param, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(deck.APIError{Error: msg, Param: param})
}
