package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/idtoken"
)

// refreshEarly is how long before its expiry a token is replaced, so a request made during a
// long watch never carries a token that expires in flight.
const refreshEarly = 5 * time.Minute

// tokenSourceFunc returns identity tokens for an audience.
type tokenSourceFunc func(ctx context.Context, audience string) (oauth2.TokenSource, error)

// client builds the API client for the options: no auth for a local URL, --token if given,
// else identity tokens from a.tokens, refreshed before they expire.
func (a *app) client(ctx context.Context, o options) (*client, error) {
	base := strings.TrimRight(o.url, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--url %q is not an http(s) URL: %w", o.url, errUsage)
	}
	rt := a.transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	var ts oauth2.TokenSource
	switch {
	case o.token != "":
		ts = oauth2.StaticTokenSource(&oauth2.Token{AccessToken: o.token, TokenType: "Bearer"})
	case isLocal(u):
		// The local stack has no auth, and no credentials should be needed to use it.
	default:
		aud := o.audience
		if aud == "" {
			aud = base
		}
		src, err := a.tokens(ctx, aud)
		if err != nil {
			return nil, fmt.Errorf("getting identity tokens for %s: %w", aud, err)
		}
		ts = oauth2.ReuseTokenSourceWithExpiry(nil, &authSource{src: src}, refreshEarly)
	}
	if ts != nil {
		rt = &oauth2.Transport{Source: ts, Base: rt}
	}
	return &client{base: base, http: &http.Client{Transport: rt}}, nil
}

// authSource tells a first token that cannot be had (no credentials: retrying will not help)
// from a refresh that fails during a watch (likely a blip: the watch retries).
type authSource struct {
	src oauth2.TokenSource

	mu  sync.Mutex
	got bool
}

// Token implements oauth2.TokenSource.
func (a *authSource) Token() (*oauth2.Token, error) {
	t, err := a.src.Token()
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil && !a.got {
		return nil, &authError{err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("refreshing the identity token: %w", err)
	}
	a.got = true
	return t, nil
}

// authError is the failure to get any identity token.
type authError struct{ err error }

func (e *authError) Error() string { return "getting an identity token: " + e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// isLocal reports whether u points at this machine (the local stack).
func isLocal(u *url.URL) bool {
	h := u.Hostname()
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// defaultTokenSource tries Application Default Credentials (a service-account key or the
// metadata server), then gcloud. idtoken refuses user credentials (gcloud auth
// application-default login), which is the usual case on a laptop, hence the fallback.
func defaultTokenSource(ctx context.Context, audience string) (oauth2.TokenSource, error) {
	return &fallbackSource{
		first: func() (oauth2.TokenSource, error) { return idtoken.NewTokenSource(ctx, audience) },
		second: &gcloudSource{
			ctx: ctx, audience: audience,
			run: func(ctx context.Context, args ...string) ([]byte, error) {
				var stderr bytes.Buffer
				cmd := exec.CommandContext(ctx, "gcloud", args...)
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					return nil, fmt.Errorf("running gcloud %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
				}
				return out, nil
			},
		},
	}, nil
}

// fallbackSource uses first if it builds and mints a first token; otherwise it uses second for
// good. Once first has worked its errors are returned as they are: a blip of the metadata
// server should be retried, not switch identities.
type fallbackSource struct {
	first  func() (oauth2.TokenSource, error)
	second oauth2.TokenSource

	mu       sync.Mutex
	ts       oauth2.TokenSource
	firstErr error
	worked   bool
}

// Token implements oauth2.TokenSource.
func (f *fallbackSource) Token() (*oauth2.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ts == nil && f.firstErr == nil {
		f.ts, f.firstErr = f.first()
	}
	if f.firstErr == nil {
		t, err := f.ts.Token()
		if err == nil || f.worked {
			f.worked = f.worked || err == nil
			return t, err
		}
		f.firstErr = err
	}
	t, err := f.second.Token()
	if err != nil {
		return nil, fmt.Errorf("no identity token from Application Default Credentials (%v) nor gcloud: %w", f.firstErr, err)
	}
	return t, nil
}

// gcloudSource mints identity tokens with gcloud auth print-identity-token. --audiences works
// only for service accounts (including impersonated ones); for a user account it fails, and
// the token without an audience is what Cloud Run accepts from developers.
type gcloudSource struct {
	ctx      context.Context
	audience string
	run      func(ctx context.Context, args ...string) ([]byte, error)

	mu     sync.Mutex
	noAuds bool
}

// Token implements oauth2.TokenSource.
func (g *gcloudSource) Token() (*oauth2.Token, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []byte
	var err error
	if !g.noAuds {
		out, err = g.run(g.ctx, "auth", "print-identity-token", "--audiences="+g.audience)
		if err != nil {
			g.noAuds = true
		}
	}
	if g.noAuds {
		out, err = g.run(g.ctx, "auth", "print-identity-token")
	}
	if err != nil {
		return nil, err
	}
	tok := strings.TrimSpace(string(out))
	if tok == "" {
		return nil, fmt.Errorf("gcloud auth print-identity-token printed no token")
	}
	return &oauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: jwtExpiry(tok, time.Now())}, nil
}

// jwtExpiry reads a JWT's exp claim without checking the signature (the server checks it);
// when it cannot, it assumes the shortest life Google's ID tokens have, one hour from now.
func jwtExpiry(tok string, now time.Time) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "=")); err == nil {
			var claims struct {
				Exp int64 `json:"exp"`
			}
			if json.Unmarshal(payload, &claims) == nil && claims.Exp > 0 {
				return time.Unix(claims.Exp, 0)
			}
		}
	}
	return now.Add(time.Hour)
}
