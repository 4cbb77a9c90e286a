// Command dev runs the whole pipeline on this machine, offline: Google's Pub/Sub and Firestore
// emulators, our local BigQuery and Cloud Tasks, local X and YouTube Analytics APIs, the
// functions in their own process, and the Eventarc-like forwarder that delivers the loader's
// subscription to LoadEvents.
//
//	go run ./scripts/dev                  the demo: stream, app events, a backfill, a summary
//	go run ./scripts/dev --serve          the same stack, kept running for you to try
//	go run ./scripts/dev replay FILE...   replay archived X stream captures through the pipeline
//	go run ./scripts/dev backfill [flags] run one YouTube Analytics backfill to its end
//	go run ./scripts/dev query ["SQL"]    query the local BigQuery (a prompt without SQL)
//	go run ./scripts/dev status           the running stack's health, as the alerts watch it
//
// Progress goes to stderr; the last line on stdout is one JSON object for scripts.
//
// Reference: docs/local-stack.md.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: go run ./scripts/dev [command] [flags]

commands:
  (none) [--serve] [--json] [--verbose] [--videos N] [--days N] [--data DIR]
      Starts the whole pipeline locally and runs a demo: StreamTweets reads a sample stream,
      app events are posted to CollectEvents, a YouTube Analytics backfill is started over HTTP
      and watched with a progress bar; then a summary (rows per table, dead letters, the
      backfill, top hashtags by SQL, the deck's page). With --serve the deck's URL is printed
      first, everything keeps running until Ctrl-C, and the sample stream replays in a loop (a
      new tweet every 1.5s) so the deck shows tweets arriving.
      --data DIR keeps the local BigQuery and Firestore data in DIR between runs.
  replay [--timeout 2m] [--verbose] FILE...
      Replays archived X stream captures (a JSON array, NDJSON, or the stream's CRLF framing)
      through classification -> Pub/Sub emulator -> LoadEvents -> local BigQuery, waits until
      every published message is loaded or dead-lettered, and prints a JSON summary.
  backfill [--source youtube_analytics|http_json|ga4|x_search] [--videos 20] [--days 30]
           [--chunk day|week|month|range] [--latency 50ms]
           [--fail-rate 0.02] [--token-ttl 60s] [--rate N] [--timeout 10m] [--new-run]
           [--data DIR] [--verbose]
      Starts the stack with the fake APIs and runs one backfill of --source (YouTube Analytics by
      default; ga4 reads --days days by --chunk from the fake GA4 API; x_search the last 7 days
      of the fake X search) over HTTP, as a user would,
      until it ends; then checks BigQuery for lost and duplicated rows. --new-run
      plans a new job even if the same spec ran before (needed against a long-lived Cloud Tasks
      emulator that still remembers the task names; set for you when one is reused).
  query [--host H] [--data DIR] [--project P] [--dataset D] ["SQL"]
      Runs SQL against the local BigQuery of a running "dev --serve" (or BIGQUERY_EMULATOR_HOST,
      or the data kept by --data DIR) and prints a table; without SQL, a prompt.
  status [--url URL] [--data DIR] [--json] [--watch 5s]
      Shows the running "dev --serve" stack's health, the signals the production alerts watch:
      dead letters per minute by reason (last 10 min), the loader's and rankings' subscription
      backlog, the stream's lease, running backfill jobs and their rate, and each function's
      requests and 5xx answers. --data DIR with no stack running reads only the dead letters.

Servers named by PUBSUB_EMULATOR_HOST, FIRESTORE_EMULATOR_HOST, BIGQUERY_EMULATOR_HOST or
CLOUD_TASKS_EMULATOR_HOST are used instead of starting new ones.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The in-process servers (local BigQuery and Cloud Tasks) log through the default logger:
	// give them the stack's format.
	slog.SetDefault(logger())
	args := os.Args[1:]
	cmd := ""
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "":
		err = demo(ctx, args)
	case "replay":
		err = replay(ctx, args)
	case "backfill":
		err = runBackfill(ctx, args)
	case "query":
		err = runQuery(ctx, args, os.Stdin, os.Stdout)
	case "status":
		err = runStatus(ctx, args, os.Stdout)
	case "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "dev: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dev: %v\n", err)
		os.Exit(1)
	}
}

// logger writes the stack's progress for people, on stderr.
func logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// processLogs is where the emulators' and functions' own output goes: through the same logger
// as the stack's progress, one format for every process (see processWriter).
func processLogs(verbose bool) io.Writer {
	return &processWriter{log: logger(), verbose: verbose}
}
