package sources

import (
	"context"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// TokenRefreshMargin is how long before its expiry an access token is
// replaced. Google's access tokens live 3599 s; refreshing 5 minutes early
// means a token never expires while a request (HTTPTimeout at most) is in
// flight, and clock skew between us and Google does not matter.
const TokenRefreshMargin = 5 * time.Minute

// TokenCache is the one token source of a Google API client, shared by all its concurrent
// queries.
//
// It plays the role of oauth2.ReuseTokenSourceWithExpiry(nil, src,
// TokenRefreshMargin) but cannot be built from it: Config.TokenSource already
// wraps its refresher in a ReuseTokenSource with oauth2's 10 s margin, so an
// outer 5-minute ReuseTokenSource would keep being handed the same cached,
// nearly expired token; and ReuseTokenSource has no way to drop a token the
// API rejected with 401. Like ReuseTokenSource (which holds its mutex across
// the refresh, checked in oauth2 v0.37.0 oauth2.go), mu is held while
// refreshing, so concurrent callers wait for one refresh instead of each
// starting their own.
type TokenCache struct {
	conf   *oauth2.Config
	ctx    context.Context // carries the token endpoint's *http.Client
	now    func() time.Time
	margin time.Duration

	mu           sync.Mutex
	refreshToken string
	tok          *oauth2.Token
	expiry       time.Time // by now(), derived from expires_in
	issued       time.Time // by now(), when the refresh that got tok started
}

// NewTokenCache builds the token source of one client: it refreshes with conf and refreshToken
// through the *http.Client ctx carries (oauth2.HTTPClient), TokenRefreshMargin before expiry.
func NewTokenCache(ctx context.Context, conf *oauth2.Config, refreshToken string, now func() time.Time) *TokenCache {
	return &TokenCache{conf: conf, ctx: ctx, now: now, margin: TokenRefreshMargin, refreshToken: refreshToken}
}

// Token returns a token valid for at least margin (half its lifetime for a token that lives
// less than twice margin), refreshing if needed.
func (c *TokenCache) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Without the cap, a token living less than margin would be refreshed on every call: one
	// more round trip per query, made while every other query waits on mu.
	margin := min(c.margin, c.expiry.Sub(c.issued)/2)
	if c.tok != nil && (c.expiry.IsZero() || c.now().Add(margin).Before(c.expiry)) {
		return c.tok, nil
	}
	return c.refreshLocked()
}

// Invalidate drops tok if it is still the cached one, so the next Token call
// refreshes; a token already replaced by a concurrent caller is left alone.
func (c *TokenCache) Invalidate(tok *oauth2.Token) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == tok {
		c.tok = nil
	}
}

// refreshLocked exchanges the refresh token for a new access token. c.mu must
// be held.
func (c *TokenCache) refreshLocked() (*oauth2.Token, error) {
	start := c.now()
	// A token without an access token is never Valid, so this source always
	// goes to the token endpoint exactly once.
	tok, err := c.conf.TokenSource(c.ctx, &oauth2.Token{RefreshToken: c.refreshToken}).Token()
	if err != nil {
		return nil, err
	}
	if tok.RefreshToken != "" {
		// Google does not rotate refresh tokens today, but RFC 6749 allows it.
		c.refreshToken = tok.RefreshToken
	}
	c.tok, c.issued = tok, start
	// expires_in measured on our clock (which tests can fake), not oauth2's
	// wall-clock Expiry.
	switch {
	case tok.ExpiresIn > 0:
		c.expiry = start.Add(time.Duration(tok.ExpiresIn) * time.Second)
	case !tok.Expiry.IsZero():
		c.expiry = start.Add(time.Until(tok.Expiry))
	default:
		c.expiry = time.Time{}
	}
	return tok, nil
}
