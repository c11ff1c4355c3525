package main

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The image of a stand-in binary: one layer with only /manager, root-owned
// and executable, the config the Deployment relies on, and the same digest
// on every build.
func TestAssembleOneNonRootLayer(t *testing.T) {
	s := spec{arch: "arm64", version: "v1.2.3", source: "https://example.com/repo", build: buildCommand("arm64")}
	img, err := assemble([]byte("\x7fELF stand-in"), s)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if cfg.OS != "linux" || cfg.Architecture != "arm64" || c.User != "65532:65532" || !slices.Equal(c.Entrypoint, []string{"/manager"}) ||
		len(c.Cmd) != 0 || c.WorkingDir != "/" || len(c.Env) != 0 {
		t.Errorf("config %s/%s %+v", cfg.OS, cfg.Architecture, c)
	}
	if c.Labels["org.opencontainers.image.source"] != s.source || c.Labels["org.opencontainers.image.version"] != s.version {
		t.Errorf("labels %v", c.Labels)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Mode != 0o755 || h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(epoch) {
			t.Errorf("%s: mode %o, owner %d:%d, time %s", h.Name, h.Mode, h.Uid, h.Gid, h.ModTime)
		}
	}
	if !slices.Equal(names, []string{"manager"}) {
		t.Errorf("layer holds %v, want only manager", names)
	}
	again, err := assemble([]byte("\x7fELF stand-in"), s)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := img.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Errorf("two builds of the same binary: %s and %s", d1, d2)
	}
}

func TestDeployedRef(t *testing.T) {
	for _, tc := range []struct {
		name, kustomization, want string
	}{
		{"the placeholder's entry", "images:\n- name: other\n  newName: x/y\n  newTag: v9\n- name: controller\n  newName: ghcr.io/o/op\n  newTag: v0.1.0\n", "ghcr.io/o/op:v0.1.0"},
		{"no entry for the placeholder", "images:\n- name: other\n  newName: x/y\n  newTag: v9\n", ""},
		{"a digest names no image to build", "images:\n- name: controller\n  newName: ghcr.io/o/op\n  digest: sha256:0123\n", ""},
		{"no tag", "images:\n- name: controller\n  newName: ghcr.io/o/op\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "kustomization.yaml")
			if err := os.WriteFile(path, []byte(tc.kustomization), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := deployedRef(path)
			switch {
			case tc.want == "" && err == nil:
				t.Errorf("got %s, want an error", got)
			case tc.want != "" && (err != nil || got.Name() != tc.want):
				t.Errorf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// The flags the layer's history names are the Dockerfile's.
func TestBuildCommand(t *testing.T) {
	want := `CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags="-s -w" ./cmd/manager`
	if got := buildCommand("amd64"); got != want {
		t.Errorf("buildCommand = %s, want %s", got, want)
	}
}
