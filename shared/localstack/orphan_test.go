package localstack

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// orphanRoleEnv makes this test binary play a part in TestFunctionsDieWithTheirParent instead
// of running tests (see TestMain).
const orphanRoleEnv = "LOCALSTACK_ORPHAN_ROLE"

// playOrphanRole plays role and exits: "parent" starts a functions process (this binary again,
// as "functions"), prints its pid and dies at once without stopping it, as a test binary killed
// by go test's -timeout does; "functions" serves HTTP on $PORT until killed.
func playOrphanRole(role string) {
	switch role {
	case "parent":
		f, err := StartFunctions(context.Background(), os.Args[0], 0, map[string]string{orphanRoleEnv: "functions"}, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(f.cmd.Process.Pid)
		os.Exit(3)
	case "frontdoor":
		// A function for TestFrontDoor: /slow answers after 3 s; anything else reads the whole
		// body and answers its length and the path it was served at.
		err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				select {
				case <-time.After(3 * time.Second):
				case <-r.Context().Done():
				}
				return
			}
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%s %s %d", os.Getenv("FUNCTION_TARGET"), r.URL.Path, n)
		}))
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	case "functions":
		err := http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "unknown %s %q\n", orphanRoleEnv, role)
	os.Exit(1)
}

func TestFunctionsDieWithTheirParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), orphanRoleEnv+"=parent")
	parent.Stderr = os.Stderr
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatalf("starting the parent: %v", err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	err = parent.Wait()
	pid, convErr := strconv.Atoi(strings.TrimSpace(line))
	if convErr != nil {
		t.Fatalf("the parent printed %q, not the functions' pid (exit: %v)", line, err)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("the parent exited with %v, want exit status 3", err)
	}
	// The kernel signals at once; the bound only has to outlast a busy scheduler.
	deadline := time.Now().Add(30 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the functions process %d outlived its parent by 30 s", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid names a process that has not exited. A zombie (exited, not yet
// reaped by whoever inherited it) has exited.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name's closing parenthesis.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}
