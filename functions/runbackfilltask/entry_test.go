package runbackfilltask

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A failed build is answered 500 with the reason (so Cloud Tasks retries) and tried again on
// the next request; a successful one is kept.
func TestLazyHandlerRetriesFailedBuild(t *testing.T) {
	builds := 0
	outcomes := []error{errors.New("creating Firestore client: no credentials"), nil}
	l := newLazyHandler(slog.New(slog.NewTextHandler(io.Discard, nil)), func(context.Context) (http.Handler, error) {
		err := outcomes[min(builds, len(outcomes)-1)]
		builds++
		if err != nil {
			return nil, err
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }), nil
	})
	tests := []struct {
		wantStatus int
		wantReason string
		wantBuilds int
	}{
		{http.StatusInternalServerError, "RunBackfillTask is not ready: creating Firestore client: no credentials", 1},
		{http.StatusTeapot, "", 2},
		{http.StatusTeapot, "", 2},
	}
	for i, tt := range tests {
		rec := httptest.NewRecorder()
		l.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}")))
		if rec.Code != tt.wantStatus {
			t.Errorf("request %d: status = %d, want %d", i, rec.Code, tt.wantStatus)
		}
		if tt.wantReason != "" {
			var got Answer
			if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.Reason != tt.wantReason {
				t.Errorf("request %d: body = %s, want reason %q", i, rec.Body, tt.wantReason)
			}
		}
		if builds != tt.wantBuilds {
			t.Errorf("request %d: %d builds, want %d", i, builds, tt.wantBuilds)
		}
	}
}

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
