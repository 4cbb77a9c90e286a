package topology

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Plan runs a real `terraform plan` of the configuration in terraformDir for project Project,
// offline, and returns the plan as `terraform show -json` prints it.
//
// It plans a copy: terraformDir's .tf files and its subfolders (without .terraform, tests/,
// *_test.go, tfvars, state and override files, so nothing of a developer's own settings leaks
// in) beside the files of its parent folder that the configuration names as
// ${path.module}/../NAME (.gcloudignore and functions.go, read by the source zip). An override.tf gives the
// google provider the access token "offline" and points Resource Manager and Cloud Billing,
// the only APIs a plan reads (data.google_project), at a fake served here that knows Project
// as ProjectNumber. TF_VAR_*, TF_CLI_ARGS*, TF_DATA_DIR, TF_WORKSPACE, GOOGLE_* and CLOUDSDK_*
// are removed from Terraform's environment; TF_CLI_CONFIG_FILE is kept, as it names the provider mirror
// where the registry cannot be reached.
func Plan(ctx context.Context, terraformDir string) ([]byte, error) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		return nil, fmt.Errorf("finding terraform: %w", err)
	}
	tmp, err := os.MkdirTemp("", "topology-plan-")
	if err != nil {
		return nil, fmt.Errorf("creating plan folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "terraform")
	if err := copyConfig(terraformDir, dir); err != nil {
		return nil, err
	}

	fake, err := startFakeResourceManager()
	if err != nil {
		return nil, err
	}
	defer fake.close()
	override := fmt.Sprintf(`provider "google" {
  access_token                     = "offline"
  resource_manager_custom_endpoint = "%[1]s/v1/"
  cloud_billing_custom_endpoint    = "%[1]s/v1/"
}
`, fake.url)
	if err := os.WriteFile(filepath.Join(dir, "override.tf"), []byte(override), 0o644); err != nil {
		return nil, fmt.Errorf("writing override.tf: %w", err)
	}

	run := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, tf, args...)
		// On cancel, an interrupt lets Terraform stop its providers; a kill follows if it hangs.
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = 10 * time.Second
		cmd.Dir = dir
		cmd.Env = terraformEnv(os.Environ())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			msg := fmt.Sprintf("running terraform %s: %v\n%s%s", args[0], err, stdout.Bytes(), stderr.Bytes())
			if unexpected := fake.unexpected(); len(unexpected) > 0 {
				msg += "\nthe fake Resource Manager answered 404 to: " + strings.Join(unexpected, ", ")
			}
			return nil, errors.New(msg)
		}
		return stdout.Bytes(), nil
	}
	if _, err := run("init", "-backend=false", "-input=false", "-no-color"); err != nil {
		return nil, err
	}
	if _, err := run("plan", "-input=false", "-lock=false", "-no-color", "-var", "project_id="+Project, "-out=plan.bin"); err != nil {
		return nil, err
	}
	return run("show", "-json", "-no-color", "plan.bin")
}

var parentFileRE = regexp.MustCompile(`\$\{path\.module\}/\.\./([A-Za-z0-9._-]+)`)

// copyConfig copies what planning the configuration in src needs to dst (see Plan).
func copyConfig(src, dst string) error {
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if rel != "." && (name == ".terraform" || name == "tests" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		top := filepath.Dir(rel) == "."
		switch {
		case !d.Type().IsRegular(), strings.HasSuffix(name, "_test.go"):
			return nil
		case top && (filepath.Ext(name) != ".tf" || name == "override.tf" || strings.HasSuffix(name, "_override.tf")):
			// Only configuration at the top: no tfvars, state, lock file or overrides.
			return nil
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	// The files of the parent folder the configuration names as ${path.module}/../NAME.
	parent := filepath.Dir(filepath.Clean(src))
	tfFiles, err := filepath.Glob(filepath.Join(src, "*.tf"))
	if err != nil {
		return fmt.Errorf("listing %s: %w", src, err)
	}
	for _, path := range tfFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		for _, m := range parentFileRE.FindAllSubmatch(b, -1) {
			name := string(m[1])
			err := copyFile(filepath.Join(parent, name), filepath.Join(filepath.Dir(dst), name))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("copying %s: %w", name, err)
			}
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// terraformEnv is env without what would change the plan or lend it real credentials.
func terraformEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "TF_VAR_"), strings.HasPrefix(name, "TF_CLI_ARGS"),
			name == "TF_DATA_DIR", name == "TF_WORKSPACE", strings.HasPrefix(name, "GOOGLE_"),
			strings.HasPrefix(name, "CLOUDSDK_"):
			continue
		}
		out = append(out, kv)
	}
	return append(out, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1")
}

// fakeResourceManager answers the google provider's reads of data.google_project: the project
// and its billing info. Anything else gets 404 and is remembered for the error message.
type fakeResourceManager struct {
	url    string
	server *http.Server
	mu     sync.Mutex
	misses []string
}

func startFakeResourceManager() (*fakeResourceManager, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the fake Resource Manager: %w", err)
	}
	f := &fakeResourceManager{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/projects/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != Project {
			f.notFound(w, r)
			return
		}
		writeJSON(w, map[string]string{"projectId": Project, "projectNumber": ProjectNumber, "lifecycleState": "ACTIVE", "name": Project})
	})
	mux.HandleFunc("GET /v1/projects/{id}/billingInfo", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != Project {
			f.notFound(w, r)
			return
		}
		writeJSON(w, map[string]any{"name": "projects/" + Project + "/billingInfo", "projectId": Project, "billingEnabled": false})
	})
	mux.HandleFunc("/", f.notFound)
	f.server = &http.Server{Handler: mux}
	go f.server.Serve(ln)
	return f, nil
}

func (f *fakeResourceManager) notFound(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	// Method and path only: the request's headers carry the (fake) token.
	f.misses = append(f.misses, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	http.Error(w, `{"error":{"code":404,"message":"not served by the topology's fake Resource Manager","status":"NOT_FOUND"}}`, http.StatusNotFound)
}

func (f *fakeResourceManager) unexpected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.misses...)
}

func (f *fakeResourceManager) close() { f.server.Close() }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
