package gcloudemu

import (
	"io"
	"log/slog"
	"os/exec"
	"time"
)

// Option configures Start and Check.
type Option func(*config)

type config struct {
	port         int
	startTimeout time.Duration
	stopGrace    time.Duration
	output       io.Writer
	lookPath     func(string) (string, error)
	logger       *slog.Logger
	extraEnv     []string // for tests: added to the emulator's environment
	args         []string
}

func newConfig(opts []Option) config {
	cfg := config{
		startTimeout: DefaultStartTimeout,
		stopGrace:    5 * time.Second,
		lookPath:     exec.LookPath,
		logger:       slog.Default(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

// WithArgs adds flags to the emulator's start command, such as the Firestore emulator's
// --import-data=FILE.
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}

// WithPort runs the emulator on this loopback port instead of a free one the kernel picks.
func WithPort(port int) Option {
	return func(c *config) { c.port = port }
}

// DefaultStartTimeout is how long Start waits by default. A quiet machine starts either emulator
// in 3 to 10 s, but the JVM's start-up is CPU-bound: on a 2-core machine at a load average of 50
// it has taken more than 60 s, so the bound is set for a busy machine, not a quiet one.
const DefaultStartTimeout = 3 * time.Minute

// WithStartTimeout bounds how long Start waits for the emulator to answer (default
// DefaultStartTimeout).
func WithStartTimeout(d time.Duration) Option {
	return func(c *config) { c.startTimeout = d }
}

// WithStopGrace is how long Stop waits after SIGTERM before it sends SIGKILL (default 5 s).
func WithStopGrace(d time.Duration) Option {
	return func(c *config) { c.stopGrace = d }
}

// WithOutput copies the emulator's stdout and stderr to w as well as to the internal buffer.
func WithOutput(w io.Writer) Option {
	return func(c *config) { c.output = w }
}

// WithLookPath replaces exec.LookPath, so tests can check the error messages with a fake PATH.
func WithLookPath(f func(file string) (string, error)) Option {
	return func(c *config) { c.lookPath = f }
}

// WithLogger sets the logger for start and stop events; nil means slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			l = slog.Default()
		}
		c.logger = l
	}
}
