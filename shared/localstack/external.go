package localstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/emulators/bqemulator"
	"github.com/pipelinekit/pipelinekit/shared/emulators/gcloudemu"
)

// reuse returns the server named by the variable env when it answers, and says which one the
// stack uses; false means the stack starts its own.
func (s *Stack) reuse(ctx context.Context, env, what string, ping func(context.Context, string) error) (string, bool) {
	host := os.Getenv(env)
	if host == "" {
		return "", false
	}
	if err := ping(ctx, host); err != nil {
		s.log.Warn(fmt.Sprintf("%s=%s does not answer: starting a %s", env, host, what), "error", err)
		return "", false
	}
	s.log.Info(fmt.Sprintf("using the %s at %s (%s)", what, host, env))
	if s.External == nil {
		s.External = map[string]string{}
	}
	s.External[env] = host
	return host, true
}

// setenv sets a variable for this process (the official clients read them) and remembers its
// old value, which Close puts back: a second stack in the same process must not find the first
// one's stopped servers.
func (s *Stack) setenv(k, v string) {
	if s.restoreEnv == nil {
		s.restoreEnv = map[string]*string{}
	}
	if _, seen := s.restoreEnv[k]; !seen {
		if old, ok := os.LookupEnv(k); ok {
			s.restoreEnv[k] = &old
		} else {
			s.restoreEnv[k] = nil
		}
	}
	os.Setenv(k, v)
}

// pingHTTP checks that an HTTP server answers at host: any answer will do, since a BigQuery
// server answers its root with 404.
func pingHTTP(ctx context.Context, host string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// The layout of Options.DataDir.
const (
	bigQueryFile       = "bigquery.duckdb"
	firestoreExportDir = "firestore"
	// The Firestore emulator's export writes a file with this suffix, which --import-data names.
	firestoreMetadataSuffix = ".overall_export_metadata"
)

func (o Options) bigQueryOptions() []bqemulator.Option {
	opts := []bqemulator.Option{bqemulator.WithProject(o.Project)}
	if o.DataDir != "" {
		opts = append(opts, bqemulator.WithDatabase(filepath.Join(o.DataDir, bigQueryFile)))
	}
	return opts
}

func (o Options) firestoreOptions() []gcloudemu.Option {
	opts := []gcloudemu.Option{gcloudemu.WithOutput(o.Logs), gcloudemu.WithStartTimeout(emulatorStartTimeout)}
	if o.DataDir != "" {
		if meta := findExportMetadata(filepath.Join(o.DataDir, firestoreExportDir)); meta != "" {
			opts = append(opts, gcloudemu.WithArgs("--import-data="+meta))
		}
	}
	return opts
}

// exportFirestore asks the Firestore emulator to write its documents under dir, which the next
// start imports. It is the emulator's own export (the REST call the Firebase tools make).
func exportFirestore(ctx context.Context, host, project, dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	// The emulator wants an existing directory; write beside the last export, then swap.
	tmp := abs + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"database": "projects/" + project + "/databases/(default)", "export_directory": tmp})
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+host+"/emulator/v1/projects/"+project+":export", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("exporting Firestore data: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("exporting Firestore data: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if err := os.RemoveAll(abs); err != nil {
		return err
	}
	return os.Rename(tmp, abs)
}

// findExportMetadata returns the metadata file of the Firestore export in dir (at its top or
// one directory down), or "" when there is none.
func findExportMetadata(dir string) string {
	for _, pattern := range []string{"*" + firestoreMetadataSuffix, "*/*" + firestoreMetadataSuffix} {
		if m, _ := filepath.Glob(filepath.Join(dir, pattern)); len(m) > 0 {
			return m[0]
		}
	}
	return ""
}
