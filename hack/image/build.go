package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// managerPackage is what the image runs.
const managerPackage = "./cmd/manager"

// buildFlags are the Dockerfile's: a static binary (no cgo, so no libc to
// load and no dynamic loader in the image), without the build machine's
// paths, symbol table or DWARF.
var buildFlags = []string{"-trimpath", "-ldflags=-s -w"}

// buildCommand describes the build for the layer's history.
func buildCommand(arch string) string {
	return fmt.Sprintf("CGO_ENABLED=0 GOOS=linux GOARCH=%s go build %s %s", arch, strings.Join(quoted(buildFlags), " "), managerPackage)
}

func quoted(flags []string) []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		if strings.ContainsRune(f, ' ') {
			name, value, _ := strings.Cut(f, "=")
			f = fmt.Sprintf("%s=%q", name, value)
		}
		out[i] = f
	}
	return out
}

// buildManager builds the manager for linux/arch into a temporary
// directory and returns the binary's bytes.
func buildManager(ctx context.Context, arch string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "manager-image-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	out := filepath.Join(dir, "manager")
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", out, managerPackage)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", buildCommand(arch), err)
	}
	return os.ReadFile(out)
}
