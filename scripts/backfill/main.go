// Command backfill starts a backfill through the Backfill function's HTTP API and watches it
// to the end with a progress bar.
//
//	go run ./scripts/backfill [flags] start SPEC.json|-   (or --spec '{...}')
//	go run ./scripts/backfill [flags] status|watch|retry|cancel JOB_ID
//
// Progress goes to stderr (a bar redrawn in place on a terminal, a plain line every
// --progress-every otherwise); the summary, or with --json the final status as one JSON object
// on the last line, goes to stdout. Exit codes: 0 done, 1 error, 2 usage,
// 3 done_with_failures, 4 blocked, 5 cancelled, 6 timeout ("go run" reports them all as 1; build
// the command to see them).
//
// Reference: docs/backfills.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Exit codes, as documented in usage.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitFailures  = 3
	exitBlocked   = 4
	exitCancelled = 5
	exitTimeout   = 6
)

const usage = `usage: go run ./scripts/backfill [flags] <command> [args]

commands:
  start SPEC.json|-      create a backfill from a spec file (- reads stdin; or --spec '{...}')
                         and watch it until it ends (unless --no-wait)
  status JOB_ID          print the job's status once
  watch JOB_ID           watch a job until it ends
  retry JOB_ID           re-enqueue the job's failed tasks, then watch (unless --no-wait)
  cancel JOB_ID          cancel the job and print its status
  list                   list recent jobs, newest first (--limit, default 20)

flags (before or after the command):
  --url URL              base URL of the Backfill function (env BACKFILL_URL),
                         e.g. http://127.0.0.1:8080 or https://backfill-xyz-uc.a.run.app
  --spec JSON            the spec inline, instead of SPEC.json
  --dry-run              print the plan only (adds "dry_run": true to the spec)
  --no-wait              start or retry without watching
  --json                 print the final status (or the plan) as one JSON object on stdout
  --interval 2s          how often to poll the status
  --progress-every 10s   how often to print a progress line when stderr is not a terminal
  --timeout 0            give up watching after this long (0 = never; the job keeps running)
  --token TOKEN          send this bearer token instead of fetching one
  --audience AUD         identity token audience (default: the --url)

auth: none for http://127.0.0.1 and localhost. Otherwise an identity token for the audience
from Application Default Credentials (a service-account key in GOOGLE_APPLICATION_CREDENTIALS,
or the metadata server), else from "gcloud auth print-identity-token --audiences=AUD", which
gcloud allows only for service accounts (also impersonated ones: gcloud config set
auth/impersonate_service_account SA); for a user account the token is printed without an
audience, which Cloud Run (and so Cloud Functions 2nd gen) accepts from developers who hold
roles/run.invoker.

exit codes: 0 done, 1 error, 2 usage, 3 done_with_failures, 4 blocked, 5 cancelled, 6 timeout
(status exits with the code of the job's state when it has ended). "go run" turns every
non-zero code into 1: scripts that branch on it build the command first
(go build -o bin/backfill ./scripts/backfill) or read the state from --json.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command with the process's environment; tests call it or app.run.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return newApp(stdout, stderr).run(ctx, args)
}

// app is the command with its dependencies, which tests replace.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// tokens returns the identity token source for non-local URLs.
	tokens tokenSourceFunc
	// transport is the HTTP transport under auth; nil means http.DefaultTransport.
	transport http.RoundTripper
	// tty says stderr is a terminal, so progress is a bar redrawn in place.
	tty bool
	now func() time.Time
	// maxOutage is how long polls may keep failing before watch gives up.
	maxOutage time.Duration
}

func newApp(stdout, stderr io.Writer) *app {
	return &app{
		stdin:     os.Stdin,
		stdout:    stdout,
		stderr:    stderr,
		getenv:    os.Getenv,
		tokens:    defaultTokenSource,
		tty:       isTerminal(stderr),
		now:       time.Now,
		maxOutage: 10 * time.Minute,
	}
}

// isTerminal reports whether w is a character device. golang.org/x/term is in the module graph
// but not in go.sum, and this check is all the command needs.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// options are the parsed flags.
type options struct {
	url, spec, token, audience string
	dryRun, noWait, json       bool
	interval, every, timeout   time.Duration
	limit                      int
}

// errUsage marks an error that is the caller's misuse of the command line.
var errUsage = errors.New("usage")

func (a *app) run(ctx context.Context, args []string) int {
	var o options
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.url, "url", a.getenv("BACKFILL_URL"), "")
	fs.StringVar(&o.spec, "spec", "", "")
	fs.StringVar(&o.token, "token", "", "")
	fs.StringVar(&o.audience, "audience", "", "")
	fs.BoolVar(&o.dryRun, "dry-run", false, "")
	fs.BoolVar(&o.noWait, "no-wait", false, "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.DurationVar(&o.interval, "interval", 2*time.Second, "")
	fs.DurationVar(&o.every, "progress-every", 10*time.Second, "")
	fs.DurationVar(&o.timeout, "timeout", 0, "")
	fs.IntVar(&o.limit, "limit", 20, "")
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(a.stdout, usage)
		return exitOK
	}
	if err != nil {
		return a.usageError(err.Error())
	}
	if len(pos) == 0 {
		return a.usageError("no command")
	}
	cmd, pos := pos[0], pos[1:]
	switch {
	case o.url == "":
		return a.usageError("no --url (or BACKFILL_URL)")
	case o.interval <= 0:
		return a.usageError("--interval must be positive")
	case cmd == "start" && (len(pos) == 1) == (o.spec != ""):
		return a.usageError("start needs SPEC.json, - or --spec, and only one of them")
	case cmd == "list" && len(pos) != 0:
		return a.usageError("list takes no arguments")
	case cmd != "start" && cmd != "list" && len(pos) != 1:
		return a.usageError(cmd + " needs exactly one JOB_ID")
	}

	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, o.timeout, errTimeout)
		defer cancel()
	}
	c, err := a.client(ctx, o)
	if err != nil {
		return a.fail(err)
	}
	var code int
	switch cmd {
	case "start":
		code, err = a.start(ctx, c, o, pos)
	case "status":
		code, err = a.status(ctx, c, o, pos[0])
	case "watch":
		code, err = a.watch(ctx, c, o, pos[0])
	case "retry":
		code, err = a.retry(ctx, c, o, pos[0])
	case "cancel":
		code, err = a.cancel(ctx, c, o, pos[0])
	case "list":
		code, err = a.list(ctx, c, o)
	default:
		return a.usageError(fmt.Sprintf("unknown command %q", cmd))
	}
	if err != nil {
		return a.fail(err)
	}
	return code
}

// errTimeout is the cause of the context that --timeout ends.
var errTimeout = errors.New("timed out")

func (a *app) fail(err error) int {
	if errors.Is(err, errTimeout) {
		fmt.Fprintf(a.stderr, "backfill: %v (the job keeps running)\n", err)
		return exitTimeout
	}
	if errors.Is(err, errUsage) {
		return a.usageError(strings.TrimSuffix(err.Error(), ": "+errUsage.Error()))
	}
	fmt.Fprintf(a.stderr, "backfill: %v\n", err)
	return exitError
}

func (a *app) usageError(msg string) int {
	fmt.Fprintf(a.stderr, "backfill: %s\n\n%s", msg, usage)
	return exitUsage
}

// parseInterspersed parses flags wherever they stand among the positional arguments, so
// "start spec.json --json" works as well as "--json start spec.json". A lone "-" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// After "--" everything is positional; flag.Parse has consumed the "--" itself.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
