// Command redrive publishes dead letters again, once each, after the cause that dead-lettered
// them is fixed (shared/redrive has the design and its guarantees).
//
//	go run ./scripts/redrive --since 24h --reason 'missing required column user_id' --dry-run
//	go run ./scripts/redrive --since 24h --reason 'missing required column user_id'
//
// It runs as the person who starts it, with Application Default Credentials; docs/operations.md
// ("Redrive") lists the roles it needs. Against the local stack, BIGQUERY_EMULATOR_HOST
// and PUBSUB_EMULATOR_HOST point it at the local servers.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/logging"
	"github.com/pipelinekit/pipelinekit/shared/redrive"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitInterrupted = 3
)

const usage = `usage: go run ./scripts/redrive --since WHEN [flags]

Selects dead letters not yet redriven (the dead_letters_pending view) dead-lettered in
[--since, --until), matching every filter given, and publishes each to the events topic with its
original data and attributes plus redrive_of, redrive_publish_time and redrive_id; each is then
marked in the redrives table. Dead letters whose data was truncated are skipped and listed.

flags:
  --since WHEN        start of the range (required): RFC 3339, a date (YYYY-MM-DD, UTC) or a
                      duration ago (36h)
  --until WHEN        end of the range, excluded (default: now)
  --reason TEXT       the reason contains TEXT (case-sensitive)
  --reason-exact      the reason is TEXT exactly
  --kind KIND         the dead letter's kind (search, tweet, unclassified, ...)
  --stage STAGE       decode or append
  --limit N           at most N dead letters, oldest first (default 10000, at most 100000)
  --dry-run           print what would be sent (count and a sample), send nothing
  --sample N          dead letters to show (default 5, at most 100)
  --json              print the report as one JSON object
  --project ID        project (env GOOGLE_CLOUD_PROJECT)
  --dataset ID        BigQuery dataset (env BIGQUERY_DATASET, default events)
  --topic ID          events topic (env EVENTS_TOPIC, default events)

exit codes: 0 done, 1 error, 2 usage, 3 interrupted (run it again: it sends nothing twice)
`

// Config is where a redrive reads and writes.
type Config struct {
	Project, Dataset, Topic string
}

// request is a parsed command line.
type request struct {
	cfg    Config
	filter redrive.Filter
	opts   redrive.Options
	json   bool
}

// opener connects a redrive to the project's BigQuery and Pub/Sub; close releases them.
type opener func(ctx context.Context, cfg Config) (r *redrive.Redriver, close func() error, err error)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, time.Now(), openCloud, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, env func(string) (string, bool), now time.Time, open opener, stdout, stderr io.Writer) int {
	req, err := parse(args, env, now)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "redrive: %v\n\n%s", err, usage)
		return exitUsage
	}
	r, closeFn, err := open(ctx, req.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "redrive: %v\n", err)
		return exitError
	}
	rep, runErr := r.Run(ctx, req.filter, req.opts)
	if err := closeFn(); err != nil && runErr == nil {
		runErr = err
	}
	render(stdout, req, rep)
	switch {
	case runErr == nil:
		return exitOK
	case ctx.Err() != nil:
		fmt.Fprintf(stderr, "redrive: interrupted after %d sent and %d marked; run it again to send the rest: %v\n", rep.Sent, rep.Marked, runErr)
		return exitInterrupted
	default:
		fmt.Fprintf(stderr, "redrive: %v\n", runErr)
		return exitError
	}
}

// parse reads the flags; env supplies the defaults Terraform's function environment uses.
func parse(args []string, env func(string) (string, bool), now time.Time) (request, error) {
	var req request
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	since := fs.String("since", "", "")
	until := fs.String("until", "", "")
	fs.StringVar(&req.filter.Reason, "reason", "", "")
	fs.BoolVar(&req.filter.ReasonExact, "reason-exact", false, "")
	fs.StringVar(&req.filter.Kind, "kind", "", "")
	fs.StringVar(&req.filter.Stage, "stage", "", "")
	fs.IntVar(&req.opts.Limit, "limit", redrive.DefaultLimit, "")
	fs.BoolVar(&req.opts.DryRun, "dry-run", false, "")
	fs.IntVar(&req.opts.Sample, "sample", redrive.DefaultSample, "")
	fs.BoolVar(&req.json, "json", false, "")
	fs.StringVar(&req.cfg.Project, "project", lookup(env, "GOOGLE_CLOUD_PROJECT", ""), "")
	fs.StringVar(&req.cfg.Dataset, "dataset", lookup(env, "BIGQUERY_DATASET", "events"), "")
	fs.StringVar(&req.cfg.Topic, "topic", lookup(env, "EVENTS_TOPIC", "events"), "")
	if err := fs.Parse(args); err != nil {
		return req, err
	}
	if fs.NArg() > 0 {
		return req, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var errs []error
	if *since == "" {
		errs = append(errs, errors.New("--since is required"))
	} else if t, err := redrive.ParseTime(*since, now); err != nil {
		errs = append(errs, fmt.Errorf("--since: %w", err))
	} else {
		req.filter.Since = t
	}
	req.filter.Until = now.UTC()
	if *until != "" {
		t, err := redrive.ParseTime(*until, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("--until: %w", err))
		}
		req.filter.Until = t
	}
	if req.opts.Limit < 1 {
		errs = append(errs, fmt.Errorf("--limit %d: want 1 to %d", req.opts.Limit, redrive.MaxLimit))
	}
	if req.cfg.Project == "" {
		errs = append(errs, errors.New("--project (or GOOGLE_CLOUD_PROJECT) is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return req, err
	}
	if err := errors.Join(req.filter.Validate(), req.opts.Validate()); err != nil {
		return req, err
	}
	return req, nil
}

func lookup(env func(string) (string, bool), key, def string) string {
	if v, ok := env(key); ok && v != "" {
		return v
	}
	return def
}

// render prints the report: a summary and the sample, or one JSON object.
func render(w io.Writer, req request, rep redrive.Report) {
	if req.json {
		b, _ := json.Marshal(rep)
		fmt.Fprintln(w, string(b))
		return
	}
	verb := "sent"
	if rep.DryRun {
		verb = "would send"
	}
	fmt.Fprintf(w, "redrive %s: %d dead letter(s) selected, %s %d message(s), %d marked redriven, %d skipped\n",
		rep.RedriveID, rep.Selected, verb, rep.Sent, rep.Marked, len(rep.Skipped))
	for _, p := range rep.Sample {
		keys := make([]string, 0, len(p.Attributes))
		for k := range p.Attributes {
			keys = append(keys, k+"="+p.Attributes[k])
		}
		sort.Strings(keys)
		fmt.Fprintf(w, "  %s  %s  %s/%s  %d bytes  first delivery %s  [%s]\n    reason: %s\n",
			p.DeadLetteredAt.Format(time.RFC3339), p.MessageID, p.Stage, p.Kind, p.DataBytes, p.OriginalMessageID, strings.Join(keys, " "), p.Reason)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "  skipped %s: %s\n", s.MessageID, s.Reason)
	}
}

// openCloud connects to the project's BigQuery (query and Storage Write) and Pub/Sub, or to the
// local servers the emulator variables name.
func openCloud(ctx context.Context, cfg Config) (*redrive.Redriver, func() error, error) {
	log := logging.New(os.Stderr, slog.LevelInfo)
	parts, err := redrive.Connect(ctx, cfg.Project, cfg.Dataset, cfg.Topic, log)
	if err != nil {
		return nil, nil, err
	}
	return redrive.New(parts.Source, parts.Publisher, parts.Recorder, nil, log), parts.Close, nil
}
