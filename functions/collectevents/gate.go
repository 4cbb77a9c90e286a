package collectevents

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/writekeys"
)

// Where a request carries its write key. sendBeacon cannot set headers
// (https://w3c.github.io/beacon/#sendbeacon-method takes only a URL and a body), so browsers
// put it in the query string; servers may use the header.
const (
	keyParam  = "key"
	keyHeader = "X-Write-Key"
)

// PreflightMaxAge is how long a browser may reuse a preflight answer (Access-Control-Max-Age);
// Chromium caps it at 2 hours, and a shorter one lets a removed origin take effect sooner.
const PreflightMaxAge = 10 * time.Minute

// Gate decides which requests may send: by write key (its app, its origins, its rate) or, when
// no key is required, by IAM alone (Cloud Run checked run.invoker before the request got here).
type Gate struct {
	keys       *writekeys.Cache
	limits     *limiters
	requireKey bool
}

// NewGate returns a gate reading keys through cache. requireKey refuses requests without a
// key: it must be set whenever the function is public (allUsers may invoke it), since then no
// one checked the caller. shares is the number of instances a key's rate is split between.
func NewGate(cache *writekeys.Cache, requireKey bool, shares int, now func() time.Time) *Gate {
	if now == nil {
		now = time.Now
	}
	return &Gate{keys: cache, limits: newLimiters(shares, now), requireKey: requireKey}
}

// grant is who a request was let in as: app is "" for an IAM caller (any app), else the key's.
type grant struct {
	app    string
	keyID  string
	origin string
}

// requestKey returns the write key of the request, "" when it has none.
func requestKey(r *http.Request) string {
	if k := r.URL.Query().Get(keyParam); k != "" {
		return k
	}
	return r.Header.Get(keyHeader)
}

// authorize checks the request's key, origin and rate, and sets the CORS headers of the
// answer. A refusal's answer still carries Access-Control-Allow-Origin for the request's
// origin, so that the page's script can read the status and stop (or wait, on 429) instead of
// seeing a network error and retrying; the answer holds nothing but the refusal.
func (g *Gate) authorize(ctx context.Context, w http.ResponseWriter, r *http.Request) (grant, *requestError) {
	key := requestKey(r)
	if g == nil || g.keys == nil {
		if key != "" {
			return grant{}, requestErrorf(http.StatusUnauthorized, "write keys are not enabled on this deployment; call with IAM")
		}
		return grant{}, nil
	}
	origin := r.Header.Get("Origin")
	if origin != "" {
		setCORS(w.Header(), origin)
	}
	if key == "" {
		if g.requireKey {
			return grant{}, requestErrorf(http.StatusUnauthorized, "write key required: send it as ?%s= or the %s header", keyParam, keyHeader)
		}
		return grant{}, nil
	}
	k, err := g.keys.Lookup(ctx, key)
	switch {
	case errors.Is(err, writekeys.ErrMalformed), errors.Is(err, writekeys.ErrUnknown), errors.Is(err, writekeys.ErrRevoked):
		return grant{}, requestErrorf(http.StatusUnauthorized, "%v", err)
	case err != nil:
		return grant{}, requestErrorf(http.StatusServiceUnavailable, "checking the write key failed; send again")
	}
	if !k.AllowsOrigin(origin) {
		return grant{}, requestErrorf(http.StatusForbidden, "origin %q is not allowed for this write key", origin)
	}
	if ok, wait := g.limits.allow(k); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
		return grant{}, requestErrorf(http.StatusTooManyRequests, "write key over its rate of %g requests per second: send again after Retry-After seconds", k.RatePerSec)
	}
	return grant{app: k.App, keyID: k.ID, origin: origin}, nil
}

// setCORS lets the page at origin read the answer. Vary: Origin because the answer differs by
// origin (a cache must not serve one origin's answer to another). Retry-After is not a
// CORS-safelisted response header (https://fetch.spec.whatwg.org/#cors-safelisted-response-header-name),
// so it is exposed by name. No Access-Control-Allow-Credentials: collect.js sends no cookies.
func setCORS(h http.Header, origin string) {
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Retry-After")
}

// preflight answers a CORS preflight (OPTIONS with Access-Control-Request-Method). A browser
// sends one before a POST whose Content-Type is not text/plain, form or multipart
// (https://fetch.spec.whatwg.org/#cors-safelisted-request-header), e.g. application/json from
// fetch; sendBeacon's text/plain string bodies need none. The preflight goes to the request's
// URL, query string included, so the key is checked here and the origin against its list;
// a refused preflight carries no Access-Control-Allow-Origin, and the browser then sends
// nothing. It is not rate limited: it publishes nothing.
func (g *Gate) preflight(ctx context.Context, w http.ResponseWriter, r *http.Request) *requestError {
	origin := r.Header.Get("Origin")
	method := r.Header.Get("Access-Control-Request-Method")
	if origin == "" || method == "" {
		w.Header().Set("Allow", "POST, OPTIONS")
		return requestErrorf(http.StatusMethodNotAllowed, "OPTIONS is only for CORS preflights (Origin and Access-Control-Request-Method)")
	}
	if method != http.MethodPost {
		return requestErrorf(http.StatusMethodNotAllowed, "method %s not allowed: POST the events", method)
	}
	if g == nil || g.keys == nil {
		return requestErrorf(http.StatusForbidden, "write keys are not enabled on this deployment: browsers cannot send")
	}
	key := requestKey(r)
	if key == "" {
		return requestErrorf(http.StatusUnauthorized, "write key required in the query string (?%s=)", keyParam)
	}
	k, err := g.keys.Lookup(ctx, key)
	switch {
	case errors.Is(err, writekeys.ErrMalformed), errors.Is(err, writekeys.ErrUnknown), errors.Is(err, writekeys.ErrRevoked):
		return requestErrorf(http.StatusUnauthorized, "%v", err)
	case err != nil:
		return requestErrorf(http.StatusServiceUnavailable, "checking the write key failed; send again")
	}
	if !k.AllowsOrigin(origin) {
		return requestErrorf(http.StatusForbidden, "origin %q is not allowed for this write key", origin)
	}
	h := w.Header()
	setCORS(h, origin)
	h.Set("Access-Control-Allow-Methods", "POST")
	// Content-Type is the only header collect.js sets; X-Write-Key for server-like callers.
	h.Set("Access-Control-Allow-Headers", "Content-Type, "+keyHeader)
	h.Set("Access-Control-Max-Age", strconv.Itoa(int(PreflightMaxAge.Seconds())))
	w.WriteHeader(http.StatusNoContent)
	return nil
}
