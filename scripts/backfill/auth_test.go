package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// countingSource mints tok-1, tok-2, ... each living for life.
type countingSource struct {
	mu   sync.Mutex
	n    int
	life time.Duration
}

func (c *countingSource) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", c.n), TokenType: "Bearer", Expiry: time.Now().Add(c.life)}, nil
}

func TestAuthorization(t *testing.T) {
	tests := []struct {
		name      string
		url       string // "" means the server's own 127.0.0.1 URL
		flags     []string
		life      time.Duration
		audience  string // what the token source must be asked for; "" means not asked
		wantAuths []string
	}{
		{"deployed: an identity token for the URL", "http://backfill.example.com/", nil, time.Hour,
			"http://backfill.example.com", []string{"Bearer tok-1", "Bearer tok-1"}},
		{"deployed with a path and --audience", "http://europe-west1-p.cloudfunctions.example/Backfill",
			[]string{"--audience", "https://aud.example"}, time.Hour, "https://aud.example", []string{"Bearer tok-1", "Bearer tok-1"}},
		{"a token near expiry is replaced", "http://backfill.example.com", nil, time.Minute,
			"http://backfill.example.com", []string{"Bearer tok-1", "Bearer tok-2"}},
		{"--token", "http://backfill.example.com", []string{"--token", "given"}, time.Hour,
			"", []string{"Bearer given", "Bearer given"}},
		{"127.0.0.1: none", "", nil, time.Hour, "", []string{"", ""}},
		{"localhost: none", "http://localhost:1", nil, time.Hour, "", []string{"", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{statuses: progression("done", 62)[2:]}
			srv := newFakeAPI(t, f)
			a, _, stderr := testApp(t, srv)
			a.transport = redirectTransport(t, srv.Listener.Addr().String())
			var asked []string
			a.tokens = func(_ context.Context, aud string) (oauth2.TokenSource, error) {
				asked = append(asked, aud)
				return &countingSource{life: tt.life}, nil
			}
			u := tt.url
			if u == "" {
				u = srv.URL
			}
			args := append([]string{"--url", u, "--interval", "1ms"}, tt.flags...)
			if code := a.run(t.Context(), append(args, "watch", testJob)); code != exitOK {
				t.Errorf("watch against %s exit = %d, want 0; stderr:\n%s", u, code, stderr)
			}
			var wantAsked []string
			if tt.audience != "" {
				wantAsked = []string{tt.audience}
			}
			if diff := cmp.Diff(wantAsked, asked); diff != "" {
				t.Errorf("audiences asked for (-want +got):\n%s", diff)
			}
			var auths []string
			for _, r := range f.seen() {
				auths = append(auths, r.Auth)
			}
			if diff := cmp.Diff(tt.wantAuths, auths); diff != "" {
				t.Errorf("Authorization headers (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTokenSourceErrorFails(t *testing.T) {
	var stdout, stderr strings.Builder
	a := newApp(&stdout, &stderr)
	a.tokens = func(context.Context, string) (oauth2.TokenSource, error) { return nil, errors.New("no credentials") }
	if code := a.run(t.Context(), []string{"--url", "https://backfill.example.com", "status", "x"}); code != exitError {
		t.Errorf("status with no credentials exit = %d, want %d", code, exitError)
	}
	if want := "backfill: getting identity tokens for https://backfill.example.com: no credentials\n"; stderr.String() != want {
		t.Errorf("stderr = %q, want %q", stderr.String(), want)
	}
}

// failingSource never has a token.
type failingSource struct{ calls int }

func (f *failingSource) Token() (*oauth2.Token, error) {
	f.calls++
	return nil, errors.New("could not find default credentials")
}

func TestNoCredentialsIsNotRetried(t *testing.T) {
	f := &fakeAPI{statuses: progression("done", 62)}
	srv := newFakeAPI(t, f)
	a, _, stderr := testApp(t, srv)
	a.transport = redirectTransport(t, srv.Listener.Addr().String())
	src := &failingSource{}
	a.tokens = func(context.Context, string) (oauth2.TokenSource, error) { return src, nil }
	if code := a.run(t.Context(), []string{"--url", "http://backfill.example.com", "--interval", "1ms", "watch", testJob}); code != exitError {
		t.Errorf("watch without credentials exit = %d, want %d", code, exitError)
	}
	if want := "getting an identity token: could not find default credentials\n"; !strings.HasSuffix(stderr.String(), want) {
		t.Errorf("watch without credentials stderr = %q, want it to end with %q", stderr, want)
	}
	if src.calls != 1 || len(f.seen()) != 0 {
		t.Errorf("watch without credentials: %d token calls and %d requests, want 1 and 0", src.calls, len(f.seen()))
	}
}

func TestIsLocal(t *testing.T) {
	for raw, want := range map[string]bool{
		"http://127.0.0.1:8080": true, "http://localhost:8080": true, "http://[::1]:8080": true,
		"http://127.1.2.3": true, "http://api.localhost": true,
		"https://backfill-xyz-uc.a.run.app": false, "http://10.0.0.1": false, "http://localhost.example.com": false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := isLocal(u); got != want {
			t.Errorf("isLocal(%s) = %v, want %v", raw, got, want)
		}
	}
}

func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".sig"
}

func TestJWTExpiry(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		tok  string
		want time.Time
	}{
		{jwt(`{"aud":"x","exp":1750000000}`), time.Unix(1750000000, 0)},
		{jwt(`{"aud":"x"}`), now.Add(time.Hour)},
		{"not-a-jwt", now.Add(time.Hour)},
		{"a.!!!.c", now.Add(time.Hour)},
	}
	for _, tt := range tests {
		if got := jwtExpiry(tt.tok, now); !got.Equal(tt.want) {
			t.Errorf("jwtExpiry(%q) = %v, want %v", tt.tok, got, tt.want)
		}
	}
}

func TestGcloudSourceFallsBackToNoAudience(t *testing.T) {
	tok := jwt(`{"exp":1750000000}`)
	tests := []struct {
		name      string
		sa        bool // --audiences works, as for a service account
		wantCalls []string
	}{
		{"service account", true, []string{
			"auth print-identity-token --audiences=https://aud", "auth print-identity-token --audiences=https://aud"}},
		{"user account", false, []string{
			"auth print-identity-token --audiences=https://aud", "auth print-identity-token", "auth print-identity-token"}},
	}
	for _, tt := range tests {
		var calls []string
		g := &gcloudSource{ctx: t.Context(), audience: "https://aud", run: func(_ context.Context, args ...string) ([]byte, error) {
			calls = append(calls, strings.Join(args, " "))
			if strings.HasPrefix(args[len(args)-1], "--audiences") && !tt.sa {
				return nil, errors.New("Invalid account type for `--audiences`. Requires valid service account.")
			}
			return []byte(tok + "\n"), nil
		}}
		for range 2 {
			got, err := g.Token()
			if err != nil {
				t.Fatalf("%s: Token() error = %v", tt.name, err)
			}
			if got.AccessToken != tok || !got.Expiry.Equal(time.Unix(1750000000, 0)) {
				t.Errorf("%s: Token() = %q expiring %v, want the JWT expiring at its exp", tt.name, got.AccessToken, got.Expiry)
			}
		}
		if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
			t.Errorf("%s: gcloud calls (-want +got):\n%s", tt.name, diff)
		}
	}
}

// flakySource fails with err after its first ok tokens.
type flakySource struct {
	ok  int
	err error
}

func (f *flakySource) Token() (*oauth2.Token, error) {
	if f.ok == 0 {
		return nil, f.err
	}
	f.ok--
	return &oauth2.Token{AccessToken: "adc"}, nil
}

func TestFallbackSource(t *testing.T) {
	blip := errors.New("metadata server blip")
	tests := []struct {
		name    string
		first   func() (oauth2.TokenSource, error)
		want    []string // tokens, or "error" for a failed call
		wantErr error
	}{
		{"ADC works", func() (oauth2.TokenSource, error) { return &flakySource{ok: 9}, nil }, []string{"adc", "adc", "adc"}, nil},
		{"no ADC", func() (oauth2.TokenSource, error) { return nil, errors.New("no credentials") },
			[]string{"gcloud", "gcloud", "gcloud"}, nil},
		{"ADC refuses user credentials at the first token", func() (oauth2.TokenSource, error) {
			return &flakySource{err: errors.New("unsupported credentials type")}, nil
		}, []string{"gcloud", "gcloud", "gcloud"}, nil},
		{"ADC worked, then a blip is an error, not a switch", func() (oauth2.TokenSource, error) {
			return &flakySource{ok: 1, err: blip}, nil
		}, []string{"adc", "error", "error"}, blip},
	}
	for _, tt := range tests {
		f := &fallbackSource{first: tt.first, second: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "gcloud"})}
		var got []string
		for range 3 {
			tok, err := f.Token()
			if err != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("%s: Token() error = %v, want %v", tt.name, err, tt.wantErr)
				}
				got = append(got, "error")
				continue
			}
			got = append(got, tok.AccessToken)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: tokens (-want +got):\n%s", tt.name, diff)
		}
	}
}
