package gcloudemu

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/functest"
)

// withFake makes Start run this test binary as gcloud in the given mode.
func withFake(mode string) Option {
	return func(c *config) {
		c.lookPath = fakeLookPath
		c.extraEnv = append(c.extraEnv, fakeModeEnv+"="+mode)
	}
}

func TestStopKillsTheWholeGroup(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		wantWarn bool // SIGKILL was needed
	}{
		{name: "server child exits on SIGTERM", mode: fakeServe},
		{name: "wrapper and child ignore SIGTERM", mode: fakeStubborn, wantWarn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port, err := freePort()
			if err != nil {
				t.Fatal(err)
			}
			var logs functest.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			e, err := Start(t.Context(), PubSub, withFake(tt.mode), WithPort(port), WithStopGrace(200*time.Millisecond), WithLogger(logger))
			if err != nil {
				t.Fatalf("Start = %v", err)
			}
			if want := "127.0.0.1:" + strconv.Itoa(port); e.Host != want {
				t.Errorf("Host = %q, want %q", e.Host, want)
			}
			if pids, ok := groupMembers(e.cmd.Process.Pid); ok && len(pids) != 2 {
				t.Errorf("group members before Stop = %v, want the wrapper and its server child", pids)
			}
			if err := e.Stop(); err != nil {
				t.Errorf("Stop() = %v", err)
			}
			assertStopped(t, e)
			if got := strings.Contains(logs.String(), "ignored SIGTERM"); got != tt.wantWarn {
				t.Errorf("logged %q = %v, want %v; logs:\n%s", "ignored SIGTERM", got, tt.wantWarn, logs.String())
			}
		})
	}
}

// TestStartRetriesATakenPort drills what failed CI on 2026-12-07: the port
// picked free was taken before the Pub/Sub emulator bound it, and the
// emulator, logging its BindException, ran on without a listener.
func TestStartRetriesATakenPort(t *testing.T) {
	t.Run("taken once, then free", func(t *testing.T) {
		var out functest.Buffer
		state := filepath.Join(t.TempDir(), "bound-once")
		// A start bound far above a retry's few seconds: if the bind failure
		// were not seen, Start would wait it out and the error would say so.
		e, err := Start(t.Context(), PubSub, withFake(fakeBindOnce), WithOutput(&out),
			WithStopGrace(200*time.Millisecond), WithStartTimeout(2*time.Minute),
			func(c *config) { c.extraEnv = append(c.extraEnv, fakeStateEnv+"="+state) })
		if err != nil {
			t.Fatalf("Start = %v, want the second port to work", err)
		}
		defer e.Stop()
		if got := strings.Count(out.String(), "BindException"); got != 1 {
			t.Errorf("output holds %d BindExceptions, want 1 (the first start's); output:\n%s", got, out.String())
		}
		if err := Ping(t.Context(), e.Host); err != nil {
			t.Errorf("Ping(%s) = %v", e.Host, err)
		}
	})
	t.Run("always taken", func(t *testing.T) {
		var out functest.Buffer
		_, err := Start(t.Context(), PubSub, withFake(fakeBindHang), WithOutput(&out),
			WithStopGrace(200*time.Millisecond), WithStartTimeout(2*time.Minute))
		if !errors.Is(err, errAddressInUse) {
			t.Fatalf("Start = %v, want errAddressInUse", err)
		}
		if want := "java.net.BindException: Address already in use"; !strings.Contains(err.Error(), want) {
			t.Errorf("Start error = %q, want it to quote %q", err, want)
		}
		// Every attempt's server child is gone.
		children := regexp.MustCompile(`server pid (\d+)`).FindAllStringSubmatch(out.String(), -1)
		if len(children) != 3 {
			t.Errorf("%d server children started, want 3 (one a port tried)", len(children))
		}
		for _, m := range children {
			pid, _ := strconv.Atoi(m[1])
			if processLive(pid) {
				t.Errorf("server child %d still alive after the failed Start", pid)
			}
		}
	})
}

func TestStartFailures(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		opts    []Option
		want    []string // substrings of the error
		notWant []string
		child   bool // the server child was started and must be gone
		// hangBounds are start bounds to try in turn until one outlasts the server child's start.
		hangBounds []time.Duration
	}{
		{
			name:    "exits before answering",
			mode:    fakeExit,
			want:    []string{"Pub/Sub emulator on 127.0.0.1:", "exited before answering (exit status 3)", "fake line 29", "fake: cannot start"},
			notWant: []string{"fake line 5\n"}, // only the tail is quoted
		},
		{
			name: "never answers",
			mode: fakeHang,
			opts: []Option{WithStopGrace(200 * time.Millisecond)},
			want: []string{"waiting for Pub/Sub emulator on 127.0.0.1:", "context deadline exceeded", "Executing: fake server"},
			// The start bound must outlast the fake's start of its server child, or there is no
			// child whose end to check: on a loaded machine 1 s was not always enough, so the
			// bound grows until the child was started within it.
			hangBounds: []time.Duration{time.Second, 5 * time.Second, 30 * time.Second},
			child:      true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out *functest.Buffer
			var err error
			bounds := tt.hangBounds
			if len(bounds) == 0 {
				bounds = []time.Duration{0} // the default bound
			}
			for _, bound := range bounds {
				out = &functest.Buffer{}
				opts := append(tt.opts, withFake(tt.mode), WithOutput(out))
				if bound > 0 {
					opts = append(opts, WithStartTimeout(bound))
				}
				var e *Emulator
				if e, err = Start(t.Context(), PubSub, opts...); err == nil {
					e.Stop()
					t.Fatalf("Start = nil error, want one")
				}
				if bound > 0 && !strings.Contains(err.Error(), fmt.Sprintf("to answer after %v:", bound)) {
					t.Errorf("Start error = %q, want it to name the bound %v", err, bound)
				}
				if !tt.child || strings.Contains(out.String(), "server pid ") {
					break
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Start error = %q, want it to contain %q", err, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(err.Error(), w) {
					t.Errorf("Start error = %q, want it not to contain %q", err, w)
				}
			}
			// A failed start must not leave the server child behind.
			children := regexp.MustCompile(`server pid (\d+)`).FindAllStringSubmatch(out.String(), -1)
			if tt.child && len(children) == 0 {
				t.Errorf("output %q names no server child, want one", out.String())
			}
			for _, m := range children {
				pid, _ := strconv.Atoi(m[1])
				if processLive(pid) {
					t.Errorf("server child %d still alive after the failed Start", pid)
				}
			}
		})
	}
}

// processLive reports whether pid is a live (not zombie) process.
func processLive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	f := bytes.Fields(b[i+1:])
	return len(f) > 0 && string(f[0]) != "Z" && string(f[0]) != "X"
}
