package localstack

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/firestore"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/rankings"
	"github.com/pipelinekit/pipelinekit/shared/warehouse"
)

// TestDataDirKeepsDataBetweenRuns: a stack started with DataDir finds the BigQuery rows and the
// Firestore documents of the previous stack that used the same directory.
func TestDataDirKeepsDataBetweenRuns(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := BuildFunctions(ctx, root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The stack must start (and so export) its own Firestore emulator, not the package's.
	t.Setenv("FIRESTORE_EMULATOR_HOST", "")
	dir := t.TempDir()
	project := gcloudemu.NewProjectID(t)
	start := func() *Stack {
		t.Helper()
		s, err := Start(ctx, Options{Project: project, DataDir: dir, FunctionsBinary: bin,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Backfill: &BackfillOptions{}})
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		return s
	}

	s := start()
	fs, err := firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Collection("kept").Doc("d1").Set(ctx, map[string]any{"n": 7}); err != nil {
		t.Fatal(err)
	}
	fs.Close()
	// The rankings live in their own database (rankings.DefaultDatabase), which must be kept too.
	rk, err := firestore.NewClientWithDatabase(ctx, project, rankings.DefaultDatabase)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rk.Collection("kept").Doc("r1").Set(ctx, map[string]any{"n": 8}); err != nil {
		t.Fatal(err)
	}
	rk.Close()
	row := mapSaver{"job_id": "bf-kept", "shard": "s", "row_index": 0, "source": "http_json", "fetched_at": time.Now(), "record": "{}"}
	if err := s.BQ.Dataset(s.Dataset).Table(warehouse.TableBackfillRows).Inserter().Put(ctx, []bigquery.ValueSaver{row}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = start()
	defer s.Close()
	r, err := s.Query(ctx, "SELECT COUNT(*) AS n FROM backfill_rows WHERE job_id = 'bf-kept'")
	if err != nil {
		t.Fatal(err)
	}
	if n := r.Int(0, "n"); n != 1 {
		t.Errorf("after a restart, backfill_rows holds %d rows of the first run, want 1", n)
	}
	fs, err = firestore.NewClient(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	snap, err := fs.Collection("kept").Doc("d1").Get(ctx)
	if err != nil {
		t.Fatalf("after a restart, the first run's Firestore document: %v", err)
	}
	if n, _ := snap.Data()["n"].(int64); n != 7 {
		t.Errorf("after a restart, the document holds %v, want n = 7", snap.Data())
	}
	rk, err = firestore.NewClientWithDatabase(ctx, project, rankings.DefaultDatabase)
	if err != nil {
		t.Fatal(err)
	}
	defer rk.Close()
	snap, err = rk.Collection("kept").Doc("r1").Get(ctx)
	if err != nil {
		t.Fatalf("after a restart, the first run's document in the %s database: %v", rankings.DefaultDatabase, err)
	}
	if n, _ := snap.Data()["n"].(int64); n != 8 {
		t.Errorf("after a restart, the %s document holds %v, want n = 8", rankings.DefaultDatabase, snap.Data())
	}
}
