package gcloudemu

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSDK lays out a directory like the Cloud SDK's (bin/gcloud,
// lib/gcloud.py, platform/<components>) and returns the path of bin/gcloud.
func fakeSDK(t *testing.T, components ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range append([]string{"bin", "lib"}, prefixAll("platform/", components)...) {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"bin/gcloud", "lib/gcloud.py"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(root, "bin", "gcloud")
}

func prefixAll(prefix string, s []string) []string {
	var out []string
	for _, v := range s {
		out = append(out, prefix+v)
	}
	return out
}

// pathWith returns a lookPath that finds only the given programs.
func pathWith(found map[string]string) func(string) (string, error) {
	return func(file string) (string, error) {
		if p, ok := found[file]; ok {
			return p, nil
		}
		return "", &exec.Error{Name: file, Err: exec.ErrNotFound}
	}
}

func TestCheck(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	full := fakeSDK(t, "pubsub-emulator", "cloud-firestore-emulator")
	noFirestore := fakeSDK(t, "pubsub-emulator")
	notSDK := filepath.Join(t.TempDir(), "gcloud") // e.g. a wrapper script: layout unknown

	tests := []struct {
		name    string
		kind    Kind
		path    map[string]string
		opts    []Option
		wantErr string // exact message, or "" for no error
	}{
		{
			name:    "gcloud missing, pubsub",
			kind:    PubSub,
			path:    map[string]string{"java": "/usr/bin/java"},
			wantErr: "gcloud not found: install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install) and the component: gcloud components install pubsub-emulator (or apt-get install google-cloud-cli-pubsub-emulator)",
		},
		{
			name:    "gcloud missing, firestore",
			kind:    Firestore,
			path:    map[string]string{},
			wantErr: "gcloud not found: install the Google Cloud SDK (https://cloud.google.com/sdk/docs/install) and the component: gcloud components install cloud-firestore-emulator (or apt-get install google-cloud-cli-firestore-emulator)",
		},
		{
			name:    "java missing",
			kind:    PubSub,
			path:    map[string]string{"gcloud": full},
			wantErr: "java not found: the Pub/Sub emulator needs a Java 11+ runtime: apt-get install default-jre-headless",
		},
		{
			name: "component missing",
			kind: Firestore,
			path: map[string]string{"gcloud": noFirestore, "java": "/usr/bin/java"},
			wantErr: fmt.Sprintf("the Firestore emulator is not installed (no %s): gcloud components install cloud-firestore-emulator (or apt-get install google-cloud-cli-firestore-emulator)",
				filepath.Join(filepath.Dir(filepath.Dir(noFirestore)), "platform", "cloud-firestore-emulator")),
		},
		{
			name: "component present",
			kind: PubSub,
			path: map[string]string{"gcloud": noFirestore, "java": "/usr/bin/java"},
		},
		{
			name: "layout not the SDK's: left to gcloud",
			kind: Firestore,
			path: map[string]string{"gcloud": notSDK, "java": "/usr/bin/java"},
		},
		{
			name:    "unknown kind",
			kind:    Kind("bigtable"),
			path:    map[string]string{"gcloud": full, "java": "/usr/bin/java"},
			wantErr: `unknown emulator kind "bigtable": want "pubsub" or "firestore"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.kind, append(tt.opts, WithLookPath(pathWith(tt.path)))...)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("Check(%q) = %q, want %q", tt.kind, got, tt.wantErr)
			}
		})
	}

	t.Run("port in use", func(t *testing.T) {
		err := Check(PubSub, WithPort(busyPort), WithLookPath(pathWith(map[string]string{"gcloud": full, "java": "/usr/bin/java"})))
		want := fmt.Sprintf("port %d on 127.0.0.1 is in use", busyPort)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Check(PubSub, WithPort(%d)) = %v, want an error starting %q", busyPort, err, want)
		}
	})
}

func TestStartReportsCheckFailure(t *testing.T) {
	_, err := Start(t.Context(), PubSub, WithLookPath(pathWith(nil)))
	if err == nil || !strings.HasPrefix(err.Error(), "gcloud not found") {
		t.Errorf("Start without gcloud = %v, want the gcloud not found error", err)
	}
}
