package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
)

// buildTool builds the command scripts/bench/internal/<name> of the module at root into dir and
// returns the binary's path: the benchmarks that measure a process of its own run it.
func buildTool(ctx context.Context, root, dir, name string) (string, error) {
	bin := filepath.Join(dir, name)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./scripts/bench/internal/"+name)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building %s: %w\n%s", name, err, out)
	}
	return bin, nil
}
