package gcloudemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Main runs the tests of a package that needs the given emulators and
// returns the exit code, for use as os.Exit(gcloudemu.Main(m, gcloudemu.PubSub)).
//
// An emulator already named by its environment variable (a developer's or
// .ci/run's, shared across packages) is reused if it answers; otherwise one is
// started for this package, the variable set, and the emulator stopped after
// m.Run. It never skips: if an emulator cannot be started it prints why and
// returns 1, because a test suite that silently does nothing passes nothing.
//
// The emulators run in their own process groups, so nothing ends them when the test binary
// dies without returning from m.Run: on `go test`'s -timeout panic (a busy machine) or an
// interrupt they would stay behind, each holding hundreds of MB. Main stops them shortly
// before the timeout fires, and on SIGINT or SIGTERM before the signal takes its course.
func Main(m *testing.M, kinds ...Kind) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	var timeout time.Duration
	if f := flag.Lookup("test.timeout"); f != nil {
		if g, ok := f.Value.(flag.Getter); ok {
			timeout, _ = g.Get().(time.Duration)
		}
	}
	return runMain(m.Run, os.Stderr, nil, stopBefore(timeout), kinds...)
}

// stopBefore is how long after the tests start Main stops the emulators of a binary whose
// tests have not returned: ahead of the timeout by a tenth of it, at most 30 s (a stop takes
// seconds). 0: never (no timeout).
func stopBefore(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return 0
	}
	return timeout - min(timeout/10, 30*time.Second)
}

func runMain(run func() int, stderr io.Writer, opts []Option, stopAfter time.Duration, kinds ...Kind) int {
	ctx := context.Background()
	var started []*Emulator
	stopAll := func() int {
		code := 0
		for _, e := range started {
			if err := e.Stop(); err != nil {
				fmt.Fprintf(stderr, "gcloudemu: %v\n", err)
				code = 1
			}
		}
		return code
	}
	for _, k := range kinds {
		if host := os.Getenv(k.EnvVar()); host != "" {
			err := Ping(ctx, host)
			if err == nil {
				continue
			}
			fmt.Fprintf(stderr, "gcloudemu: %s=%s does not answer (%v); starting a %s emulator for this package\n", k.EnvVar(), host, err, k.displayName())
		}
		// A package's tests start the emulators while other packages' tests load the machine:
		// a Java start has taken over a minute there.
		e, err := Start(ctx, k, append([]Option{WithStartTimeout(DefaultStartTimeout)}, opts...)...)
		if err != nil {
			fmt.Fprintf(stderr, "gcloudemu: these tests need the %s emulator and it could not be started: %v\n", k.displayName(), err)
			stopAll()
			return 1
		}
		started = append(started, e)
		if err := e.Setenv(); err != nil {
			fmt.Fprintf(stderr, "gcloudemu: %v\n", err)
			stopAll()
			return 1
		}
	}
	if len(started) > 0 {
		if stopAfter > 0 {
			guard := time.AfterFunc(stopAfter, func() {
				fmt.Fprintf(stderr, "gcloudemu: the tests are still running %v after they started, close to the test timeout: stopping the emulators now so that they do not outlive the test binary\n", stopAfter)
				stopAll()
			})
			defer guard.Stop()
		}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case sig := <-sigs:
				stopAll()
				// Then as if not caught: the default action ends the process.
				signal.Reset(sig)
				if p, err := os.FindProcess(os.Getpid()); err == nil {
					p.Signal(sig)
				}
			case <-done:
				signal.Stop(sigs)
			}
		}()
	}
	code := run()
	if stopCode := stopAll(); code == 0 {
		code = stopCode
	}
	return code
}

// NewProjectID returns a project id unique to this test and run, so tests
// sharing one emulator do not see each other's topics or documents.
func NewProjectID(t testing.TB) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("reading random bytes for a project id: %v", err)
	}
	// Real project ids are 6-30 characters of [a-z0-9-] starting with a
	// letter; staying within that keeps ids valid for any tool that checks.
	var name strings.Builder
	for _, r := range strings.ToLower(t.Name()) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			name.WriteRune(r)
		default:
			if s := name.String(); s != "" && !strings.HasSuffix(s, "-") {
				name.WriteByte('-')
			}
		}
	}
	n := strings.Trim(name.String(), "-")
	if len(n) > 19 {
		n = strings.TrimRight(n[:19], "-")
	}
	return "t-" + n + "-" + hex.EncodeToString(b[:])
}
