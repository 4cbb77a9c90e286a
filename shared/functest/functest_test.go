package functest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/google/go-cmp/cmp"
)

// probeEnv is a variable the child's Greet function answers with, to see what the child inherits.
const probeEnv = "FUNCTEST_PROBE"

func init() {
	functions.HTTP("Greet", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", os.Getenv(probeEnv))
	})
}

func TestMain(m *testing.M) {
	ServeChildIfAsked(func() error {
		// A function registered by path alone, as the local stack registers Backfill's subtree.
		return funcframework.RegisterHTTPFunctionContext(context.Background(), "/greet/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "subtree")
		})
	})
	os.Exit(m.Run())
}

func TestRegisteredEntryPoints(t *testing.T) {
	// Both would change what the child serves: FUNCTION_TARGET always goes, the probe as asked.
	t.Setenv("FUNCTION_TARGET", "Greet")
	t.Setenv(probeEnv, "from the parent")
	names, base := RegisteredEntryPoints(t, probeEnv)
	if diff := cmp.Diff([]string{"", "Greet"}, names); diff != "" {
		t.Errorf("RegisteredEntryPoints() names mismatch (-want +got):\n%s", diff)
	}
	tests := []struct {
		method, path, body string
		wantStatus         int
		wantAnswer         string
	}{
		{http.MethodGet, "/Greet", "", http.StatusOK, "hello "},
		{http.MethodPost, "/greet/more", "{}", http.StatusOK, "subtree"},
		{http.MethodGet, "/SomethingElse", "", http.StatusNotFound, "404 page not found\n"},
	}
	for _, tt := range tests {
		if status, answer := Request(t, tt.method, base+tt.path, tt.body); status != tt.wantStatus || answer != tt.wantAnswer {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, status, answer, tt.wantStatus, tt.wantAnswer)
		}
	}
}

func TestBufferConcurrentWrites(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Errorf("len(String()) = %d after 800 one-byte writes, want 800", got)
	}
}

func TestLoggerWritesCloudLoggingJSON(t *testing.T) {
	logger, logs := Logger()
	logger.Debug("first", "k", "v")
	logger.Error("second")
	lines := LogLines(t, logs.String())
	if len(lines) != 2 {
		t.Fatalf("LogLines() = %d lines, want 2:\n%s", len(lines), logs)
	}
	for i, want := range []map[string]any{{"severity": "DEBUG", "message": "first", "k": "v"}, {"severity": "ERROR", "message": "second"}} {
		for k, v := range want {
			if lines[i][k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, lines[i][k], v)
			}
		}
	}
}

// recorder is a testing.TB that records what is reported.
type recorder struct {
	testing.TB
	reports []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.reports = append(r.reports, fmt.Sprintf(format, args...))
}

func TestCheckError(t *testing.T) {
	err := errors.New("A: required but not set; B: not a number")
	tests := []struct {
		name     string
		err      error
		mentions []string
		want     []string // reports, each by its first words
	}{
		{name: "nil wanted and got", err: nil},
		{name: "every text mentioned", err: err, mentions: []string{"A: required", "B"}},
		{name: "error where none wanted", err: err, want: []string{"F() error = A: required but not set; B: not a number, want nil"}},
		{name: "a text missing", err: err, mentions: []string{"A", "C", "D"}, want: []string{
			`F() error = A: required but not set; B: not a number, want one mentioning "C"`,
			`F() error = A: required but not set; B: not a number, want one mentioning "D"`}},
		{name: "no error where one wanted", err: nil, mentions: []string{"A"}, want: []string{`F() error = <nil>, want one mentioning "A"`}},
	}
	for _, tt := range tests {
		r := &recorder{TB: t}
		CheckError(r, "F()", tt.err, tt.mentions...)
		if diff := cmp.Diff(tt.want, r.reports); diff != "" {
			t.Errorf("%s: reports mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestCheckLoadConfig(t *testing.T) {
	load := func(lookup func(string) (string, bool)) (string, error) {
		v, ok := lookup("NAME")
		if !ok {
			return "", errors.New("NAME: required but not set")
		}
		return strings.ToUpper(v), nil
	}
	CheckLoadConfig(t, load, []ConfigCase[string]{
		{Name: "set", Env: map[string]string{"NAME": "x"}, Want: "X"},
		{Name: "missing", Env: map[string]string{}, WantErr: []string{"NAME: required"}},
	})
}
