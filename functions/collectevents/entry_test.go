package collectevents

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

	"github.com/pipelinekit/pipelinekit/shared/config"
)

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr []string
	}{
		{
			name: "defaults",
			env:  map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "EVENTS_TOPIC": "app-events"},
			want: Config{Project: "p", Topic: "app-events", DedupCollection: "collect_events_seen",
				DedupTTL: 24 * time.Hour, MaxBodyBytes: 5 << 20, MaxEvents: 1000},
		},
		{
			name: "everything set",
			env: map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "EVENTS_TOPIC": "t", "DEDUP_COLLECTION": "seen",
				"DEDUP_TTL": "2h", "MAX_BODY_BYTES": "65536", "MAX_EVENTS": "50"},
			want: Config{Project: "p", Topic: "t", DedupCollection: "seen", DedupTTL: 2 * time.Hour, MaxBodyBytes: 65536, MaxEvents: 50},
		},
		{
			name:    "every problem reported",
			env:     map[string]string{"DEDUP_TTL": "soon", "MAX_BODY_BYTES": "1", "MAX_EVENTS": "0"},
			wantErr: []string{"GOOGLE_CLOUD_PROJECT: required", "EVENTS_TOPIC: required", "DEDUP_TTL", "MAX_BODY_BYTES", "MAX_EVENTS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfig(config.Map(tt.env))
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("LoadConfig() error = %v, want one mentioning %q", err, w)
				}
			}
			if len(tt.wantErr) == 0 && err != nil {
				t.Errorf("LoadConfig() error = %v, want nil", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("LoadConfig() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestEntryPointRegistered serves the test binary's registered functions through the Functions
// Framework (in a child process, since the framework's server cannot be stopped) and checks that
// exactly one, CollectEvents, is registered and reaches this package's handler.
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
		case "FUNCTION_TARGET", "GOOGLE_CLOUD_PROJECT", "EVENTS_TOPIC":
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
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("[]"))
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
