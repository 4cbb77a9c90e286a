package localstack

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
	"github.com/pipelinekit/pipelinekit/shared/emulators/tasksemulator"
	"github.com/pipelinekit/pipelinekit/shared/sources/sourcestest"
	"github.com/pipelinekit/pipelinekit/shared/sources/youtube/youtubefake"
)

// startTasksProcess builds scripts/tasksemulator and runs it as its own process, as a user runs
// a Cloud Tasks emulator next to the stack; it returns the address the process printed.
func startTasksProcess(t *testing.T, root string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := Build(ctx, root, t.TempDir(), "./scripts/tasksemulator")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the tasksemulator's address: %v", err)
	}
	return strings.TrimSpace(line)
}

// TestBackfillAgainstASeparateCloudTasksProcess: with CLOUD_TASKS_EMULATOR_HOST naming a Cloud
// Tasks server the stack did not start, the stack uses it (and starts none), a second stack
// finds the queue already there, and the same spec runs again with new_run although the server
// still remembers the first run's task names.
func TestBackfillAgainstASeparateCloudTasksProcess(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	addr := startTasksProcess(t, root)
	t.Setenv(tasksemulator.EnvHost, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := BuildFunctions(ctx, root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	project := gcloudemu.NewProjectID(t)
	spec := youtubefake.Spec(2, 3, "day", time.Now().UTC().AddDate(0, 0, -3))

	run := func(name string, spec []byte) {
		t.Helper()
		s, err := Start(ctx, Options{Project: project, FunctionsBinary: bin, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Backfill: &BackfillOptions{Fakes: map[string][]sourcestest.Option{"youtube_analytics": []sourcestest.Option{sourcestest.WithLatency(time.Millisecond)}}}})
		if err != nil {
			t.Fatalf("%s: Start: %v", name, err)
		}
		defer func() {
			if err := s.Close(); err != nil {
				t.Errorf("%s: Close: %v", name, err)
			}
		}()
		if s.Backfill.Tasks != nil || s.Backfill.TasksHost != addr || s.External[tasksemulator.EnvHost] != addr {
			t.Errorf("%s: the stack started its own Cloud Tasks (host %s, external %v), want the process at %s", name, s.Backfill.TasksHost, s.External, addr)
		}
		c, err := s.StartBackfill(ctx, spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st, err := s.WaitBackfill(ctx, c.JobID, 2*time.Minute, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		truth, err := s.BackfillRows(ctx, c.JobID)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != "done" || st.Counts.Succeeded != 6 || truth.Keys != 6 {
			t.Errorf("%s: job %s ended %s with %d tasks and %d rows, want done with 6 and 6", name, c.JobID, st.State, st.Counts.Succeeded, truth.Keys)
		}
		// The next stack starts with an empty Firestore, as a fresh `go run ./scripts/dev` does.
		if err := gcloudemu.ResetFirestore(ctx, os.Getenv("FIRESTORE_EMULATOR_HOST"), project); err != nil {
			t.Error(err)
		}
	}
	run("first run", spec)
	again, err := NewRun(spec)
	if err != nil {
		t.Fatal(err)
	}
	run("second run, new_run", again)
	if got := os.Getenv(tasksemulator.EnvHost); got != addr {
		t.Errorf("after Close, %s = %q, want it restored to %q", tasksemulator.EnvHost, got, addr)
	}
}
