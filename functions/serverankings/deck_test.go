package serverankings

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/config"
)

// TestWithDeckRoutes: the page, its assets and the backfills proxy go to the deck, with or
// without the local /ServeRankings prefix; the JSON endpoints (/rankings among them) to the API.
func TestWithDeckRoutes(t *testing.T) {
	backfill := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jobs":[{"job_id":"bf-1","path":"`+r.URL.Path+`"}]}`)
	}))
	defer backfill.Close()
	d, err := newDeck(t.Context(), DeckConfig{DefaultKeyword: "pipeline", Window: "1h", PollInterval: time.Second, BackfillURL: backfill.URL}, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api "+r.URL.Path) })
	srv := httptest.NewServer(WithDeck(api, d))
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		path   string
		status int
		want   string // a part of the body, or the Location of a redirect
	}{
		{"/", 200, `id="deck-config"`},
		{"/index.html", 200, `id="deck-config"`},
		{"/deck/deck.js", 200, "api_base"},
		{"/deck/backfills", 200, `"job_id":"bf-1"`},
		{"/deck/nothing", 404, ""},
		{"/rankings", 200, "api /rankings"},
		{"/rankings/hashtags", 200, "api /rankings/hashtags"},
		{"/tweets", 200, "api /tweets"},
		{"/ServeRankings/", 200, `id="deck-config"`},
		{"/ServeRankings/deck/deck.css", 200, "{"},
		{"/ServeRankings/deck/backfills", 200, `"job_id":"bf-1"`},
		{"/ServeRankings/rankings", 200, "api /ServeRankings/rankings"},
		{"/ServeRankings", 301, "/ServeRankings/"},
	} {
		resp, err := noRedirect.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got := string(b)
		if resp.StatusCode == 301 {
			got = resp.Header.Get("Location")
		}
		if resp.StatusCode != tt.status || !strings.Contains(got, tt.want) {
			t.Errorf("GET %s = %d %.80q, want %d with %q", tt.path, resp.StatusCode, got, tt.status, tt.want)
		}
	}
}

// TestLoadConfigDeck reads the deck's variables, with their defaults and their bounds.
func TestLoadConfigDeck(t *testing.T) {
	for _, tt := range []struct {
		env     map[string]string
		want    DeckConfig
		wantErr string
	}{
		{env: map[string]string{}, want: DeckConfig{DefaultKeyword: "pipeline", Window: "1h", PollInterval: 5 * time.Second}},
		{env: map[string]string{"DECK_DEFAULT_KEYWORD": "#gcp", "DECK_WINDOW": "15m", "DECK_POLL_INTERVAL": "2s", "BACKFILL_URL": "https://backfill.example"},
			want: DeckConfig{DefaultKeyword: "#gcp", Window: "15m", PollInterval: 2 * time.Second, BackfillURL: "https://backfill.example"}},
		{env: map[string]string{"DECK_WINDOW": "2h"}, wantErr: "DECK_WINDOW"},
		{env: map[string]string{"DECK_POLL_INTERVAL": "10ms"}, wantErr: "DECK_POLL_INTERVAL"},
		{env: map[string]string{"BACKFILL_URL": "backfill"}, wantErr: "BACKFILL_URL"},
		{env: map[string]string{"DECK_HEALTH_URL": "http://127.0.0.1:8080/_stack/health"},
			want: DeckConfig{DefaultKeyword: "pipeline", Window: "1h", PollInterval: 5 * time.Second, HealthURL: "http://127.0.0.1:8080/_stack/health"}},
		{env: map[string]string{"DECK_HEALTH_URL": "https://monitoring.example/health"}, wantErr: "DECK_HEALTH_URL"},
		{env: map[string]string{"DECK_HEALTH_URL": "http://10.0.0.1/_stack/health"}, wantErr: "DECK_HEALTH_URL"},
	} {
		tt.env["GOOGLE_CLOUD_PROJECT"] = "p"
		cfg, err := LoadConfig(config.Map(tt.env))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("LoadConfig(%v) error %v, want one naming %s", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("LoadConfig(%v): %v", tt.env, err)
			continue
		}
		if diff := cmp.Diff(tt.want, cfg.Deck); diff != "" {
			t.Errorf("LoadConfig(%v).Deck (-want +got):\n%s", tt.env, diff)
		}
	}
	if _, err := newDeck(t.Context(), DeckConfig{DefaultKeyword: "two words"}, nil); err == nil {
		t.Error("newDeck with a two-word keyword: no error")
	}
}
