package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Functions is the project's functions running in their own process (scripts/functions), the
// way Cloud Functions runs them: configured by environment variables, served over HTTP.
type Functions struct {
	URL  string // http://127.0.0.1:PORT
	port int
	cmd  *exec.Cmd
	done chan error
}

// BuildFunctions compiles scripts/functions into dir and returns the binary's path. root is the
// module's root directory.
func BuildFunctions(ctx context.Context, root, dir string) (string, error) {
	return Build(ctx, root, dir, "./scripts/functions")
}

// Build compiles the main package pkg (e.g. "./scripts/backfill") of the module at root into dir
// and returns the binary's path.
func Build(ctx context.Context, root, dir, pkg string) (string, error) {
	bin := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}

// ModuleRoot finds the directory holding go.mod, from the working directory up.
func ModuleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("finding the module root: not inside the pipelinekit module (run from the repository)")
	}
	return filepath.Dir(gomod), nil
}

// StartFunctions runs the functions binary on port (0: a free loopback port) with env added to
// the current environment, and waits until it serves. The functions' URLs are known before they
// start when port is given, so functions can be told each other's URLs.
func StartFunctions(ctx context.Context, bin string, port int, env map[string]string, logs io.Writer) (*Functions, error) {
	if port != 0 {
		return startFunctionsOn(ctx, bin, port, env, logs)
	}
	// A port found free is closed again before the process listens on it, and another process
	// (a parallel test's emulator, a client's ephemeral port) can take it in between: the
	// process then exits before serving (bind: address already in use). It is started again on
	// another free port, a bounded number of times; a process that exits for any other reason
	// exits the same way each time and its error is returned.
	var err error
	for range freePortAttempts {
		var p int
		if p, err = freePort(); err != nil {
			return nil, err
		}
		var f *Functions
		if f, err = startFunctionsOn(ctx, bin, p, env, logs); err == nil || !errors.Is(err, errExitedEarly) || ctx.Err() != nil {
			return f, err
		}
	}
	return nil, err
}

// freePort is FreePort; a test replaces it with one that hands out a port already taken.
var freePort = FreePort

// freePortAttempts bounds StartFunctions' starts on ports found free.
const freePortAttempts = 3

// errExitedEarly says the functions process exited before it served.
var errExitedEarly = errors.New("the functions process exited before serving")

func startFunctionsOn(ctx context.Context, bin string, port int, env map[string]string, logs io.Writer) (*Functions, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+strconv.Itoa(port), "HOST=127.0.0.1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the functions process: %w", err)
	}
	f := &Functions{URL: fmt.Sprintf("http://127.0.0.1:%d", port), port: port, cmd: cmd, done: make(chan error, 1)}
	go func() { f.done <- cmd.Wait() }()
	if err := f.waitReady(ctx); err != nil {
		f.Stop()
		return nil, err
	}
	return f, nil
}

func (f *Functions) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		// A connection, not a request: a process serving one function (FUNCTION_TARGET) hands
		// every path to it, and a probe must not run a function. The framework listens only
		// once its handlers are registered.
		// A connection alone does not say whose: another process may hold the port (taken
		// between FreePort and this process's listen), so the port's listening socket must be
		// one of this process's.
		if c, err := net.DialTimeout("tcp", strings.TrimPrefix(f.URL, "http://"), time.Second); err == nil {
			c.Close()
			if mine, err := listensOn(f.cmd.Process.Pid, f.port); err != nil || mine {
				return nil // without /proc, the connection is all there is to go by
			}
		}
		select {
		case err := <-f.done:
			f.done <- err
			return fmt.Errorf("%w: %v", errExitedEarly, err)
		case <-ctx.Done():
			return fmt.Errorf("the functions process did not serve at %s: %w", f.URL, ctx.Err())
		case <-tick.C:
		}
	}
}

// Kill ends the process at once, as a crashed instance would.
func (f *Functions) Kill() {
	_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
	<-f.done
	f.done <- nil
}

// Stop ends the process: SIGTERM, then SIGKILL after five seconds.
func (f *Functions) Stop() {
	_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-f.done:
		f.done <- err
	case <-time.After(5 * time.Second):
		f.Kill()
	}
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// listensOn says whether process pid holds the socket listening on loopback port, from Linux's
// /proc: the listening socket's inode in /proc/net/tcp, among the process's descriptors.
func listensOn(pid, port int) (bool, error) {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false, err
	}
	inode := ""
	for _, line := range strings.Split(string(b), "\n")[1:] {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
			continue
		}
		if _, p, ok := strings.Cut(f[1], ":"); ok {
			if n, err := strconv.ParseInt(p, 16, 32); err == nil && int(n) == port {
				inode = f[9]
				break
			}
		}
	}
	if inode == "" {
		return false, nil
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false, nil // the process is gone (it exited, e.g. on a port taken): not its socket
	}
	want := "socket:[" + inode + "]"
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && l == want {
			return true, nil
		}
	}
	return false, nil
}
