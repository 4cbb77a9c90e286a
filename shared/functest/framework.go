package functest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

// servePortEnv, set to a port, makes a test binary that calls ServeChildIfAsked serve its
// registered functions instead of running tests. One name serves every package: each test
// binary starts only children of its own.
const servePortEnv = "FUNCTEST_SERVE_PORT"

// startTimeout bounds how long RegisteredEntryPoints waits for the child to answer; a loaded
// machine links and starts a test binary slowly.
const startTimeout = 20 * time.Second

// ServeChildIfAsked, called first in TestMain, turns the test binary into the child that
// RegisteredEntryPoints starts: it runs each of beforeServing (to register more functions, as
// the local stack does), serves every registered function through the Functions Framework on
// loopback at the port RegisteredEntryPoints chose, and exits. In the parent it does nothing.
func ServeChildIfAsked(beforeServing ...func() error) {
	port := os.Getenv(servePortEnv)
	if port == "" {
		return
	}
	for _, f := range beforeServing {
		if err := f(); err != nil {
			fmt.Fprintf(os.Stderr, "preparing to serve functions: %v\n", err)
			os.Exit(1)
		}
	}
	if err := funcframework.StartHostPort("127.0.0.1", port); err != nil {
		fmt.Fprintf(os.Stderr, "serving functions: %v\n", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// RegisteredEntryPoints starts the test binary as a child serving its registered functions
// through the Functions Framework (a child, since the framework's server cannot be stopped),
// waits until it accepts connections, and returns the names of the functions it serves, sorted
// ("" for one registered by path alone), and the URL to reach them. The child runs without
// FUNCTION_TARGET (which would make the framework serve one function at "/") and without the
// variables in clearEnv; t.Cleanup kills it. The test binary's TestMain must call
// ServeChildIfAsked first.
func RegisteredEntryPoints(t *testing.T, clearEnv ...string) (names []string, baseURL string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cleared := append([]string{"FUNCTION_TARGET", servePortEnv}, clearEnv...)
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); !slices.Contains(cleared, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, servePortEnv+"="+port)
	// A file, not a pipe: the child writes its "Serving function:" lines before it listens, so
	// once it accepts a connection they are all in the file, with no copying goroutine to wait for.
	stdoutPath := filepath.Join(t.TempDir(), "stdout")
	stdout, err := os.Create(stdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	cmd.Stdout = stdout
	var stderr Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", os.Args[0], err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait() // the child's stderr, reported below, says why it exited
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	if err := waitForListener(t.Context(), addr, exited); err != nil {
		t.Fatalf("the Functions Framework did not serve on %s: %v; its stderr:\n%s", addr, err, &stderr)
	}
	out, err := os.ReadFile(stdoutPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		quoted, ok := strings.CutPrefix(line, "Serving function: ")
		if !ok {
			continue
		}
		name, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("the Functions Framework printed %q, want a quoted name: %v", line, err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names, "http://" + addr
}

// waitForListener dials addr until it accepts a connection, the child exits or startTimeout passes.
func waitForListener(ctx context.Context, addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-exited:
			return errors.New("the child exited before listening")
		case <-tick.C:
		}
	}
}

// Request sends body (JSON, or nothing when empty) to url and returns the answer's status and body.
func Request(t *testing.T, method, url, body string) (status int, answer string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Errorf("%s %s: reading the answer: %v", method, url, err)
	}
	return res.StatusCode, string(b)
}
