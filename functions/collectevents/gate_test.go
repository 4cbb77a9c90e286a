package collectevents

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/fakeclock"
	"github.com/pipelinekit/pipelinekit/shared/writekeys"
)

const (
	shopOrigin  = "https://shop.example"
	otherOrigin = "https://evil.example"
)

// gateFixture is a collector behind a gate with one browser key of app "shop" (rate 2/s, burst
// 2), one of app "blog", and a server key, on a fake clock.
type gateFixture struct {
	c                        *Collector
	pub                      *recordingPublisher
	store                    *writekeys.MemStore
	clock                    *fakeclock.Clock
	shopKey, blogKey, srvKey string
	shopRec, blogRec, srvRec writekeys.Key
	requireKey               bool
}

func newGateFixture(t *testing.T, requireKey bool, shares int) *gateFixture {
	t.Helper()
	f := &gateFixture{pub: &recordingPublisher{}, store: writekeys.NewMemStore(),
		clock: fakeclock.New(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))}
	mk := func(rec writekeys.Key) (string, writekeys.Key) {
		key, rec, err := writekeys.New(rec, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := f.store.Put(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
		return key, rec
	}
	f.shopKey, f.shopRec = mk(writekeys.Key{App: "shop", Origins: []string{shopOrigin}, RatePerSec: 2, Burst: 2})
	f.blogKey, f.blogRec = mk(writekeys.Key{App: "blog", Origins: []string{"https://blog.example"}, RatePerSec: 100, Burst: 100})
	f.srvKey, f.srvRec = mk(writekeys.Key{App: "shop", RatePerSec: 100, Burst: 100})
	cache := writekeys.NewCache(f.store, 30*time.Second, f.clock.Now)
	f.c = NewCollector(f.pub, nil, f.clock.Now, nil, Limits{MaxEvents: 3}).
		WithGate(NewGate(cache, requireKey, shares, f.clock.Now))
	return f
}

type gateStep struct {
	name        string
	advance     time.Duration
	revoke      bool // revokes the shop key in the store before the request
	method      string
	key         string // query string key
	headerKey   string
	origin      string
	acrm        string // Access-Control-Request-Method
	contentType string
	body        string
	wantStatus  int
	wantHeader  map[string]string // "" means absent
	wantError   string
	wantApps    []string // app attribute of each published message
}

func (f *gateFixture) run(t *testing.T, steps []gateStep) {
	t.Helper()
	for _, st := range steps {
		f.clock.Advance(st.advance)
		if st.revoke {
			rec := f.shopRec
			rec.Revoked, rec.RevokedAt = true, f.clock.Now()
			if err := f.store.Put(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
		}
		method := st.method
		if method == "" {
			method = http.MethodPost
		}
		target := "/"
		if st.key != "" {
			target += "?key=" + st.key
		}
		req := httptest.NewRequest(method, target, strings.NewReader(st.body))
		if st.contentType != "" {
			req.Header.Set("Content-Type", st.contentType)
		}
		if st.origin != "" {
			req.Header.Set("Origin", st.origin)
		}
		if st.acrm != "" {
			req.Header.Set("Access-Control-Request-Method", st.acrm)
		}
		if st.headerKey != "" {
			req.Header.Set(keyHeader, st.headerKey)
		}
		rec := httptest.NewRecorder()
		f.c.ServeHTTP(rec, req)
		if rec.Code != st.wantStatus {
			t.Errorf("%s: status = %d, want %d; body %s", st.name, rec.Code, st.wantStatus, rec.Body)
		}
		for k, v := range st.wantHeader {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s: header %s = %q, want %q", st.name, k, got, v)
			}
		}
		if st.wantError != "" {
			var e ErrorResponse
			_ = json.Unmarshal(rec.Body.Bytes(), &e)
			if !strings.Contains(e.Error, st.wantError) {
				t.Errorf("%s: error = %q, want it to contain %q", st.name, e.Error, st.wantError)
			}
		}
		var apps []string
		for _, m := range f.pub.take() {
			apps = append(apps, m.Attributes["app"])
		}
		if diff := cmp.Diff(st.wantApps, apps); diff != "" {
			t.Errorf("%s: published apps (-want +got):\n%s", st.name, diff)
		}
		if strings.Contains(rec.Body.String(), "wk_") {
			t.Errorf("%s: the answer carries a write key: %s", st.name, rec.Body)
		}
	}
}

const beaconCT = "text/plain;charset=UTF-8"

func TestGateKeysAndCORS(t *testing.T) {
	f := newGateFixture(t, true, 1)
	search := `[{"id":"a1","kind":"search","query":"shoes"},{"id":"a2","kind":"detail_view","item_id":"sku-1"}]`
	f.run(t, []gateStep{
		{name: "preflight from an allowed origin", method: http.MethodOptions, key: f.shopKey, origin: shopOrigin, acrm: "POST",
			wantStatus: http.StatusNoContent, wantHeader: map[string]string{"Access-Control-Allow-Origin": shopOrigin,
				"Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": "Content-Type, X-Write-Key",
				"Access-Control-Max-Age": "600", "Vary": "Origin"}},
		{name: "preflight from another origin", method: http.MethodOptions, key: f.shopKey, origin: otherOrigin, acrm: "POST",
			wantStatus: http.StatusForbidden, wantHeader: map[string]string{"Access-Control-Allow-Origin": ""}, wantError: "not allowed for this write key"},
		{name: "preflight with an unknown key", method: http.MethodOptions, key: "wk_0123456789abcdef_" + strings.Repeat("A", 43), origin: shopOrigin, acrm: "POST",
			wantStatus: http.StatusUnauthorized, wantHeader: map[string]string{"Access-Control-Allow-Origin": ""}, wantError: "unknown"},
		{name: "preflight for PUT", method: http.MethodOptions, key: f.shopKey, origin: shopOrigin, acrm: "PUT",
			wantStatus: http.StatusMethodNotAllowed},
		{name: "a beacon: text/plain, key in the query", key: f.shopKey, origin: shopOrigin, contentType: beaconCT, body: search,
			wantStatus: http.StatusOK, wantHeader: map[string]string{"Access-Control-Allow-Origin": shopOrigin, "Vary": "Origin"},
			wantApps: []string{"shop", "shop"}},
		{name: "no key at all", origin: shopOrigin, contentType: beaconCT, body: search,
			wantStatus: http.StatusUnauthorized, wantError: "write key required"},
		{name: "a malformed key", key: "wk_nope", origin: shopOrigin, contentType: beaconCT, body: search,
			wantStatus: http.StatusUnauthorized, wantError: "malformed"},
		{name: "the right id with a wrong secret", key: f.shopKey[:len(f.shopKey)-1] + "x", origin: shopOrigin, contentType: beaconCT, body: search,
			wantStatus: http.StatusUnauthorized, wantError: "unknown", advance: time.Second},
		{name: "a wrong origin", key: f.shopKey, origin: otherOrigin, contentType: beaconCT, body: search,
			wantStatus: http.StatusForbidden, wantError: `origin "https://evil.example" is not allowed`,
			wantHeader: map[string]string{"Access-Control-Allow-Origin": otherOrigin}},
		{name: "a server key from a browser", headerKey: f.srvKey, origin: shopOrigin, contentType: jsonCT, body: search,
			wantStatus: http.StatusForbidden, wantError: "not allowed"},
		{name: "a server key from a server", headerKey: f.srvKey, contentType: jsonCT, body: `{"id":"s9","kind":"search","query":"q"}`,
			wantStatus: http.StatusOK, wantApps: []string{"shop"}},
		{name: "an event of another app", key: f.shopKey, origin: shopOrigin, contentType: beaconCT, advance: time.Second,
			body:       `[{"app":"blog","id":"b1","kind":"search","query":"q"},{"app":"shop","id":"b2","kind":"search","query":"q"}]`,
			wantStatus: http.StatusOK, wantApps: []string{"shop"}},
		{name: "a batch over the limit of 3 events", key: f.shopKey, origin: shopOrigin, contentType: beaconCT, advance: time.Second,
			body:       `[{"kind":"x"},{"kind":"x"},{"kind":"x"},{"kind":"x"}]`,
			wantStatus: http.StatusRequestEntityTooLarge, wantError: "more than 3 events",
			wantHeader: map[string]string{"Access-Control-Allow-Origin": shopOrigin}},
	})
}

// TestGateRevocationBound: a revoked key keeps working until the cache's TTL has passed since
// the instance last read it, and not one moment longer.
func TestGateRevocationBound(t *testing.T) {
	f := newGateFixture(t, true, 1)
	ev := func(id string) string { return `{"id":"` + id + `","kind":"search","query":"q"}` }
	f.run(t, []gateStep{
		{name: "first use reads the key", key: f.shopKey, origin: shopOrigin, contentType: beaconCT, body: ev("r1"),
			wantStatus: http.StatusOK, wantApps: []string{"shop"}},
		{name: "revoked, cached read still live", revoke: true, advance: 29 * time.Second, key: f.shopKey, origin: shopOrigin,
			contentType: beaconCT, body: ev("r2"), wantStatus: http.StatusOK, wantApps: []string{"shop"}},
		{name: "one second later the TTL has passed", advance: time.Second, key: f.shopKey, origin: shopOrigin,
			contentType: beaconCT, body: ev("r3"), wantStatus: http.StatusUnauthorized, wantError: "revoked",
			wantHeader: map[string]string{"Access-Control-Allow-Origin": shopOrigin}},
	})
}

// TestGateRateLimit: a key over its rate is answered 429 with Retry-After, another key is not
// affected, and the key sends again once its bucket refills.
func TestGateRateLimit(t *testing.T) {
	f := newGateFixture(t, true, 1)
	ev := `{"kind":"search","query":"q"}`
	shop := func(name string, want int, h map[string]string, apps ...string) gateStep {
		return gateStep{name: name, key: f.shopKey, origin: shopOrigin, contentType: beaconCT, body: ev,
			wantStatus: want, wantHeader: h, wantApps: apps}
	}
	blog := gateStep{name: "the other key meanwhile", key: f.blogKey, origin: "https://blog.example", contentType: beaconCT, body: ev,
		wantStatus: http.StatusOK, wantApps: []string{"blog"}}
	f.run(t, []gateStep{
		shop("burst 1 of 2", http.StatusOK, nil, "shop"),
		shop("burst 2 of 2", http.StatusOK, nil, "shop"),
		shop("one past the burst", http.StatusTooManyRequests, map[string]string{"Retry-After": "1",
			"Access-Control-Expose-Headers": "Retry-After", "Access-Control-Allow-Origin": shopOrigin}),
		blog,
		{name: "half a second later one token is back", advance: 500 * time.Millisecond, key: f.shopKey, origin: shopOrigin,
			contentType: beaconCT, body: ev, wantStatus: http.StatusOK, wantApps: []string{"shop"}},
	})
}

// TestRateLimitShares: with n shares, an instance admits the key's rate and burst divided by n
// (burst rounded up).
func TestRateLimitShares(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	tests := []struct {
		shares, rateBurst int
		wantAdmitted      int
	}{
		{shares: 1, rateBurst: 10, wantAdmitted: 10},
		{shares: 4, rateBurst: 10, wantAdmitted: 3},
		{shares: 20, rateBurst: 10, wantAdmitted: 1},
	}
	for _, tt := range tests {
		l := newLimiters(tt.shares, clock.Now)
		k := writekeys.Key{ID: "k", RatePerSec: float64(tt.rateBurst), Burst: tt.rateBurst}
		n := 0
		for range 100 {
			if ok, _ := l.allow(k); ok {
				n++
			}
		}
		if n != tt.wantAdmitted {
			t.Errorf("shares %d, rate and burst %d: admitted %d at one instant, want %d", tt.shares, tt.rateBurst, n, tt.wantAdmitted)
		}
	}
}

func TestScript(t *testing.T) {
	c := NewCollector(&recordingPublisher{}, nil, nil, nil, Limits{})
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/collect.js", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /collect.js: %d", rec.Code)
	}
	want := map[string]string{"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=300", "Set-Cookie": ""}
	for k, v := range want {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if n := rec.Body.Len(); n > maxScriptBytes {
		t.Errorf("collect.js is %d bytes, over %d", n, maxScriptBytes)
	}
	req := httptest.NewRequest(http.MethodGet, "/collect.js", nil)
	req.Header.Set("If-None-Match", rec.Header().Get("ETag"))
	rec = httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("GET /collect.js with its ETag: %d, want 304", rec.Code)
	}
}

// maxScriptBytes is the size collect.js must stay under: "a few KB" for every page that loads it.
const maxScriptBytes = 6 << 10
