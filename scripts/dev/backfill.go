package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/backfill"
	_ "github.com/pipelinekit/pipelinekit/shared/backfill/sourceset" // the registered sources (--source)
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
)

// backfillSummary is the last line of `dev backfill` and the demo's backfill part.
type backfillSummary struct {
	Job           string                  `json:"job"`
	State         string                  `json:"state"`
	Planned       int                     `json:"planned"`
	Succeeded     int                     `json:"succeeded"`
	Failed        int                     `json:"failed"`
	Rows          int                     `json:"rows"`
	ExpectedRows  int                     `json:"expected_rows"`
	LostRows      int                     `json:"lost_rows"`
	DuplicateRows int                     `json:"duplicate_rows"`
	APICalls      int                     `json:"api_calls"`
	ElapsedS      float64                 `json:"elapsed_s"`
	TasksPerS     float64                 `json:"tasks_per_s"`
	Failures      []backfill.FailureGroup `json:"failures,omitempty"`
	Blocked       string                  `json:"blocked,omitempty"`
	// Quota is the API's last quota report (ga4), when it gives one.
	Quota *backfill.QuotaReport `json:"quota,omitempty"`
}

func runBackfill(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	source := fs.String("source", backfill.Sources()[0].Name(), "the source to backfill, from the registry: youtube_analytics, http_json, ga4 or x_search")
	videos := fs.Int("videos", 20, "videos to backfill (youtube_analytics)")
	days := fs.Int("days", 30, "days per video (youtube_analytics) or of the report (ga4), ending three days ago")
	chunk := fs.String("chunk", "day", "day, week, month or range (youtube_analytics, ga4)")
	latency := fs.Duration("latency", 50*time.Millisecond, "latency of the fake APIs (youtube_analytics, ga4, x_search, http_json)")
	failRate := fs.Float64("fail-rate", 0.02, "share of API calls answered 503")
	tokenTTL := fs.Duration("token-ttl", 60*time.Second, "lifetime of the fake API's access tokens")
	rate := fs.Float64("rate", 0, "queue max dispatches per second (0: Terraform's default)")
	timeout := fs.Duration("timeout", 10*time.Minute, "how long the backfill may take")
	verbose := fs.Bool("verbose", false, "show the emulators' and functions' output")
	noChecks := fs.Bool("no-checks", false, "skip the production checks (IAM roles from Terraform, Firestore's limits) for speed; also "+localstack.ChecksEnv+"=off")
	newRun := fs.Bool("new-run", false, `plan a new job even if the same spec ran before ("new_run": true)`)
	data := fs.String("data", "", "keep the local BigQuery and Firestore data in this directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *videos < 1 || *days < 1:
		return errors.New("--videos and --days must be at least 1")
	case *failRate < 0 || *failRate >= 1:
		return errors.New("--fail-rate must be in [0, 1)")
	}
	if _, ok := backfill.Lookup(*source); !ok {
		return fmt.Errorf("--source %q is not a registered source", *source)
	}
	log := logger()
	faults := []sourcestest.Option{sourcestest.WithLatency(*latency), sourcestest.WithFailRate(*failRate), sourcestest.WithTokenTTL(*tokenTTL)}
	bo := &localstack.BackfillOptions{Fakes: map[string][]sourcestest.Option{}}
	for name := range localstack.SourceKits {
		bo.Fakes[name] = faults
	}
	if *rate > 0 {
		var err error
		if bo.Queue, err = localstack.DefaultQueueConfig(); err != nil {
			return err
		}
		bo.Queue.MaxDispatchesPerSecond = *rate
		bo.Queue.MaxConcurrentDispatches = max(bo.Queue.MaxConcurrentDispatches, int(*rate))
	}
	s, err := localstack.Start(ctx, localstack.Options{Log: log, Logs: processLogs(*verbose), Backfill: bo, DataDir: *data, Unchecked: *noChecks})
	if err != nil {
		return err
	}
	defer s.Close()
	cli, err := buildCLI(ctx)
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Dir(cli))
	spec, expected := localstack.SourceKits[*source].Sized(s.Backfill, *videos, *days, *chunk, time.Now().UTC().AddDate(0, 0, -3))
	sum, err := backfillSpecAndCheck(ctx, s, cli, spec, expected, *timeout, *newRun)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(sum)
	fmt.Println(string(b))
	if sum.LostRows != 0 || sum.DuplicateRows != 0 {
		return fmt.Errorf("backfill %s lost %d and duplicated %d rows", sum.Job, sum.LostRows, sum.DuplicateRows)
	}
	return nil
}

