// Command dev runs the pipeline on this machine, offline: Google's Pub/Sub emulator, the local
// BigQuery, the functions in their own process and the Eventarc-like forwarder.
//
//	go run ./scripts/dev replay FILE...   replay archived X stream captures through the pipeline
//
// Progress goes to stderr; the last line on stdout is one JSON object for scripts.
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
	"syscall"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

const usage = `usage: go run ./scripts/dev <command> [flags]

commands:
  replay [--timeout 2m] [--verbose] FILE...
      Replays archived X stream captures (a JSON array, NDJSON, or the stream's CRLF framing)
      through classification -> Pub/Sub emulator -> LoadEvents -> local BigQuery, waits until
      every published message is loaded or dead-lettered, and prints a JSON summary.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "replay":
		err = replay(ctx, os.Args[2:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return
	default:
		fmt.Fprintf(os.Stderr, "dev: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "dev: %v\n", err)
		os.Exit(1)
	}
}

func replay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for every message to be loaded or dead-lettered")
	verbose := fs.Bool("verbose", false, "show the emulators' and functions' output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("replay needs at least one capture file")
	}
	for _, f := range fs.Args() {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("capture file: %w", err)
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var logs io.Writer = io.Discard
	if *verbose {
		logs = os.Stderr
	}
	s, err := localstack.Start(ctx, localstack.Options{Log: log, Logs: logs})
	if err != nil {
		return err
	}
	defer s.Close()
	log.Info("replaying", "files", fs.NArg())
	sum, err := s.Replay(ctx, fs.Args(), *timeout)
	if err != nil {
		return err
	}
	for _, f := range sum.Files {
		fmt.Fprintf(os.Stderr, "  %-50s %-10s %4d records  %d keep-alives  %d rejected\n", f.File, f.Framing, f.Records, f.KeepAlives, len(f.Rejected))
	}
	for _, k := range localstack.SortedKinds(sum.ByKind) {
		fmt.Fprintf(os.Stderr, "  %-16s %d\n", k, sum.ByKind[k])
	}
	fmt.Fprintf(os.Stderr, "published %d, loaded %v, dead letters %d, rejected lines %d in %.1fs\n",
		sum.Published, sum.Loaded, sum.DeadLetters, sum.RejectedLines, sum.ElapsedS)
	b, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	loaded := 0
	for _, n := range sum.Loaded {
		loaded += n
	}
	if loaded+sum.DeadLetters != sum.Published {
		return fmt.Errorf("published %d but loaded %d and dead-lettered %d", sum.Published, loaded, sum.DeadLetters)
	}
	return nil
}
