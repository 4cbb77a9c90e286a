package serverankings

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pipelinekit/pipelinekit/shared/deck"
)

// historyStack serves the deck and an API stub behind acc, with a Backfill stub that plans and
// creates job bf-1 and counts the jobs it was asked to create.
func historyStack(t *testing.T, acc *Accounts) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var created atomic.Int32
	backfill := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost:
			b, _ := io.ReadAll(r.Body)
			if strings.Contains(string(b), `"dry_run":true`) {
				io.WriteString(w, `{"job_id":"bf-1","dry_run":true}`)
				return
			}
			created.Add(1)
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"job_id":"bf-1","created":true,"planned_tasks":28,"state":"running"}`)
		case r.URL.Path == "/backfills":
			io.WriteString(w, `{"jobs":[]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(backfill.Close)
	d, err := deck.New(deck.Config{DefaultKeyword: "pipeline", BackfillURL: backfill.URL, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	srv := httptest.NewServer(acc.Wrap(WithDeck(api, d)))
	t.Cleanup(srv.Close)
	return srv, &created
}

// TestHistoryRights: a column's history starts a backfill, so with sign-in on only a signed-in
// backfill admin may start it (the backfills panel's rule); others are told why and nothing
// reaches the Backfill function. With sign-in off it is as the panel: whoever reaches the
// function (its run.invoker holders).
func TestHistoryRights(t *testing.T) {
	for _, tc := range []struct {
		name     string
		acc      *Accounts
		path     string
		tok      string
		want     int
		wantText string
		jobs     int32
	}{
		{"signed out", &Accounts{Verifier: fakeVerifier{}}, "/deck/history", "", 401, "sign in first", 0},
		{"a forged token", &Accounts{Verifier: fakeVerifier{}}, "/deck/history", "forged", 401, "", 0},
		{"signed in, not an admin", &Accounts{Verifier: fakeVerifier{}, Admins: map[string]bool{"admin@example.com": true}},
			"/deck/history", "tok-alice", 403, "only those allowed to start backfills", 0},
		{"a backfill admin", &Accounts{Verifier: fakeVerifier{}, Admins: map[string]bool{"admin@example.com": true}},
			"/deck/history", "tok-boss-admin", 202, `"job_id":"bf-1"`, 1},
		{"a backfill admin, locally under /ServeRankings", &Accounts{Verifier: fakeVerifier{}, Admins: map[string]bool{"admin@example.com": true}},
			"/ServeRankings/deck/history", "tok-boss-admin", 202, `"term":"#gcp"`, 1},
		{"a non-admin, locally under /ServeRankings", &Accounts{Verifier: fakeVerifier{}, Admins: map[string]bool{"admin@example.com": true}},
			"/ServeRankings/deck/history", "tok-alice", 403, "", 0},
		{"sign-in off", &Accounts{}, "/deck/history", "", 202, `"created":true`, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, created := historyStack(t, tc.acc)
			got, body := call(t, http.MethodPost, srv.URL+tc.path, tc.tok, `{"q":"#GCP"}`)
			if got != tc.want || !strings.Contains(body, tc.wantText) {
				t.Errorf("POST %s as %q = %d %s, want %d with %q", tc.path, tc.tok, got, body, tc.want, tc.wantText)
			}
			if n := created.Load(); n != tc.jobs {
				t.Errorf("the Backfill function was asked to create %d jobs, want %d", n, tc.jobs)
			}
		})
	}
}
