package collectevents

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/deck/deckcheck"
	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
	"github.com/pipelinekit/pipelinekit/shared/publish"
	"github.com/pipelinekit/pipelinekit/shared/writekeys"
)

// TestCollectJSInBrowser drives collect.js in headless Chromium from pages on other local
// origins than CollectEvents': the page's events are published as its key's app (by fetch, by
// a preflighted JSON fetch, and by sendBeacon when the page is left), and a wrong origin, a
// revoked key and a key over its rate get their documented answers.
func TestCollectJSInBrowser(t *testing.T) {
	b := deckcheck.NewBrowser(t)
	ctx := context.Background()
	clock := fakeclock.New(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	store := writekeys.NewMemStore()
	pub := &recordingPublisher{}
	cache := writekeys.NewCache(store, writekeys.DefaultTTL, clock.Now)
	collector := httptest.NewServer(NewCollector(pub, nil, clock.Now, nil, Limits{}).WithGate(NewGate(cache, true, 1, clock.Now)))
	t.Cleanup(collector.Close)

	// Two page servers: two origins (ports), one allowed and one not.
	pageKey := map[string]string{}
	page := func(w http.ResponseWriter, r *http.Request) {
		key := pageKey[r.URL.Path]
		fmt.Fprintf(w, `<!doctype html><html><head><title>shop</title></head><body>
<script src="%s/collect.js" data-key="%s" data-flush-ms="20"></script></body></html>`, collector.URL, key)
	}
	allowed := httptest.NewServer(http.HandlerFunc(page))
	t.Cleanup(allowed.Close)
	other := httptest.NewServer(http.HandlerFunc(page))
	t.Cleanup(other.Close)

	mk := func(rec writekeys.Key) (string, writekeys.Key) {
		key, rec, err := writekeys.New(rec, clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		return key, rec
	}
	shopKey, shopRec := mk(writekeys.Key{App: "shop", Origins: []string{allowed.URL}, RatePerSec: 100, Burst: 100})
	slowKey, _ := mk(writekeys.Key{App: "slow", Origins: []string{allowed.URL}, RatePerSec: 1, Burst: 1})
	pageKey["/shop"], pageKey["/slow"] = shopKey, slowKey

	// waitPublished waits for n messages and returns them.
	waitPublished := func(what string, n int) []publish.Message {
		t.Helper()
		var got []publish.Message
		for deadline := time.Now().Add(20 * time.Second); len(got) < n; time.Sleep(20 * time.Millisecond) {
			got = append(got, pub.take()...)
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d messages published, want %d", what, len(got), n)
			}
		}
		return got
	}
	check := func(what string, msgs []publish.Message, app string, kinds ...string) {
		t.Helper()
		var got []string
		for _, m := range msgs {
			if m.Attributes["app"] != app {
				t.Errorf("%s: message of app %q, want %q: %s", what, m.Attributes["app"], app, m.Data)
			}
			got = append(got, m.Attributes["kind"])
		}
		if strings.Join(got, ",") != strings.Join(kinds, ",") {
			t.Errorf("%s: kinds %v, want %v", what, got, kinds)
		}
	}

	b.Navigate(allowed.URL + "/shop")
	b.WaitFor("collect.js loaded", `!!(window.collect && window.collect.track)`)
	b.Eval(`collect.track('search', {query: 'red shoes', results_count: 3}); collect.track('detail_view', {item_id: 'sku-9'}); true`, nil)
	check("search and view by fetch", waitPublished("search and view", 2), "shop", "search", "detail_view")

	// application/json is not CORS-safelisted: the browser preflights, and the key allows it.
	b.Eval(`fetch('`+collector.URL+`/?key=`+shopKey+`', {method: 'POST', headers: {'Content-Type': 'application/json'},
	  body: JSON.stringify({kind: 'search', query: 'preflighted'})}).then(r => window.__pf = r.status, e => window.__pf = String(e)); true`, nil)
	b.WaitFor("the preflighted fetch", `window.__pf !== undefined`)
	var pf any
	b.Eval(`window.__pf`, &pf)
	if pf != float64(200) {
		t.Errorf("preflighted JSON fetch from an allowed origin: %v, want 200", pf)
	}
	check("preflighted fetch", waitPublished("preflighted", 1), "shop", "search")

	// Leaving the page sends what is queued with sendBeacon.
	b.Eval(`collect.track('search', {query: 'left behind'}); true`, nil)
	b.Navigate("about:blank")
	check("beacon on pagehide", waitPublished("beacon", 1), "shop", "search")

	// A key over its rate: 429 with a Retry-After the page can read.
	b.Navigate(allowed.URL + "/slow")
	b.WaitFor("collect.js loaded", `!!(window.collect && window.collect.track)`)
	b.Eval(`(async () => {
	  const send = () => fetch('`+collector.URL+`/?key=`+slowKey+`', {method: 'POST', body: '{"kind":"search","query":"q"}'});
	  const a = await send(), c = await send();
	  window.__rate = [a.status, c.status, c.headers.get('Retry-After')];
	})(); true`, nil)
	b.WaitFor("two sends of the slow key", `!!window.__rate`)
	var rate []any
	b.Eval(`window.__rate`, &rate)
	if fmt.Sprint(rate) != "[200 429 1]" {
		t.Errorf("two requests of a key of rate 1/s, burst 1: %v, want [200 429 1]", rate)
	}
	waitPublished("the slow key's first request", 1)

	// A wrong origin: the events are refused (403) and collect.js stops; a preflight is refused
	// and the browser sends nothing.
	b.Navigate(other.URL + "/shop")
	b.WaitFor("collect.js loaded", `!!(window.collect && window.collect.track)`)
	b.Eval(`collect.track('search', {query: 'from elsewhere'}); true`, nil)
	b.WaitFor("collect.js refused by origin", `collect.status().stopped === 'refused: 403'`)
	b.Eval(`fetch('`+collector.URL+`/?key=`+shopKey+`', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{}'})
	  .then(r => window.__wo = r.status, e => window.__wo = 'blocked'); true`, nil)
	b.WaitFor("preflight from a wrong origin", `window.__wo !== undefined`)
	var wo any
	b.Eval(`window.__wo`, &wo)
	if wo != "blocked" {
		t.Errorf("JSON fetch from a wrong origin: %v, want blocked by the refused preflight", wo)
	}

	// A revoked key: refused (401) once the instance's cache TTL has passed.
	shopRec.Revoked = true
	if err := store.Put(ctx, shopRec); err != nil {
		t.Fatal(err)
	}
	clock.Advance(writekeys.DefaultTTL)
	b.Navigate(allowed.URL + "/shop")
	b.WaitFor("collect.js loaded", `!!(window.collect && window.collect.track)`)
	b.Eval(`collect.track('search', {query: 'after revocation'}); true`, nil)
	b.WaitFor("collect.js refused the revoked key", `collect.status().stopped === 'refused: 401'`)
	if msgs := pub.take(); len(msgs) != 0 {
		t.Errorf("published %d messages from a wrong origin or a revoked key", len(msgs))
	}
}
