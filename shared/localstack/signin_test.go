package localstack

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/deck/deckcheck"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/signin/authemu"
)

// TestServeSignsIn is `dev --serve`'s sign-in path (Options.AuthEmulatorHost): ServeRankings
// refuses data requests without an ID token and answers the demo user's; the stack's own
// clients (the readiness wait, the rankings and recent-views checks) read it with theirs; in
// Chromium the page loads, the demo user signs in through the emulator box and the deck shows
// the sample content signed in. Its screenshots are docs/deck-desktop.png and deck-phone.png
// (DECK_SCREENSHOTS, docs/deck.md).
func TestServeSignsIn(t *testing.T) {
	b := deckcheck.NewBrowser(t) // skips, naming the install command, without Chromium
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	project, em := runAuthEmulator(ctx, t)
	s, err := Start(ctx, Options{Project: project, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Rankings: true,
		AuthEmulatorHost: em.Host, FunctionsEnv: map[string]string{"DECK_WINDOW": "1d", "DECK_POLL_INTERVAL": "300ms"}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if !s.SignInOn() {
		t.Fatal("SignInOn() = false with AuthEmulatorHost set")
	}
	demo, err := s.SignInAs(ctx, DemoUser)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path, auth string
		want             int
	}{
		{"the page, signed out", "/", "", http.StatusOK},
		{"a ranking without a token", "/rankings/hashtags?window=15m", "", http.StatusUnauthorized},
		{"a ranking with a made-up token", "/rankings/hashtags?window=15m", "Bearer not-a-token", http.StatusUnauthorized},
		{"a ranking with the demo user's token", "/rankings/hashtags?window=15m", "Bearer " + demo, http.StatusOK},
		{"the demo user's column sets", "/column_sets", "Bearer " + demo, http.StatusOK},
		{"the health panel for the demo user (a backfill admin)", "/deck/health", "Bearer " + demo, http.StatusOK},
	} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Rankings.URL+c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: GET %s = %d, want %d", c.name, c.path, resp.StatusCode, c.want)
		}
	}

	d := deckcheck.NewDeckUnderTest(s.Rankings.URL+"/", deckPublisher(ctx, s))
	now := time.Now().UTC().Truncate(time.Second)
	deckcheck.SeedSample(t, d, now, filepath.Join("testdata", "sample_stream.jsonl"))
	// The stack's own clients read ServeRankings signed in as StackUser.
	checks, err := s.WaitRankings(ctx, []string{"u1"}, time.Minute)
	if err != nil {
		t.Fatalf("the rankings checks with sign-in on: %v", err)
	}
	for _, c := range checks {
		if !c.Equal {
			t.Errorf("%s %s served != SQL (-served +truth):\n%s", c.Ranking, c.Window, cmp.Diff(c.Served, c.Truth))
		}
	}

	b.Open(s.Rankings.URL + "/")
	deckcheck.SignInEmulator(t, b, DemoUser)
	deckcheck.Screenshots(t, b)
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("the page logged console errors: %q", errs)
	}
}

// runAuthEmulator starts the Firebase Auth emulator for a new project, stopped when t ends; it
// skips t where the emulator is not installed (scripts/authemulator/install.sh).
func runAuthEmulator(ctx context.Context, t *testing.T) (string, *authemu.Emulator) {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	project := gcloudemu.NewProjectID(t)
	em, err := authemu.Run(ctx, root, project)
	if errors.Is(err, authemu.ErrUnavailable) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	return project, em
}
