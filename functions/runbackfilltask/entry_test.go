package runbackfilltask

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestEntryPointRegistered serves the test binary's registered functions through the Functions
// Framework (in a child process, since the framework's server cannot be stopped) and checks that
// exactly one, RunBackfillTask, is registered and reaches this package's handler.
func TestEntryPointRegistered(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "FUNCTION_TARGET", "GOOGLE_CLOUD_PROJECT", "BIGQUERY_DATASET":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, frameworkChildEnv+"="+port)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", os.Args[0], err)
	}
	served := make(chan []string, 1)
	go func() {
		var names []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if name, ok := strings.CutPrefix(sc.Text(), "Serving function: "); ok {
				names = append(names, name)
			}
		}
		served <- names
	}()
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	base := "http://127.0.0.1:" + port
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res := waitForServer(ctx, t, base+"/"+EntryPoint, &stderr)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// No configuration in the child: the handler answers why, which shows it is this package's.
	if res.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "GOOGLE_CLOUD_PROJECT: required but not set") {
		t.Errorf("POST /%s = %d %s, want 500 naming GOOGLE_CLOUD_PROJECT", EntryPoint, res.StatusCode, body)
	}
	if res, err := http.Get(base + "/SomethingElse"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /SomethingElse = %v, %v; want 404", res, err)
	} else {
		res.Body.Close()
	}

	cmd.Process.Kill()
	cmd.Wait()
	if diff := cmp.Diff([]string{`"` + EntryPoint + `"`}, <-served); diff != "" {
		t.Errorf("registered functions mismatch (-want +got):\n%s", diff)
	}
}

// waitForServer POSTs to url until the server answers or ctx ends.
func waitForServer(ctx context.Context, t *testing.T, url string, stderr *syncBuffer) *http.Response {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			return res
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the Functions Framework did not answer on %s: %v; its stderr:\n%s", url, err, stderr)
		case <-tick.C:
		}
	}
}
