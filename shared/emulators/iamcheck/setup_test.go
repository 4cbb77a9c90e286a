package iamcheck

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

const (
	project = "test-project"
	member  = "serviceAccount:fn@test-project.iam.gserviceaccount.com"
)

// emulator is one of Google's emulators, started in the background by TestMain so its JVM
// start-up overlaps the tests that need no emulator.
type emulator struct {
	ready   chan struct{}
	host    string
	missing error // what to install: the tests needing it skip
	err     error // it is installed but did not start: they fail
	started *gcloudemu.Emulator
}

var emulators = map[gcloudemu.Kind]*emulator{}

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		for _, k := range []gcloudemu.Kind{gcloudemu.PubSub, gcloudemu.Firestore} {
			emulators[k] = startEmulator(k)
		}
	}
	stop := sync.OnceFunc(stopEmulators)
	// The emulators run in process groups of their own: stop them before the test timeout's
	// panic and on an interrupt, or their JVMs outlive the test binary.
	if f := flag.Lookup("test.timeout"); f != nil {
		if d, _ := f.Value.(flag.Getter).Get().(time.Duration); d > 0 {
			guard := time.AfterFunc(d-min(d/10, 30*time.Second), stop)
			defer guard.Stop()
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		stop()
		signal.Reset(sig)
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			p.Signal(sig)
		}
	}()
	code := m.Run()
	stop()
	os.Exit(code)
}

func startEmulator(k gcloudemu.Kind) *emulator {
	e := &emulator{ready: make(chan struct{})}
	go func() {
		defer close(e.ready)
		ctx := context.Background()
		if host := os.Getenv(k.EnvVar()); host != "" && gcloudemu.Ping(ctx, host) == nil {
			e.host = host
			return
		}
		if err := gcloudemu.Check(k); err != nil {
			e.missing = err
			return
		}
		started, err := gcloudemu.Start(ctx, k, gcloudemu.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			e.err = err
			return
		}
		e.started, e.host = started, started.Host
	}()
	return e
}

func stopEmulators() {
	for k, e := range emulators {
		<-e.ready
		if e.started != nil {
			if err := e.started.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "stopping the %s emulator: %v\n", k, err)
			}
		}
	}
}

// emulatorHost waits for Google's emulator of kind k and returns its host:port; the test skips,
// saying what to install, where the emulator is not installed.
func emulatorHost(t *testing.T, k gcloudemu.Kind) string {
	t.Helper()
	e := emulators[k]
	if e == nil {
		t.Skipf("the %s emulator is not started in -short mode", k)
	}
	select {
	case <-e.ready:
	case <-time.After(gcloudemu.DefaultStartTimeout):
		t.Fatalf("the %s emulator did not start within %v", k, gcloudemu.DefaultStartTimeout)
	}
	switch {
	case e.missing != nil:
		t.Skipf("these tests need the %s emulator: %v", k, e.missing)
	case e.err != nil:
		t.Fatalf("starting the %s emulator: %v", k, e.err)
	}
	return e.host
}

// discard is a logger for the servers under test.
var discard = slog.New(slog.DiscardHandler)

// mustPolicy builds a policy or fails the test.
func mustPolicy(t testing.TB, bindings []Binding, custom ...Role) *Policy {
	t.Helper()
	p, err := NewPolicy(bindings, custom...)
	if err != nil {
		t.Fatalf("NewPolicy() = %v", err)
	}
	return p
}

// startProxy starts a proxy as member with bindings in front of upstreams, closed at the end
// of the test.
func startProxy(t testing.TB, bindings []Binding, upstreams map[string]string, opts ...func(*Config)) *Proxy {
	t.Helper()
	cfg := Config{Member: member, Policy: mustPolicy(t, bindings), Upstreams: upstreams, Log: discard}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return p
}
