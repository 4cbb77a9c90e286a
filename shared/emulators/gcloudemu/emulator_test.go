package gcloudemu

import (
	"net"
	"testing"

	"cloud.google.com/go/firestore"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// assertStopped checks what Stop promises: no live process of the group and the port bindable.
func assertStopped(t *testing.T, e *Emulator) {
	t.Helper()
	if pgid := e.cmd.Process.Pid; groupAlive(pgid) {
		pids, _ := groupMembers(pgid)
		t.Errorf("after Stop, process group %d of the %s emulator still has live processes %v", pgid, e.Kind, pids)
	}
	l, err := net.Listen("tcp", e.Host)
	if err != nil {
		t.Errorf("after Stop, net.Listen(%s) = %v, want the port free", e.Host, err)
		return
	}
	l.Close()
}

func TestStartStopRealEmulators(t *testing.T) {
	for _, kind := range []Kind{PubSub, Firestore} {
		t.Run(string(kind), func(t *testing.T) {
			t.Parallel()
			e, err := Start(t.Context(), kind)
			if err != nil {
				t.Fatalf("Start(%s) = %v", kind, err)
			}
			if err := Ping(t.Context(), e.Host); err != nil {
				t.Errorf("Ping(%s) after Start = %v, want nil", e.Host, err)
			}
			if diff := cmp.Diff([]string{kind.EnvVar() + "=" + e.Host}, e.Env()); diff != "" {
				t.Errorf("Env() mismatch (-want +got):\n%s", diff)
			}
			// The point of the process group: gcloud's Java child is in it.
			if pids, ok := groupMembers(e.cmd.Process.Pid); ok && len(pids) < 2 {
				t.Errorf("process group of the %s emulator has live processes %v, want the wrapper and the Java server", kind, pids)
			}
			if err := e.Stop(); err != nil {
				t.Errorf("Stop() = %v", err)
			}
			assertStopped(t, e)
			if err := Ping(t.Context(), e.Host); err == nil {
				t.Errorf("Ping(%s) after Stop = nil, want an error", e.Host)
			}
			if err := e.Stop(); err != nil {
				t.Errorf("second Stop() = %v, want nil", err)
			}
		})
	}
}

func TestResetFirestore(t *testing.T) {
	e, err := Start(t.Context(), Firestore)
	if err != nil {
		t.Fatalf("Start(Firestore) = %v", err)
	}
	defer func() {
		if err := e.Stop(); err != nil {
			t.Errorf("Stop() = %v", err)
		}
	}()
	t.Setenv(Firestore.EnvVar(), e.Host)
	project, other := NewProjectID(t), NewProjectID(t)
	var docs []*firestore.DocumentRef
	for _, p := range []string{project, other} {
		client, err := firestore.NewClient(t.Context(), p)
		if err != nil {
			t.Fatalf("firestore.NewClient(%s) = %v", p, err)
		}
		defer client.Close()
		doc := client.Doc("things/one")
		if _, err := doc.Set(t.Context(), map[string]any{"n": 1}); err != nil {
			t.Fatalf("Set in %s = %v", p, err)
		}
		docs = append(docs, doc)
	}
	if err := ResetFirestore(t.Context(), e.Host, project); err != nil {
		t.Fatalf("ResetFirestore = %v", err)
	}
	if _, err := docs[0].Get(t.Context()); status.Code(err) != codes.NotFound {
		t.Errorf("Get in the reset project = %v, want NotFound", err)
	}
	if _, err := docs[1].Get(t.Context()); err != nil {
		t.Errorf("Get in another project = %v, want the document kept", err)
	}
}
