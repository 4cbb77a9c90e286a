package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"cloud.google.com/go/bigquery"
	"google.golang.org/api/option"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
)

// minWatch is the shortest --watch interval: each reading queries BigQuery and Firestore.
const minWatch = time.Second

// runStatus is `dev status`: the running stack's health (localstack.Health) as a table, or as
// JSON; with --watch, again every interval until Ctrl-C. With --data DIR and no stack running,
// only the dead letters kept in DIR are read.
func runStatus(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	url := fs.String("url", "", "the stack's health endpoint (default: the running `dev --serve`'s)")
	data := fs.String("data", "", "with no stack running: read the dead letters kept in this --data directory")
	asJSON := fs.Bool("json", false, "print one JSON object per reading")
	watch := fs.Duration("watch", 0, "read again every interval (at least 1s) until Ctrl-C")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *watch != 0 && *watch < minWatch {
		return fmt.Errorf("--watch %s is under %s", *watch, minWatch)
	}
	read, closeRead, err := healthReader(*url, *data)
	if err != nil {
		return err
	}
	defer closeRead()
	for {
		h, err := read(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			b, _ := json.Marshal(h)
			fmt.Fprintln(out, string(b))
		} else {
			if *watch > 0 {
				fmt.Fprint(out, "\033[H\033[2J") // a terminal redraws the table in place
			}
			h.Print(out)
		}
		if *watch == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*watch):
		}
	}
}

// healthReader finds the stack: --url, else the state `dev --serve` wrote, else the local
// BigQuery kept in --data (dead letters only: the other signals live in running processes).
func healthReader(url, data string) (func(context.Context) (*localstack.Health, error), func(), error) {
	if url == "" && data == "" {
		st, err := readState()
		if err != nil {
			return nil, nil, fmt.Errorf("no running stack (%v): run `go run ./scripts/dev --serve` in another terminal, "+
				"pass --url of its health endpoint, or --data DIR of a run made with --data DIR", err)
		}
		if st.HealthURL == "" {
			return nil, nil, errors.New("the running `dev --serve` predates `dev status`: restart it")
		}
		url = st.HealthURL
	}
	if url != "" {
		return func(ctx context.Context) (*localstack.Health, error) { return localstack.ReadHealth(ctx, url) }, func() {}, nil
	}
	p, d := localstack.DefaultProject, localstack.DefaultDataset
	srv, err := bqemulator.NewServer(bqemulator.WithProject(p), bqemulator.WithDatabase(filepath.Join(data, "bigquery.duckdb")))
	if err != nil {
		return nil, nil, fmt.Errorf("opening the local BigQuery in %s (is a stack using it? run status against that one): %w", data, err)
	}
	client, err := bigquery.NewClient(context.Background(), p, option.WithEndpoint("http://"+srv.Addr()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		srv.Close()
		return nil, nil, fmt.Errorf("creating the BigQuery client: %w", err)
	}
	read := func(ctx context.Context) (*localstack.Health, error) {
		now := time.Now()
		h := &localstack.Health{At: now.UTC(), WindowS: int(localstack.HealthWindow / time.Second),
			Problems: []string{"no stack running: only the dead letters kept in " + data}}
		var err error
		if h.DeadLetters, h.DeadLettersCut, err = localstack.DeadLettersPerMinute(ctx, client, p, d, now); err != nil {
			return nil, err
		}
		return h, nil
	}
	return read, func() { client.Close(); srv.Close() }, nil
}
