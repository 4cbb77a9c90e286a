package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

func replay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for every message to be loaded or dead-lettered")
	verbose := fs.Bool("verbose", false, "show the emulators' and functions' output")
	noChecks := fs.Bool("no-checks", false, "skip the production checks (IAM roles from Terraform, Firestore's limits) for speed; also "+localstack.ChecksEnv+"=off")
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
	log := logger()
	s, err := localstack.Start(ctx, localstack.Options{Log: log, Logs: processLogs(*verbose), Unchecked: *noChecks})
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
	for _, k := range localstack.SortedKinds(sum.UnmodelledXTypes) {
		fmt.Fprintf(os.Stderr, "    unmodelled X type %-20s %d (dead-lettered, named in the reason)\n", k, sum.UnmodelledXTypes[k])
	}
	for _, r := range localstack.SortedKinds(sum.DeadLetterReasons) {
		fmt.Fprintf(os.Stderr, "  dead letter: %4d  %s\n", sum.DeadLetterReasons[r], r)
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
