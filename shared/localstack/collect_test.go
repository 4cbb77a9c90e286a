package localstack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"github.com/chromedp/chromedp"

	"github.com/pipelinekit/pipelinekit/shared/deck/deckcheck"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
	"github.com/pipelinekit/pipelinekit/shared/writekeys"
)

// TestCollectJSOnTheStack: in headless Chromium, a page served from another local origin loads
// CollectEvents' /collect.js with its app's write key; its searches and views reach app_events
// (through Pub/Sub and LoadEvents) and the rankings ServeRankings serves. The deck, given its
// own key, sends its searches the same way, and its "Search terms" column shows them.
func TestCollectJSOnTheStack(t *testing.T) {
	b := deckcheck.NewBrowser(t) // skips, naming the install command, without Chromium
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The deck's key is made before the stack starts (its environment names it) and stored
	// once the stack's origin is known.
	deckKey, deckRec, err := writekeys.New(writekeys.Key{App: "deck", RatePerSec: 50, Burst: 50}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(ctx, Options{Project: gcloudemu.NewProjectID(t), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Rankings: true,
		FunctionsEnv: map[string]string{"DECK_WINDOW": "1d", "DECK_POLL_INTERVAL": "300ms", "DECK_COLLECT_KEY": deckKey}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	fs, err := firestore.NewClient(ctx, s.Project)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	store := writekeys.NewFirestoreStore(fs, writekeys.DefaultCollection)

	var shopKey string
	pageSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!doctype html><html><head><title>shop</title></head><body>
<script src="%s/CollectEvents/collect.js" data-key="%s" data-flush-ms="20"></script></body></html>`, s.Functions.URL, shopKey)
	}))
	defer pageSrv.Close()
	shopKey, shopRec, err := writekeys.New(writekeys.Key{App: "shop", Origins: []string{pageSrv.URL}, RatePerSec: 50, Burst: 50}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fu, _ := url.Parse(s.Functions.URL)
	deckRec.Origins = []string{fu.Scheme + "://" + fu.Host}
	for _, rec := range []writekeys.Key{shopRec, deckRec} {
		if err := store.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}

	const term, item = "collectjs shoes", "sku-collectjs"
	b.Navigate(pageSrv.URL + "/")
	b.WaitFor("collect.js loaded", `!!(window.collect && window.collect.track)`)
	b.Eval(`for (let i = 0; i < 3; i++) collect.track('search', {query: '`+term+`', results_count: 4});
	  collect.track('detail_view', {item_id: '`+item+`'}); collect.track('detail_view', {item_id: '`+item+`'}); true`, nil)

	// app_events holds the five rows of app "shop", by SQL.
	poll(t, "the page's events in app_events", func() (bool, string) {
		res, err := s.Query(ctx, `SELECT COUNT(*) AS n FROM app_events WHERE app = 'shop'`)
		if err != nil {
			return false, err.Error()
		}
		return res.Int(0, "n") == 5, fmt.Sprintf("%d rows", res.Int(0, "n"))
	})
	// And the rankings ServeRankings serves.
	poll(t, "the page's search term and item in the rankings", func() (bool, string) {
		st, err1 := s.ServedRanking(ctx, rankings.SearchTerms, "1d", 10)
		pop, err2 := s.ServedRanking(ctx, rankings.Popularity, "1d", 10)
		if err1 != nil || err2 != nil {
			return false, fmt.Sprint(err1, err2)
		}
		return hasItem(st.Items, term, 3) && hasItem(pop.Items, item, 2), fmt.Sprintf("search terms %v, popularity %v", st.Items, pop.Items)
	})

	// The deck's own search moves its Search terms column.
	b.Navigate(s.Rankings.URL + "/")
	b.WaitFor("the deck's collect.js", `!!(window.collect && window.deckTrack)`)
	b.Do("searching in the deck", chromedp.SetValue(chromedp.CSS("#search-input"), "decksearchterm"), chromedp.Click(chromedp.CSS("#search button")))
	b.WaitFor("the search term in the deck's Search terms column",
		`!!document.querySelector('section[data-col="rank:search_terms"] li.rank[data-key="decksearchterm"]')`)

	// Opening a popular item sends a detail_view as the viewer of the open Recent views column:
	// the Popular items count and that column both move.
	tok, err := s.ViewToken("deckviewer", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.Navigate("about:blank")
	b.Navigate(s.Rankings.URL + "/#view_token=" + tok)
	b.WaitFor("the deck's collect.js", `!!(window.collect && window.deckTrack)`)
	const row = `section[data-col="rank:popularity"] li.rank[data-key="` + item + `"]`
	b.WaitFor("the page's item in Popular items", `!!document.querySelector('`+row+`')`)
	b.Do("opening the popular item", chromedp.Click(chromedp.CSS(row+" .rank-key")))
	b.WaitFor("the item's count moved from 2 to 3", `(document.querySelector('`+row+`') || {dataset: {}}).dataset.sig === '["`+item+`",3,null,null]'`)
	b.WaitFor("the item in deckviewer's Recent views",
		`[...document.querySelectorAll('section[data-col="user:deckviewer"] .rank-key')].some((e) => e.textContent === '`+item+`')`)
	if errs := b.ConsoleErrors(); len(errs) > 0 {
		t.Errorf("console errors: %v", errs)
	}
}

func hasItem(items []rankings.Item, key string, count int64) bool {
	return slices.ContainsFunc(items, func(it rankings.Item) bool { return it.Key == key && it.Count == count })
}

// poll checks cond until it holds, failing after a deadline generous for a loaded machine.
func poll(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after 90s: %s", what, state)
		}
		time.Sleep(200 * time.Millisecond) // polling the stack until the pipeline has caught up
	}
}
