package serverankings

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/viewtoken"
)

// TestRecentViewsNeedATokenForTheUser: without a valid token for the user asked for, nobody
// gets the views, and the answer says what is wrong; with one, the views.
func TestRecentViewsNeedATokenForTheUser(t *testing.T) {
	srv, _ := serve(t)
	mint := func(key []byte, user string, exp time.Time) string {
		tok, err := viewtoken.Mint(key, user, exp)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	otherKey := []byte(strings.Repeat("k", viewtoken.MinKeyLen))
	tests := []struct {
		name, token string
		want        int
		wantError   string // a part of the error answer
	}{
		{"no token", "", 401, "need a token for the user in the X-Recent-Views-Token header"},
		{"junk", "hello", 401, "not an rv1 token"},
		{"another key", mint(otherKey, "u1", now.Add(time.Minute)), 401, "signature does not match"},
		{"expired", mint(testKey, "u1", now), 401, "expired at 2026-03-01T12:30:00Z"},
		{"too long-lived", mint(testKey, "u1", now.Add(viewtoken.MaxLifetime+time.Second)), 401, "more than 1h0m0s from now"},
		{"another user's token", mint(testKey, "u2", now.Add(time.Minute)), 403, "the token is for another user"},
		{"the user's token", mint(testKey, "u1", now.Add(time.Minute)), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := get(t, srv.URL+"/recent_views?user_id=u1", map[string]string{ViewsTokenHeader: tt.token})
			if res.StatusCode != tt.want {
				t.Fatalf("GET /recent_views = %d %s, want %d", res.StatusCode, body, tt.want)
			}
			if tt.want == 200 {
				if !bytes.Contains(body, []byte("film-9")) {
					t.Errorf("GET /recent_views with the user's token = %s, want film-9", body)
				}
				return
			}
			if bytes.Contains(body, []byte("film-9")) || !bytes.Contains(body, []byte(tt.wantError)) {
				t.Errorf("GET /recent_views = %s, want an error with %q and no views", body, tt.wantError)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			if www := res.Header.Get("WWW-Authenticate"); (tt.want == 401) != (www != "") {
				t.Errorf("WWW-Authenticate = %q on a %d", www, tt.want)
			}
		})
	}
}

// TestRecentViewsOffByDefault: a handler given no authorizer (no key configured) refuses
// every token.
func TestRecentViewsOffByDefault(t *testing.T) {
	h := NewHandler(failingReader{}, Config{}, func() time.Time { return now })
	req := httptest.NewRequest(http.MethodGet, "/recent_views?user_id=u1", nil)
	req.Header.Set(ViewsTokenHeader, viewToken(t, "u1"))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if diff := cmp.Diff("403 "+`{"error":"recent views are off: ServeRankings has no token key (RECENT_VIEWS_KEY_SECRET)"}`,
		strings.TrimSpace(rec.Result().Status[:3]+" "+rec.Body.String())); diff != "" {
		t.Errorf("GET /recent_views with no key (-want +got):\n%s", diff)
	}
}

// TestViewsKeyFailureIsLogged: when the key cannot be read, the caller gets the generic 503
// and the log the cause.
func TestViewsKeyFailureIsLogged(t *testing.T) {
	var logs bytes.Buffer
	views := TokenAuthorizer{Key: func(context.Context) ([]byte, error) {
		return nil, errors.New("reading secret projects/p/secrets/k/versions/latest: PermissionDenied")
	}}
	h := NewHandler(failingReader{}, Config{Views: views, Log: logging.New(&logs, slog.LevelInfo)}, nil)
	req := httptest.NewRequest(http.MethodGet, "/recent_views?user_id=u1", nil)
	req.Header.Set(ViewsTokenHeader, "rv1.x.y")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || strings.Contains(rec.Body.String(), "secret") || !strings.Contains(logs.String(), "PermissionDenied") {
		t.Errorf("GET /recent_views with an unreadable key = %d %s, logged %s; want 503 without the cause, the cause logged", rec.Code, rec.Body, logs.String())
	}
}

func TestLoadConfigViewsKey(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"none", nil, ""},
		{"secret", map[string]string{"RECENT_VIEWS_KEY_SECRET": "projects/p/secrets/k/versions/latest"}, ""},
		{"not a version name", map[string]string{"RECENT_VIEWS_KEY_SECRET": "k"}, "RECENT_VIEWS_KEY_SECRET"},
		{"key at its bound", map[string]string{"RECENT_VIEWS_KEY": strings.Repeat("k", viewtoken.MinKeyLen)}, ""},
		{"key one byte short", map[string]string{"RECENT_VIEWS_KEY": strings.Repeat("k", viewtoken.MinKeyLen-1)}, "RECENT_VIEWS_KEY"},
		{"both", map[string]string{"RECENT_VIEWS_KEY": strings.Repeat("k", 40), "RECENT_VIEWS_KEY_SECRET": "projects/p/secrets/k/versions/1"}, "not both"},
	}
	for _, tt := range tests {
		env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p"}
		for k, v := range tt.env {
			env[k] = v
		}
		_, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s: LoadConfig = %v, want an error with %q", tt.name, err, tt.wantErr)
		}
	}
}
