package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
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
