package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

// servingState is what `dev --serve` writes so that `dev query` and `dev status` in another
// terminal find the running stack.
type servingState struct {
	BigQueryHost string `json:"bigquery_host"`
	HealthURL    string `json:"health_url"`
	Project      string `json:"project"`
	Dataset      string `json:"dataset"`
	PID          int    `json:"pid"`
}

// statePath is where the serving stack's state is written, one per user.
func statePath() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("pipelinekit-dev-%d.json", os.Getuid()))
}

func writeState(s *localstack.Stack) (remove func(), err error) {
	b, _ := json.Marshal(servingState{BigQueryHost: s.BigQueryHost, HealthURL: s.HealthURL(), Project: s.Project, Dataset: s.Dataset, PID: os.Getpid()})
	if err := os.WriteFile(statePath(), b, 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", statePath(), err)
	}
	return func() { os.Remove(statePath()) }, nil
}

func readState() (*servingState, error) {
	b, err := os.ReadFile(statePath())
	if err != nil {
		return nil, err
	}
	var st servingState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("reading %s: %w", statePath(), err)
	}
	// A --serve that was killed (not stopped with Ctrl-C) leaves its state behind: its servers
	// are gone, so the state names nothing to query.
	if st.PID <= 0 || syscall.Kill(st.PID, 0) == syscall.ESRCH {
		return nil, fmt.Errorf("%s is left from a stopped `dev --serve` (pid %d)", statePath(), st.PID)
	}
	return &st, nil
}

// runQuery is `dev query`: one statement from the arguments, or a prompt reading one statement
// per line, run against the local BigQuery and printed as a table.
func runQuery(ctx context.Context, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	host := fs.String("host", "", "the local BigQuery's host:port (default: BIGQUERY_EMULATOR_HOST, else the running `dev --serve`)")
	data := fs.String("data", "", "with no stack running: open the local BigQuery kept in this --data directory")
	project := fs.String("project", "", "project (default: the running stack's, else "+localstack.DefaultProject+")")
	dataset := fs.String("dataset", "", "default dataset for unqualified table names (default "+localstack.DefaultDataset+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, p, d := *host, *project, *dataset
	if h == "" {
		h = os.Getenv("BIGQUERY_EMULATOR_HOST")
	}
	if st, err := readState(); err == nil && h == "" && *data == "" {
		h = st.BigQueryHost
		p = orDefault(p, st.Project)
		d = orDefault(d, st.Dataset)
	}
	p = orDefault(p, localstack.DefaultProject)
	d = orDefault(d, localstack.DefaultDataset)
	if h == "" {
		if *data == "" {
			return errors.New("no local BigQuery to query: run `go run ./scripts/dev --serve` in another terminal, " +
				"set BIGQUERY_EMULATOR_HOST, or pass --data DIR of a run made with --data DIR")
		}
		srv, err := bqemulator.NewServer(bqemulator.WithProject(p), bqemulator.WithDatabase(filepath.Join(*data, "bigquery.duckdb")))
		if err != nil {
			return fmt.Errorf("opening the local BigQuery in %s (is a stack using it? query that one instead): %w", *data, err)
		}
		defer srv.Close()
		h = srv.Addr()
	}
	client, err := bigquery.NewClient(ctx, p, option.WithEndpoint("http://"+h+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		return fmt.Errorf("creating the BigQuery client: %w", err)
	}
	defer client.Close()

	if fs.NArg() > 0 {
		r, err := localstack.RunQuery(ctx, client, d, strings.Join(fs.Args(), " "))
		if err != nil {
			return err
		}
		r.Print(out)
		return nil
	}
	fmt.Fprintf(os.Stderr, "querying %s (project %s, dataset %s): one statement per line, Ctrl-D ends\n", h, p, d)
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 1<<20)
	for {
		fmt.Fprint(os.Stderr, "sql> ")
		if !sc.Scan() {
			fmt.Fprintln(os.Stderr)
			return sc.Err()
		}
		q := strings.TrimSuffix(strings.TrimSpace(sc.Text()), ";")
		if q == "" {
			continue
		}
		r, err := localstack.RunQuery(ctx, client, d, q)
		if err != nil {
			fmt.Fprintf(out, "error: %v\n", err)
			continue
		}
		r.Print(out)
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
