package main

import (
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// report prints what was built and how much a node pulls.
func report(w io.Writer, dir, tarPath string, tag name.Tag, img v1.Image, binarySize int) error {
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	size, err := compressedSize(img)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "image %s@%s (%s/%s, user %s, entrypoint %v)\n", tag.Name(), digest, cfg.OS, cfg.Architecture, cfg.Config.User, cfg.Config.Entrypoint)
	fmt.Fprintf(w, "  manager binary %.1f MiB, compressed image %.1f MiB\n", float64(binarySize)/(1<<20), float64(size)/(1<<20))
	fmt.Fprintf(w, "  OCI layout: %s\n", dir)
	if tarPath != "" {
		fmt.Fprintf(w, "  tarball:    %s\n", tarPath)
	}
	return nil
}

// compressedSize is what a registry stores and a node pulls: the manifest,
// the config and the compressed layers.
func compressedSize(img v1.Image) (int64, error) {
	m, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	c, err := img.RawConfigFile()
	if err != nil {
		return 0, err
	}
	total := int64(len(m) + len(c))
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}
