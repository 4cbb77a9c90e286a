package gcloudemu

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
)

// The test binary doubles as a fake gcloud: when GCLOUDEMU_FAKE is set it
// behaves like the wrapper (and, as GCLOUDEMU_FAKE_ROLE=server, like the Java
// server it starts), so the process-group handling is tested without Java.
const (
	fakeModeEnv = "GCLOUDEMU_FAKE"
	fakeRoleEnv = "GCLOUDEMU_FAKE_ROLE"
)

// Fake modes.
const (
	fakeExit     = "exit"     // print a few lines and exit 3 without serving
	fakeHang     = "hang"     // start a server child that never listens
	fakeServe    = "serve"    // start a server child that answers GET / with Ok
	fakeStubborn = "stubborn" // like serve, but wrapper and child ignore SIGTERM
	// Like the Pub/Sub emulator when its port is taken: log a BindException
	// and its stack trace, then keep running without a listener.
	fakeBindHang = "bindhang"
	// fakeBindHang the first time (the file named by fakeStateEnv does not
	// exist yet), fakeServe after.
	fakeBindOnce = "bindonce"
	fakeStateEnv = "GCLOUDEMU_FAKE_STATE"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeModeEnv); mode != "" {
		os.Exit(fakeGcloud(mode, os.Getenv(fakeRoleEnv) == "server", os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeGcloud acts out one mode and returns the exit code.
func fakeGcloud(mode string, server bool, args []string) int {
	if mode == fakeStubborn {
		signal.Ignore(syscall.SIGTERM)
	}
	if mode == fakeExit {
		for i := range 30 {
			fmt.Printf("fake line %d\n", i)
		}
		fmt.Println("fake: cannot start")
		return 3
	}
	if !server {
		fmt.Println("Executing: fake server", strings.Join(args, " "))
		child := exec.Command(os.Args[0], args...)
		child.Env = append(os.Environ(), fakeRoleEnv+"=server")
		child.Stdout, child.Stderr = os.Stdout, os.Stderr
		if err := child.Start(); err != nil {
			fmt.Println("fake: starting server:", err)
			return 1
		}
		if err := child.Wait(); err != nil {
			return 1
		}
		return 0
	}
	fmt.Printf("server pid %d\n", os.Getpid())
	if mode == fakeBindOnce {
		// O_EXCL: only the first server creates it.
		if f, err := os.OpenFile(os.Getenv(fakeStateEnv), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
			f.Close()
			mode = fakeBindHang
		}
	}
	if mode == fakeBindHang {
		fmt.Println("[pubsub] Exception in thread \"main\" java.net.BindException: Address already in use")
		for range 30 {
			fmt.Println("[pubsub] \tat java.base/sun.nio.ch.Net.bind0(Native Method)")
		}
	}
	if mode == fakeHang || mode == fakeBindHang {
		select {}
	}
	var addr string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--host-port="); ok {
			addr = v
		}
	}
	err := http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "Ok")
	}))
	fmt.Println("fake server:", err)
	return 1
}

// fakeLookPath resolves gcloud to this test binary and java to anything.
func fakeLookPath(file string) (string, error) {
	switch file {
	case "gcloud":
		return os.Args[0], nil
	case "java":
		return "/bin/true", nil
	}
	return "", exec.ErrNotFound
}