// buildCLI builds scripts/backfill, the command users watch backfills with.
func buildCLI(ctx context.Context) (string, error) {
	root, err := localstack.ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "pipelinekit-dev-")
	if err != nil {
		return "", err
	}
	return localstack.Build(ctx, root, dir, "./scripts/backfill")
}

// backfillSpecAndCheck runs spec through the CLI and checks BigQuery's keys against expected.
func backfillSpecAndCheck(ctx context.Context, s *localstack.Stack, cli string, spec []byte, expected int, timeout time.Duration, newRun bool) (*backfillSummary, error) {
	if _, external := s.External["CLOUD_TASKS_EMULATOR_HOST"]; external && !newRun {
		// A long-lived Cloud Tasks server remembers the task names of an earlier run of the same
		// spec and would refuse them: plan a new job.
		fmt.Fprintln(os.Stderr, "   the Cloud Tasks server is reused: starting the backfill with new_run")
		newRun = true
	}
	if newRun {
		var err error
		if spec, err = localstack.NewRun(spec); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	st, err := watchWithCLI(ctx, cli, s.Backfill.URL, spec, timeout)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(start)
	truth, err := s.BackfillRows(ctx, st.JobID)
	if err != nil {
		return nil, err
	}
	sum := &backfillSummary{
		Job: st.JobID, State: st.State, Planned: st.Counts.Planned, Succeeded: st.Counts.Succeeded,
		Failed: st.Counts.Failed, Rows: truth.Keys, ExpectedRows: expected, DuplicateRows: truth.DedupRows - truth.Keys,
		APICalls: st.Counts.APICalls, ElapsedS: elapsed.Seconds(), Failures: st.Failures, Blocked: st.Blocked,
		Quota: st.Quota,
	}
	if st.State == backfill.JobDone {
		sum.LostRows = sum.ExpectedRows - truth.Keys
	}
	if sum.ElapsedS > 0 {
		sum.TasksPerS = float64(sum.Succeeded+sum.Failed) / sum.ElapsedS
	}
	if truth.Rows > truth.Keys {
		fmt.Fprintf(os.Stderr, "  %d raw duplicate rows (redeliveries), removed by the backfill_rows_dedup view\n", truth.Rows-truth.Keys)
	}
	return sum, nil
}

// watchWithCLI starts the backfill with `scripts/backfill start`, its progress bar on stderr,
// and returns the final status the CLI printed as its last line.
func watchWithCLI(ctx context.Context, cli, url string, spec []byte, timeout time.Duration) (*backfill.Status, error) {
	f, err := os.CreateTemp("", "spec-*.json")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(spec); err != nil {
		return nil, err
	}
	f.Close()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, cli, "--url", url, "--json", "--interval", "500ms", "--timeout", timeout.String(), "start", f.Name())
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	err = cmd.Run()
	var exit *exec.ExitError
	// 3, 4 and 5 are a job that ended with failures, blocked or cancelled: still a final status.
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() >= 3 && exit.ExitCode() <= 5) {
		return nil, fmt.Errorf("scripts/backfill: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var st backfill.Status
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &st); err != nil {
		return nil, fmt.Errorf("reading the final status from scripts/backfill: %w (%q)", err, lines[len(lines)-1])
	}
	return &st, nil
}
