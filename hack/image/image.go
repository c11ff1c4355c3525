package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's user, as the Dockerfile's distroless nonroot base has it:
// 65532:65532 owns nothing in the image and needs nothing from /etc/passwd.
const user = "65532:65532"

// binaryPath is where the manager is in the image, and its entrypoint.
const binaryPath = "/manager"

// epoch stamps the layer's file and the image: the same binary gives the
// same image digest, whenever and wherever it is built.
var epoch = time.Unix(0, 0).UTC()

// spec is what the image says about itself.
type spec struct {
	arch    string
	version string // the tag, for the version label
	source  string // the repository, for the source label
	build   string // the build command, for the layer's history
}

// assemble makes the image: one layer holding only the manager binary,
// owned by root and not writable by the user it runs as. There is no shell,
// no package manager and no CA bundle (the manager embeds trust roots, see
// cmd/manager/roots.go).
func assemble(binary []byte, s spec) (v1.Image, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: binaryPath[1:], Mode: 0o755, Size: int64(len(binary)), ModTime: epoch, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerBytes)), nil },
		tarball.WithMediaType(types.OCILayer),
		// Built once, pulled by every node: worth the slower compression.
		tarball.WithCompressionLevel(gzip.BestCompression))
	if err != nil {
		return nil, fmt.Errorf("compressing the layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: s.build + " && COPY manager " + binaryPath},
	})
	if err != nil {
		return nil, fmt.Errorf("adding the layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", s.arch, v1.Time{Time: epoch}
	cfg.Config = v1.Config{
		User:       user,
		Entrypoint: []string{binaryPath},
		WorkingDir: "/",
		Labels: map[string]string{
			// GHCR links the package to its repository by this label.
			"org.opencontainers.image.source":      s.source,
			"org.opencontainers.image.version":     s.version,
			"org.opencontainers.image.title":       "payment-migration-operator",
			"org.opencontainers.image.description": "Kubernetes operator that migrates a payment workload between two AWS environments (PaymentMigration)",
		},
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("writing the image config: %w", err)
	}
	return img, nil
}
