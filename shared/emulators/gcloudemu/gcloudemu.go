// Package gcloudemu starts and stops Google's own Pub/Sub and Firestore
// emulators (the ones `gcloud beta emulators ... start` runs) so that tests
// and the local stack talk to the real wire protocols through the official
// clients.
//
// The emulator runs in its own process group: `gcloud` is a Python wrapper
// that starts a Java server, and killing only the wrapper leaves the Java
// server running and holding its port. Stop signals the whole group and waits
// until the port is free again.
//
// Reference: docs/local-stack.md#local-servers-that-speak-googles-apis.
package gcloudemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Kind names one of the emulators gcloud can start.
type Kind string

// The emulators this package knows how to run.
const (
	// PubSub is the Cloud Pub/Sub emulator (component pubsub-emulator).
	PubSub Kind = "pubsub"
	// Firestore is the Cloud Firestore emulator in native mode (component cloud-firestore-emulator).
	Firestore Kind = "firestore"
)

// EnvVar returns the environment variable the official clients read to find this emulator.
func (k Kind) EnvVar() string {
	switch k {
	case PubSub:
		return "PUBSUB_EMULATOR_HOST"
	case Firestore:
		return "FIRESTORE_EMULATOR_HOST"
	}
	return ""
}

// displayName is the product name used in messages.
func (k Kind) displayName() string {
	switch k {
	case PubSub:
		return "Pub/Sub"
	case Firestore:
		return "Firestore"
	}
	return string(k)
}

// component is the gcloud component that ships the emulator.
func (k Kind) component() string {
	switch k {
	case PubSub:
		return "pubsub-emulator"
	case Firestore:
		return "cloud-firestore-emulator"
	}
	return ""
}

// aptPackage is the Debian package that ships the component.
func (k Kind) aptPackage() string {
	switch k {
	case PubSub:
		return "google-cloud-cli-pubsub-emulator"
	case Firestore:
		return "google-cloud-cli-firestore-emulator"
	}
	return ""
}

func (k Kind) valid() error {
	if k.EnvVar() == "" {
		return fmt.Errorf("unknown emulator kind %q: want %q or %q", string(k), PubSub, Firestore)
	}
	return nil
}

// args are the gcloud arguments that start the emulator on addr.
func (k Kind) args(addr string) []string {
	args := []string{"beta", "emulators", string(k), "start", "--host-port=" + addr, "--quiet", "--verbosity=error"}
	if k == Firestore {
		// Native mode is what the Go client speaks; saying so keeps the
		// command stable if gcloud ever changes its default.
		args = append(args, "--database-mode=firestore-native")
	}
	return args
}

// Emulator is one running emulator process group.
type Emulator struct {
	// Kind is which emulator this is.
	Kind Kind
	// Host is the emulator's address as host:port, the value of Kind.EnvVar().
	Host string

	cfg  config
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{} // closed once cmd.Wait has returned
	err  error         // cmd.Wait's result, readable after done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start runs the emulator of the given kind on a loopback port and returns
// once it answers HTTP; ctx and WithStartTimeout bound only the startup, the
// emulator runs until Stop.
func Start(ctx context.Context, kind Kind, opts ...Option) (*Emulator, error) {
	cfg := newConfig(opts)
	if err := check(kind, cfg); err != nil {
		return nil, err
	}
	// A free port picked here can be taken by someone else before the
	// emulator binds it; retry with a new port when that is what happened.
	const attempts = 3
	var err error
	for range attempts {
		var e *Emulator
		e, err = start(ctx, kind, cfg)
		if err == nil {
			return e, nil
		}
		if cfg.port != 0 || !errors.Is(err, errAddressInUse) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

var errAddressInUse = errors.New("address already in use")

func start(ctx context.Context, kind Kind, cfg config) (*Emulator, error) {
	port := cfg.port
	if port == 0 {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	host := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	gcloud, err := cfg.lookPath("gcloud")
	if err != nil {
		return nil, gcloudMissing(kind)
	}
	out := newTailBuffer()
	cmd := exec.Command(gcloud, append(kind.args(host), cfg.args...)...)
	cmd.Env = append(os.Environ(),
		// No prompts, no update checks and no usage reporting: all of them
		// would either block or reach for the network.
		"CLOUDSDK_CORE_DISABLE_PROMPTS=1",
		"CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1",
		"CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true",
	)
	cmd.Env = append(cmd.Env, cfg.extraEnv...)
	if cfg.output != nil {
		cmd.Stdout = io.MultiWriter(out, cfg.output)
	} else {
		cmd.Stdout = out
	}
	cmd.Stderr = cmd.Stdout
	// Its own process group, so Stop reaches the Java server too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s emulator (%s): %w", kind.displayName(), gcloud, err)
	}
	e := &Emulator{Kind: kind, Host: host, cfg: cfg, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		e.err = cmd.Wait()
		close(e.done)
	}()
	cfg.logger.Debug("starting emulator", "kind", string(kind), "host", host, "pid", cmd.Process.Pid)

	if err := e.waitReady(ctx); err != nil {
		if stopErr := e.Stop(); stopErr != nil {
			cfg.logger.Warn("stopping emulator that failed to start", "kind", string(kind), "host", host, "error", stopErr)
		}
		return nil, err
	}
	cfg.logger.Info("emulator ready", "kind", string(kind), "host", host, "pid", cmd.Process.Pid)
	return e, nil
}

// waitReady polls the emulator until it answers, it exits, or the startup deadline passes.
func (e *Emulator) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.startTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if Ping(ctx, e.Host) == nil {
			return nil
		}
		// The Pub/Sub emulator logs its BindException and goes on running
		// without a listener (CI, 2026-12-07: it waited out the whole start
		// bound), so the output is read while the process lives; all of it,
		// as the exception's stack trace follows its line.
		if line, ok := bindFailure(e.out.String()); ok {
			return fmt.Errorf("%s emulator could not bind %s (%s): %w", e.Kind.displayName(), e.Host, line, errAddressInUse)
		}
		select {
		case <-e.done:
			tail := e.out.Tail(20)
			err := fmt.Errorf("%s emulator on %s exited before answering (%v); last output:\n%s", e.Kind.displayName(), e.Host, e.err, tail)
			if _, ok := bindFailure(e.out.String()); ok {
				return fmt.Errorf("%w: %w", err, errAddressInUse)
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s emulator on %s to answer after %s: %w; last output:\n%s",
				e.Kind.displayName(), e.Host, e.cfg.startTimeout, ctx.Err(), e.out.Tail(20))
		case <-tick.C:
		}
	}
}

// bindFailure returns the line of an emulator's output that says its port was taken.
func bindFailure(out string) (string, bool) {
	for line := range strings.Lines(out) {
		if strings.Contains(line, "Address already in use") || strings.Contains(line, "BindException") {
			return strings.TrimSpace(line), true
		}
	}
	return "", false
}

// Env returns the environment entry (NAME=host:port) that points the official client at this emulator.
func (e *Emulator) Env() []string {
	return []string{e.Kind.EnvVar() + "=" + e.Host}
}

// Setenv points the official client of this process at the emulator by setting Kind.EnvVar().
func (e *Emulator) Setenv() error {
	if err := os.Setenv(e.Kind.EnvVar(), e.Host); err != nil {
		return fmt.Errorf("setting %s: %w", e.Kind.EnvVar(), err)
	}
	return nil
}

// Output returns what the emulator has printed so far (the last few hundred KB).
func (e *Emulator) Output() string {
	return e.out.String()
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("picking a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
