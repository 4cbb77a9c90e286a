package authemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The test binary doubles as a fake firebase when fakeEnv is set: it reads
// firebase.json as firebase-tools does and, while the file fakeEnv names does
// not exist, creates it and exits as firebase-tools does when a port is taken.
const fakeEnv = "AUTHEMU_FAKE_STATE"

func TestMain(m *testing.M) {
	if state := os.Getenv(fakeEnv); state != "" {
		os.Exit(fakeFirebase(state))
	}
	os.Exit(m.Run())
}

func fakeFirebase(state string) int {
	b, err := os.ReadFile("firebase.json")
	if err != nil {
		fmt.Println("fake firebase:", err)
		return 1
	}
	var conf struct {
		Emulators struct {
			Auth struct {
				Host string `json:"host"`
				Port int    `json:"port"`
			} `json:"auth"`
		} `json:"emulators"`
	}
	if err := json.Unmarshal(b, &conf); err != nil {
		fmt.Println("fake firebase:", err)
		return 1
	}
	if f, err := os.OpenFile(state, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600); err == nil {
		f.Close()
		fmt.Printf("Error: Could not start Auth Emulator, port taken.\n")
		return 1
	}
	addr := fmt.Sprintf("%s:%d", conf.Emulators.Auth.Host, conf.Emulators.Auth.Port)
	fmt.Println("fake firebase: serving on", addr)
	err = http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"authEmulator":{"ready":true}}`)
	}))
	fmt.Println("fake firebase:", err)
	return 1
}

// TestRunRetriesATakenPort: a start whose ports were taken before the
// emulator bound them is tried again on new ports.
func TestRunRetriesATakenPort(t *testing.T) {
	state := filepath.Join(t.TempDir(), "taken-once")
	t.Setenv(fakeEnv, state)
	e, err := run(t.Context(), os.Args[0], Project)
	if err != nil {
		t.Fatalf("run = %v, want the second start to answer", err)
	}
	defer e.Close()
	if _, err := os.Stat(state); err != nil {
		t.Errorf("the first start did not run: %v", err)
	}
	if !answers(e.Host) {
		t.Errorf("nothing answers on %s", e.Host)
	}
	log, _ := os.ReadFile(filepath.Join(e.dir, "emulator.log"))
	if !strings.Contains(string(log), "serving on "+e.Host) {
		t.Errorf("emulator.log = %q, want the second start serving on %s", log, e.Host)
	}
}

// TestRunGivesUpAfterThreeExits: a process that always exits is not tried
// forever, and the error quotes its log.
func TestRunGivesUpAfterThreeExits(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "firebase")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho \"$$\" >> \"$AUTHEMU_COUNT\"\necho 'Error: Could not start Auth Emulator, port taken.'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	count := filepath.Join(t.TempDir(), "count")
	t.Setenv("AUTHEMU_COUNT", count)
	_, err := run(t.Context(), bin, Project)
	if err == nil || !strings.Contains(err.Error(), "exited before answering") || !strings.Contains(err.Error(), "port taken") {
		t.Fatalf("run = %v, want the exit and its log", err)
	}
	b, _ := os.ReadFile(count)
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Errorf("the emulator was started %d times, want 3", n)
	}
}
