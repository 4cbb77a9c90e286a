package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"cloud.google.com/go/bigquery"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/api/option"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/localstack"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// TestQuery runs `dev query` against a local BigQuery, with SQL as an argument and at the
// prompt (one statement per line; a bad one prints its error and the prompt goes on).
func TestQuery(t *testing.T) {
	srv, err := bqemulator.NewServer(bqemulator.WithProject("p"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("BIGQUERY_EMULATOR_HOST", "")
	ctx := context.Background()
	host := "--host=" + srv.Addr()

	var out bytes.Buffer
	if err := runQuery(ctx, []string{host, "--project=p", "SELECT 'a' AS kind, 2 AS n UNION ALL SELECT 'bb', 10 ORDER BY n"}, nil, &out); err != nil {
		t.Fatal(err)
	}
	want := "kind  n\n----  --\na     2\nbb    10\n(2 rows)\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("dev query output (-want +got):\n%s", diff)
	}

	out.Reset()
	in := strings.NewReader("SELECT 1 AS one;\n\nSELECT FROM nowhere\nSELECT NULL AS x\n")
	if err := runQuery(ctx, []string{host, "--project=p"}, in, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, w := range []string{"one\n---\n1\n(1 row)\n", "error: ", "x\n----\nNULL\n(1 row)\n"} {
		if !strings.Contains(got, w) {
			t.Errorf("prompt output %q does not contain %q", got, w)
		}
	}
}

// newDataset starts a local BigQuery for project (in file when not empty) with the
// project's tables in dataset.
func newDataset(t *testing.T, project, dataset, file string) *bqemulator.Server {
	t.Helper()
	opts := []bqemulator.Option{bqemulator.WithProject(project)}
	if file != "" {
		opts = append(opts, bqemulator.WithDatabase(file))
	}
	srv, err := bqemulator.NewServer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	c, err := bigquery.NewClient(context.Background(), project, option.WithEndpoint("http://"+srv.Addr()+"/bigquery/v2/"), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := warehouse.EnsureDataset(context.Background(), c, dataset); err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestQueryFindsItsBigQuery: with no --host, `dev query` (as the --serve banner prints it) finds
// the serving stack's BigQuery, project and dataset through the state --serve writes, and with
// --data DIR opens the BigQuery a stack kept there; with neither it says what to do.
func TestQueryFindsItsBigQuery(t *testing.T) {
	t.Setenv("BIGQUERY_EMULATOR_HOST", "")
	t.Setenv("TMPDIR", t.TempDir()) // statePath is under os.TempDir
	ctx := context.Background()
	const sql = "SELECT COUNT(*) AS n FROM tweets" // unqualified: the default dataset must be right
	const want = "n\n-\n0\n(1 row)\n"

	var out bytes.Buffer
	err := runQuery(ctx, []string{sql}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "go run ./scripts/dev --serve") {
		t.Errorf("runQuery() with no BigQuery = %v, want an error naming `go run ./scripts/dev --serve`", err)
	}

	srv := newDataset(t, "served-project", "served_ds", "")
	defer srv.Close()
	remove, err := writeState(&localstack.Stack{BigQueryHost: srv.Addr(), Project: "served-project", Dataset: "served_ds"})
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runQuery(ctx, []string{sql}, nil, &out); err != nil {
		t.Errorf("runQuery() against the serving stack: %v", err)
	} else if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("runQuery() against the serving stack (-want +got):\n%s", diff)
	}
	remove()

	// A --serve that was killed leaves its state: its pid is gone, so the state is not used.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(servingState{BigQueryHost: srv.Addr(), Project: "served-project", Dataset: "served_ds", PID: dead.Process.Pid})
	if err := os.WriteFile(statePath(), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := runQuery(ctx, []string{sql}, nil, &out); err == nil || !strings.Contains(err.Error(), "go run ./scripts/dev --serve") {
		t.Errorf("runQuery() with a killed --serve's state = %v, want the error naming `go run ./scripts/dev --serve`", err)
	}
	os.Remove(statePath())

	dir := t.TempDir()
	kept := newDataset(t, localstack.DefaultProject, localstack.DefaultDataset, filepath.Join(dir, "bigquery.duckdb"))
	if err := kept.Close(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runQuery(ctx, []string{"--data", dir, sql}, nil, &out); err != nil {
		t.Errorf("runQuery(--data) = %v", err)
	} else if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("runQuery(--data) (-want +got):\n%s", diff)
	}
}
