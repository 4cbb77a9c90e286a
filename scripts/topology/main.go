// Command topology rewrites shared/topology/topology.json from a real offline `terraform plan`
// of terraform/ (see topology.Plan and topology.FromPlan).
//
//	go run ./scripts/topology [-o FILE]
//
// It needs terraform on PATH and the google and archive providers: from the registry, or from
// the offline mirror that TF_CLI_CONFIG_FILE names. When TF_CLI_CONFIG_FILE names no file it
// runs ../shared/terraform-providers/install beside the repository, if there is one, to get it.
//
// Reference: docs/local-stack.md#one-topology-read-from-terraform.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/pipelinekit/pipelinekit/shared/topology"
)

const usage = `usage: go run ./scripts/topology [-o FILE]

Plans terraform/ offline for project %s and writes the topology the local stack reads.

flags:
`

func main() {
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), usage, topology.Project)
		flag.PrintDefaults()
	}
	out := flag.String("o", "", "file to write (default shared/topology/topology.json in the repository)")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out); err != nil {
		fmt.Fprintln(os.Stderr, "topology:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join(root, "shared", "topology", "topology.json")
	}
	if err := providerMirror(root); err != nil {
		return err
	}
	start := time.Now()
	plan, err := topology.Plan(ctx, filepath.Join(root, "terraform"))
	if err != nil {
		return err
	}
	t, err := topology.FromPlan(plan)
	if err != nil {
		return err
	}
	b, err := t.Encode()
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return fmt.Errorf("writing topology: %w", err)
	}
	fmt.Printf("wrote %s (%d topics, %d subscriptions, %d queues, %d scheduler jobs, %d functions, %d IAM bindings) in %s\n",
		out, len(t.Topics), len(t.Subscriptions), len(t.Queues), len(t.SchedulerJobs), len(t.Functions), len(t.IAMBindings),
		time.Since(start).Round(100*time.Millisecond))
	return nil
}

// repoRoot is the folder of the go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("finding the repository: no go.mod above the working directory")
		}
		dir = up
	}
}

// providerMirror sets TF_CLI_CONFIG_FILE from the offline provider mirror beside the
// repository unless it names a file already (some machines set it to one that is not there);
// with neither, terraform init tries the registry.
func providerMirror(root string) error {
	if rc := os.Getenv("TF_CLI_CONFIG_FILE"); rc != "" {
		if _, err := os.Stat(rc); err == nil {
			return nil
		}
	}
	install := filepath.Join(filepath.Dir(root), "shared", "terraform-providers", "install")
	if _, err := os.Stat(install); err != nil {
		return nil
	}
	b, err := exec.Command(install).Output()
	if err != nil {
		return fmt.Errorf("running %s: %w", install, err)
	}
	return os.Setenv("TF_CLI_CONFIG_FILE", strings.TrimSpace(string(b)))
}
