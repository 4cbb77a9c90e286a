package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/functions/streamtweets"
)

// TestStreamWhy: the demo's problem line names why StreamTweets published nothing, from the
// fields its answer really has (marshalled from streamtweets.Summary, so a renamed field fails
// here rather than leaving the message without its cause).
func TestStreamWhy(t *testing.T) {
	tests := []struct {
		name string
		sum  streamtweets.Summary
		want string
	}{
		{"read nothing", streamtweets.Summary{NotRead: "the read window closed before a connection was made"},
			" (not_read: the read window closed before a connection was made)"},
		{"skipped", streamtweets.Summary{Skipped: true, Reason: "lease held by h1"}, " (reason: lease held by h1)"},
		{"lease lost and refused", streamtweets.Summary{
			LeaseLost: "renewal failed",
			XError:    &streamtweets.XError{Status: 401, Title: "Unauthorized", Detail: "bad token"},
			Error:     "x refused the stream",
		}, " (lease_lost: renewal failed; x_error: 401 Unauthorized bad token; error: x refused the stream)"},
		{"rules sync failed", streamtweets.Summary{Rules: &streamtweets.RulesSummary{Error: "deadline exceeded"}},
			" (rules error: deadline exceeded)"},
		{"nothing to say", streamtweets.Summary{Published: 0}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.sum)
			if err != nil {
				t.Fatal(err)
			}
			var answer map[string]any
			if err := json.Unmarshal(b, &answer); err != nil {
				t.Fatal(err)
			}
			if got := streamWhy(answer); got != tt.want {
				t.Errorf("streamWhy(%s) = %q, want %q", b, got, tt.want)
			}
		})
	}
}

// The --serve banner lists every server before the commands, and marks the ones the stack
// reused: a user who set CLOUD_TASKS_EMULATOR_HOST sees that line say so.
func TestServeBanner(t *testing.T) {
	base := serveBanner{
		Functions: "http://127.0.0.1:1", Backfill: "http://127.0.0.1:1/Backfill",
		BigQuery: "127.0.0.1:2", PubSub: "127.0.0.1:3", Firestore: "127.0.0.1:4", Tasks: "127.0.0.1:5",
		X: "http://127.0.0.1:7", Source: "some_source", SourceAPI: "http://127.0.0.1:6", Example: `{"source":"some_source"}`,
	}
	withRankings := base
	withRankings.Rankings = "http://127.0.0.1:1/ServeRankings"
	reused := withRankings
	signedIn := withRankings
	signedIn.AuthEmulator, signedIn.SignInUser, signedIn.SignInToken = "127.0.0.1:8", "demo@example.com", "TOKEN"
	reused.External = map[string]string{"CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:5"}

	tests := []struct {
		name string
		b    serveBanner
		// Each want line is the start of a line the banner must print, in this order.
		want []string
		// No line may contain any of these.
		never []string
	}{
		{
			name: "every server started by dev",
			b:    withRankings,
			want: []string{
				"== Serving until Ctrl-C",
				"   functions            http://127.0.0.1:1/{StreamTweets",
				"   Backfill API         http://127.0.0.1:1/Backfill/backfills",
				"   ServeRankings        http://127.0.0.1:1/ServeRankings/rankings",
				"   BigQuery             127.0.0.1:2   (BIGQUERY_EMULATOR_HOST=127.0.0.1:2)",
				"   Cloud Tasks          127.0.0.1:5   (CLOUD_TASKS_EMULATOR_HOST=127.0.0.1:5)",
				"   fake some_source API http://127.0.0.1:6",
				"Try:",
				`   go run ./scripts/backfill --url http://127.0.0.1:1/Backfill start - <<<'{"source":"some_source"}'`,
				`   go run ./scripts/dev query "SELECT`,
				"Rankings (windows 15m, 1h, 1d; n up to 100):",
				"   curl -s 'http://127.0.0.1:1/ServeRankings/tweets?q=%23gcp&n=5'",
			},
			never: []string{"reused", "Authorization", "Sign in", "Auth emulator"},
		},
		{
			name: "sign-in on",
			b:    signedIn,
			want: []string{
				"   ServeRankings        http://127.0.0.1:1/ServeRankings/rankings",
				"   Auth emulator        127.0.0.1:8   (FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:8)",
				"Sign in: open http://127.0.0.1:1/ServeRankings/ and sign in as demo@example.com: type it in the account box",
				"Rankings (windows 15m, 1h, 1d; n up to 100):",
				"   token='TOKEN'   # demo@example.com's ID token, for an hour",
				`   curl -s -H "Authorization: Bearer $token" 'http://127.0.0.1:1/ServeRankings/rankings/hashtags?window=15m&n=10'`,
				`   curl -s -H "Authorization: Bearer $token" -H 'X-Recent-Views-Token: `,
				`   curl -s -H "Authorization: Bearer $token" 'http://127.0.0.1:1/ServeRankings/tweets?q=%23gcp&n=5'`,
				`   curl -s -H "Authorization: Bearer $token" -i 'http://127.0.0.1:1/ServeRankings/rankings/hashtags?window=15m&n=3'`,
			},
		},
		{
			name: "Cloud Tasks reused",
			b:    reused,
			want: []string{
				"   BigQuery             127.0.0.1:2   (BIGQUERY_EMULATOR_HOST=127.0.0.1:2)\n",
				"   Cloud Tasks          127.0.0.1:5   (CLOUD_TASKS_EMULATOR_HOST=127.0.0.1:5)   reused, not started by dev\n",
				"Try:",
			},
		},
		{
			name:  "without ServeRankings",
			b:     base,
			want:  []string{"   Backfill API", "   BigQuery", "Try:"},
			never: []string{"ServeRankings", "Rankings ("},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf strings.Builder
			tt.b.write(&buf)
			out := buf.String()
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, "\n"+w)
				if i < 0 {
					t.Fatalf("no line %q after the ones before it in:\n%s", w, out)
				}
				rest = rest[i+1:]
			}
			for _, n := range tt.never {
				if strings.Contains(out, n) {
					t.Errorf("the banner says %q:\n%s", n, out)
				}
			}
		})
	}
}

// Without firebase-tools (here: an installer that fails as it does without npm), --serve says so
// in one line and runs with sign-in off.
func TestServeSignInUnavailable(t *testing.T) {
	t.Setenv("FIREBASE_AUTH_EMULATOR_HOST", "")
	root := t.TempDir()
	dir := filepath.Join(root, "scripts", "authemulator")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho 'npm is not installed: the Auth emulator (firebase-tools) needs Node.js and npm' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(dir, "install.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	em, err := serveSignIn(t.Context(), root, "p", &out)
	if err != nil || em != nil {
		t.Fatalf("serveSignIn() = %v, %v; want no emulator and no error", em, err)
	}
	want := "sign-in off: no Firebase Auth emulator (scripts/authemulator/install.sh: npm is not installed: the Auth emulator (firebase-tools) needs Node.js and npm)\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("what --serve says (-want +got):\n%s", diff)
	}
}
