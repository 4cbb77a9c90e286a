package localstack

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/signin"
	"github.com/pipelinekit/pipelinekit/shared/signin/authemu"
)

// The people of a stack with sign-in on (Options.AuthEmulatorHost). Both are backfill admins
// (DECK_BACKFILL_ADMINS), as the members of backfill_invokers are in production, so the deck's
// backfills panel shows for them.
const (
	// StackUser is who the stack's own clients (the rankings checks, the drills) sign in as.
	StackUser = "stack@example.com"
	// DemoUser is the person `dev --serve` signs in and tells to sign in as.
	DemoUser = "demo@example.com"
)

// EmulatorAPIKey is the web API key ServeRankings gives the page (DECK_FIREBASE_API_KEY) with
// sign-in against the Auth emulator, which accepts any key.
const EmulatorAPIKey = "fake-api-key"

// tokenReuse is how long the stack reuses an ID token before signing in again: the emulator's
// tokens expire an hour after they are issued, as Google's do
// (https://firebase.google.com/docs/auth/admin/manage-sessions).
const tokenReuse = 50 * time.Minute

// signInEnv is ServeRankings' environment with sign-in on against the Auth emulator at host
// (docs/sign-in.md, "Locally").
func signInEnv(host string) map[string]string {
	return map[string]string{
		"DECK_AUTH":             "firebase",
		signin.EmulatorHostEnv:  host,
		"DECK_FIREBASE_API_KEY": EmulatorAPIKey,
		"DECK_BACKFILL_ADMINS":  StackUser + "," + DemoUser,
	}
}

// stackTokens keeps the stack's ID token for StackUser.
type stackTokens struct {
	host  string
	mu    sync.Mutex
	token string
	at    time.Time
}

// SignInAs signs email in on the stack's Auth emulator (creating the account on first use) and
// returns its ID token for ServeRankings' Authorization header.
func (s *Stack) SignInAs(ctx context.Context, email string) (string, error) {
	if s.tokens == nil {
		return "", errors.New("sign-in is off on this stack (no Options.AuthEmulatorHost)")
	}
	return authemu.SignInAs(ctx, s.tokens.host, EmulatorAPIKey, email)
}

// AuthEmulatorHost is the Auth emulator's host:port ServeRankings verifies tokens with; empty
// with sign-in off.
func (s *Stack) AuthEmulatorHost() string {
	if s.tokens == nil {
		return ""
	}
	return s.tokens.host
}

// SignInOn reports whether ServeRankings runs with sign-in on.
func (s *Stack) SignInOn() bool { return s.tokens != nil }

// authorization is the Authorization header the stack's clients send ServeRankings: empty with
// sign-in off, else StackUser's ID token, signed in again before it expires.
func (s *Stack) authorization(ctx context.Context) (string, error) {
	t := s.tokens
	if t == nil {
		return "", nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == "" || time.Since(t.at) > tokenReuse {
		tok, err := authemu.SignInAs(ctx, t.host, EmulatorAPIKey, StackUser)
		if err != nil {
			return "", err
		}
		t.token, t.at = tok, time.Now()
	}
	return "Bearer " + t.token, nil
}

// hasHeader reports whether the name/value pairs set name.
func hasHeader(header []string, name string) bool {
	for i := 0; i+1 < len(header); i += 2 {
		if strings.EqualFold(header[i], name) {
			return true
		}
	}
	return false
}
