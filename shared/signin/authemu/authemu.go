// Package authemu gives tests a Firebase Auth emulator: the one FIREBASE_AUTH_EMULATOR_HOST
// names when it answers, or one it starts from firebase-tools (installed into the checkout's
// .cache by scripts/authemulator/install.sh) and stops when the test ends. Where neither works
// the test is skipped with one line saying why.
//
// Reference: docs/sign-in.md.
package authemu

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
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

// Start returns the emulator's host:port; repoRoot is the checkout's root.
func Start(t testing.TB, repoRoot string) string {
	t.Helper()
	if h := os.Getenv(signin.EmulatorHostEnv); h != "" && answers(h) {
		return h
	}
	out, err := exec.Command(filepath.Join(repoRoot, "scripts", "authemulator", "install.sh")).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			msg = strings.TrimSpace(string(ee.Stderr))
			if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
				msg = msg[i+1:]
			}
		}
		t.Skipf("no Firebase Auth emulator (scripts/authemulator/install.sh: %s)", msg)
	}
	bin := strings.TrimSpace(string(out))
	dir := t.TempDir()
	ports := freePorts(t, 3)
	conf := map[string]any{"emulators": map[string]any{
		"auth":    map[string]any{"host": "127.0.0.1", "port": ports[0]},
		"hub":     map[string]any{"host": "127.0.0.1", "port": ports[1]},
		"logging": map[string]any{"host": "127.0.0.1", "port": ports[2]},
		"ui":      map[string]any{"enabled": false},
	}}
	b, _ := json.Marshal(conf)
	if err := os.WriteFile(filepath.Join(dir, "firebase.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "emulators:start", "--only", "auth", "--project", Project)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_UPDATE_NOTIFIER=1", "FIREBASE_CLI_DISABLE_UPDATE_CHECK=1")
	logf, err := os.Create(filepath.Join(dir, "emulator.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: node starts children, and the cleanup stops them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Skipf("no Firebase Auth emulator (starting %s: %v)", bin, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		logf.Close()
	})
	host := fmt.Sprintf("127.0.0.1:%d", ports[0])
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for !answers(host) {
		if ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "emulator.log"))
			t.Fatalf("the Auth emulator did not answer on %s within 2m; its log:\n%s", host, log)
		}
		time.Sleep(200 * time.Millisecond) // waiting for a process to listen
	}
	return host
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

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}
