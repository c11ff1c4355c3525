// Command image builds the manager's container image without a container
// engine: the static manager binary in a single layer, run as a non-root
// user, written as an OCI image layout (for skopeo, crane or a registry
// push) and, with -tar, as a `docker load` / `kind load image-archive`
// tarball. `make image` runs it; the Dockerfile builds the same image for
// those who have Docker.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		out           = flag.String("out", "bin/image", "Directory to write the OCI image layout to (replaced).")
		tarPath       = flag.String("tar", "", "Also write a docker-archive tarball here (docker load, kind load image-archive).")
		arch          = flag.String("arch", runtime.GOARCH, "GOARCH of the image (linux only).")
		ref           = flag.String("ref", "", "Reference to tag the image with; empty: the one config/manager deploys.")
		kustomization = flag.String("kustomization", "config/manager/kustomization.yaml", "Where the deployed reference is read from.")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	tag, err := deployedRef(*kustomization)
	if *ref != "" {
		tag, err = name.NewTag(*ref)
	}
	if err != nil {
		return err
	}
	binary, err := buildManager(ctx, *arch)
	if err != nil {
		return err
	}
	img, err := assemble(binary, spec{arch: *arch, version: tag.TagStr(), source: sourceURL(), build: buildCommand(*arch)})
	if err != nil {
		return err
	}
	if err := writeLayout(*out, tag, img, *arch); err != nil {
		return err
	}
	if *tarPath != "" {
		if err := tarball.WriteToFile(*tarPath, tag, img); err != nil {
			return fmt.Errorf("writing %s: %w", *tarPath, err)
		}
	}
	return report(os.Stdout, *out, *tarPath, tag, img, len(binary))
}

// writeLayout replaces dir with a layout holding img, named as BuildKit's
// OCI exporter names it: the tag in org.opencontainers.image.ref.name
// (skopeo's oci:dir:tag), the whole reference for containerd's import.
func writeLayout(dir string, tag name.Tag, img v1.Image, arch string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("creating the layout %s: %w", dir, err)
	}
	err = p.AppendImage(img,
		layout.WithPlatform(v1.Platform{OS: "linux", Architecture: arch}),
		layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": tag.TagStr(),
			"io.containerd.image.name":          tag.Name(),
		}))
	if err != nil {
		return fmt.Errorf("writing the image into %s: %w", dir, err)
	}
	return nil
}

// sourceURL is the repository of this module (the main module of `go run
// ./hack/image`), for the source label.
func sourceURL() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path != "" {
		return "https://" + bi.Main.Path
	}
	return ""
}
