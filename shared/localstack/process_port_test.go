package localstack

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestFunctionsStartAgainWhenTheirPortIsTaken: a port found free can be taken before the
// functions process listens on it (CI saw "bind: address already in use"); the process is
// started again on another free port instead of failing the stack.
func TestFunctionsStartAgainWhenTheirPortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	calls := 0
	freePort = func() (int, error) {
		if calls++; calls == 1 {
			return taken.Addr().(*net.TCPAddr).Port, nil // taken since it was found free
		}
		return FreePort()
	}
	t.Cleanup(func() { freePort = FreePort })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := StartFunctions(ctx, os.Args[0], 0, map[string]string{orphanRoleEnv: "frontdoor", "FUNCTION_TARGET": "F"}, io.Discard)
	if err != nil {
		t.Fatalf("StartFunctions with its first port taken: %v", err)
	}
	defer f.Stop()
	if calls != 2 {
		t.Errorf("ports asked for: %d, want 2 (the taken one, then another)", calls)
	}
	// A generous bound: the port's other holder (the old behaviour) never answers.
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(f.URL + "/x")
	if err != nil {
		t.Fatalf("the functions process at %s does not answer (is the port someone else's?): %v", f.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if got := string(b); !strings.HasPrefix(got, "F /x") {
		t.Errorf("the restarted process answered %q, want it serving", got)
	}
}
