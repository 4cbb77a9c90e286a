package gcloudemu

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/functest"
)

func TestRunMain(t *testing.T) {
	t.Run("cannot start: exit code 1, tests not run, reason printed", func(t *testing.T) {
		t.Setenv(PubSub.EnvVar(), "")
		var stderr strings.Builder
		ran := false
		code := runMain(func() int { ran = true; return 0 }, &stderr, []Option{WithLookPath(pathWith(nil))}, 0, PubSub)
		if code != 1 || ran {
			t.Errorf("runMain = %d (tests ran: %v), want 1 without running the tests", code, ran)
		}
		if want := "gcloud not found"; !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
		}
	})

	t.Run("reuses an emulator that answers", func(t *testing.T) {
		e, err := Start(t.Context(), PubSub, withFake(fakeServe))
		if err != nil {
			t.Fatalf("Start = %v", err)
		}
		defer e.Stop()
		t.Setenv(PubSub.EnvVar(), e.Host)
		var stderr strings.Builder
		var seen string
		// A lookPath without gcloud proves no new emulator is started.
		code := runMain(func() int { seen = os.Getenv(PubSub.EnvVar()); return 0 }, &stderr, []Option{WithLookPath(pathWith(nil))}, 0, PubSub)
		if code != 0 || seen != e.Host {
			t.Errorf("runMain = %d with %s=%q, want 0 with %q; stderr: %s", code, PubSub.EnvVar(), seen, e.Host, stderr.String())
		}
	})

	t.Run("starts one when the named one does not answer, and stops it", func(t *testing.T) {
		port, err := freePort() // nothing listens there
		if err != nil {
			t.Fatal(err)
		}
		dead := "127.0.0.1:" + strconv.Itoa(port)
		t.Setenv(PubSub.EnvVar(), dead)
		var stderr strings.Builder
		var seen string
		code := runMain(func() int { seen = os.Getenv(PubSub.EnvVar()); return 7 }, &stderr, []Option{withFake(fakeServe)}, 0, PubSub)
		if code != 7 {
			t.Errorf("runMain = %d, want the tests' code 7", code)
		}
		if seen == dead || seen == "" {
			t.Errorf("tests saw %s=%q, want a newly started emulator", PubSub.EnvVar(), seen)
		}
		if !strings.Contains(stderr.String(), "does not answer") {
			t.Errorf("stderr = %q, want it to say the named emulator does not answer", stderr.String())
		}
		if err := Ping(t.Context(), seen); err == nil {
			t.Errorf("Ping(%s) after runMain = nil, want the emulator stopped", seen)
		}
	})
}

// Tests that outlive the guard (a binary about to hit go test's -timeout and panic, which
// runs no cleanup) find their emulator stopped while they still run.
func TestMainStopsEmulatorsBeforeTheTimeout(t *testing.T) {
	t.Setenv(PubSub.EnvVar(), "")
	var stderr functest.Buffer
	var seen string
	stoppedWhileRunning := false
	code := runMain(func() int {
		seen = os.Getenv(PubSub.EnvVar())
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if Ping(t.Context(), seen) != nil {
				stoppedWhileRunning = true
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return 0
	}, &stderr, []Option{withFake(fakeServe)}, 500*time.Millisecond, PubSub)
	if code != 0 {
		t.Errorf("runMain = %d, want 0", code)
	}
	if !stoppedWhileRunning {
		t.Errorf("the emulator at %q still answered a minute into the tests, want it stopped after 500ms", seen)
	}
	if !strings.Contains(stderr.String(), "close to the test timeout") {
		t.Errorf("stderr = %q, want it to say why the emulators were stopped", stderr.String())
	}
}

func TestStopBefore(t *testing.T) {
	for _, tc := range []struct{ timeout, want time.Duration }{
		{0, 0},
		{10 * time.Minute, 10*time.Minute - 30*time.Second},
		{20 * time.Second, 18 * time.Second},
	} {
		if got := stopBefore(tc.timeout); got != tc.want {
			t.Errorf("stopBefore(%v) = %v, want %v", tc.timeout, got, tc.want)
		}
	}
}

func TestNewProjectID(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	tests := []string{"simple", "With Spaces/and_UPPER", "a-very-long-test-name-that-goes-on-and-on", "x"}
	for _, name := range tests {
		t.Run(name, func(t *testing.T) {
			a, b := NewProjectID(t), NewProjectID(t)
			if !valid.MatchString(a) {
				t.Errorf("NewProjectID() = %q, want it to match %s", a, valid)
			}
			if a == b {
				t.Errorf("NewProjectID() twice = %q both times, want distinct ids", a)
			}
		})
	}
}
