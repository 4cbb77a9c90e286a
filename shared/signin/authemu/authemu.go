// Package authemu gives tests a Firebase Auth emulator: the one FIREBASE_AUTH_EMULATOR_HOST
// names when it answers, or one it starts from firebase-tools (installed into the checkout's
// .cache by scripts/authemulator/install.sh) and stops when the test ends. Where neither works
// the test is skipped with one line saying why. Run does the same for `dev --serve`, and
// SignInAs gives the stack's own clients an ID token.
//
// Reference: docs/sign-in.md.
package authemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/signin"
)

// Project is the emulator's project: a demo- project never reaches Google
// (https://firebase.google.com/docs/emulator-suite/connect_auth).
const Project = "demo-pipelinekit"

// ErrUnavailable is wrapped by Run's error when the emulator cannot be installed or started
// (no Node.js or npm, no network for npm): the caller then runs without sign-in or skips.
var ErrUnavailable = errors.New("no Firebase Auth emulator")

// Emulator is a running Auth emulator: ours (Close stops it) or the one
// FIREBASE_AUTH_EMULATOR_HOST named.
type Emulator struct {
	// Host is its host:port, the value of FIREBASE_AUTH_EMULATOR_HOST.
	Host string
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has been waited for
	logf *os.File
	dir  string
}

// Start returns the emulator's host:port for project Project; repoRoot is the checkout's root.
func Start(t testing.TB, repoRoot string) string {
	t.Helper()
	e, err := Run(context.Background(), repoRoot, Project)
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e.Host
}

// Run starts an emulator whose tokens name project (their aud and iss), or reuses the one
// FIREBASE_AUTH_EMULATOR_HOST names when it answers; repoRoot is the checkout's root.
func Run(ctx context.Context, repoRoot, project string) (*Emulator, error) {
	if h := os.Getenv(signin.EmulatorHostEnv); h != "" && answers(h) {
		return &Emulator{Host: h}, nil
	}
	out, err := exec.CommandContext(ctx, filepath.Join(repoRoot, "scripts", "authemulator", "install.sh")).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			msg = strings.TrimSpace(string(ee.Stderr))
			if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
				msg = msg[i+1:]
			}
		}
		return nil, fmt.Errorf("%w (scripts/authemulator/install.sh: %s)", ErrUnavailable, msg)
	}
	return run(ctx, strings.TrimSpace(string(out)), project)
}

// run starts bin (firebase-tools' firebase) as the emulator.
func run(ctx context.Context, bin, project string) (*Emulator, error) {
	dir, err := os.MkdirTemp("", "authemu-")
	if err != nil {
		return nil, fmt.Errorf("making the Auth emulator's directory: %w", err)
	}
	e := &Emulator{dir: dir}
	// Ports found free can be taken before the emulator binds them (firebase-tools
	// then exits: "port taken"); a start whose process exits is tried again on new ports.
	const attempts = 3
	for attempt := 1; ; attempt++ {
		exited, err := e.start(ctx, bin, project)
		if err == nil {
			return e, nil
		}
		if !exited || attempt == attempts || ctx.Err() != nil {
			e.Close()
			return nil, err
		}
	}
}

// start runs one emulator process on new ports and waits for it to answer;
// exited says whether the process ended before it did.
func (e *Emulator) start(ctx context.Context, bin, project string) (exited bool, err error) {
	ports, err := freePorts(3)
	if err != nil {
		return false, err
	}
	conf := map[string]any{"emulators": map[string]any{
		"auth":    map[string]any{"host": "127.0.0.1", "port": ports[0]},
		"hub":     map[string]any{"host": "127.0.0.1", "port": ports[1]},
		"logging": map[string]any{"host": "127.0.0.1", "port": ports[2]},
		"ui":      map[string]any{"enabled": false},
	}}
	b, _ := json.Marshal(conf)
	if err := os.WriteFile(filepath.Join(e.dir, "firebase.json"), b, 0o644); err != nil {
		return false, fmt.Errorf("writing the Auth emulator's firebase.json: %w", err)
	}
	cmd := exec.Command(bin, "emulators:start", "--only", "auth", "--project", project)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(), "NO_UPDATE_NOTIFIER=1", "FIREBASE_CLI_DISABLE_UPDATE_CHECK=1")
	logPath := filepath.Join(e.dir, "emulator.log")
	if e.logf != nil {
		e.logf.Close()
	}
	if e.logf, err = os.Create(logPath); err != nil {
		return false, fmt.Errorf("creating the Auth emulator's log: %w", err)
	}
	cmd.Stdout, cmd.Stderr = e.logf, e.logf
	// Its own process group: node starts children, and Close stops them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("%w (starting %s: %v)", ErrUnavailable, bin, err)
	}
	e.cmd, e.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(e.done)
	e.Host = fmt.Sprintf("127.0.0.1:%d", ports[0])
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond) // waiting for a process to listen
	defer tick.Stop()
	for !answers(e.Host) {
		select {
		case <-e.done:
			log, _ := os.ReadFile(logPath)
			e.stop()
			return true, fmt.Errorf("the Auth emulator exited before answering on %s; its log:\n%s", e.Host, log)
		case <-wctx.Done():
			log, _ := os.ReadFile(logPath)
			e.stop()
			return false, fmt.Errorf("the Auth emulator did not answer on %s within 2m; its log:\n%s", e.Host, log)
		case <-tick.C:
		}
	}
	return false, nil
}

// Close stops the emulator it started (a reused one is left running) and removes its directory.
func (e *Emulator) Close() error {
	e.stop()
	if e.logf != nil {
		e.logf.Close()
		e.logf = nil
	}
	if e.dir != "" {
		return os.RemoveAll(e.dir)
	}
	return nil
}

// stop ends the emulator's process group, if it started one.
func (e *Emulator) stop() {
	if e.cmd == nil {
		return
	}
	_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
		<-e.done
	}
	e.cmd = nil
}

// SignInAs signs email in on the emulator at host as the deck's emulator box does (account.js
// signInAs): a Google account made up on the spot, its email verified, created on first use.
// It returns the ID token, which lasts an hour.
func SignInAs(ctx context.Context, host, apiKey, email string) (string, error) {
	claims, _ := json.Marshal(map[string]any{"sub": "google-" + email, "email": email, "email_verified": true})
	body, _ := json.Marshal(map[string]any{
		"requestUri":        "http://localhost",
		"postBody":          "id_token=" + url.QueryEscape(string(claims)) + "&providerId=google.com",
		"returnSecureToken": true,
	})
	u := signin.EmulatorURL(host) + "/identitytoolkit.googleapis.com/v1/accounts:signInWithIdp?key=" + url.QueryEscape(apiKey)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("signing %s in on the Auth emulator: %w", email, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("signing %s in on the Auth emulator: %w", email, err)
	}
	var out struct {
		IDToken string `json:"idToken"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.IDToken == "" {
		return "", fmt.Errorf("signing %s in on the Auth emulator: %d %s", email, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return out.IDToken, nil
}

func answers(host string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + host + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	var ports []int
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port for the Auth emulator: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
