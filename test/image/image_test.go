// Package image_test builds the manager's image as `make image` does and
// reads it back as a registry and a node would: what runs (user,
// entrypoint, nothing but the binary), that the binary is static and for
// the image's architecture, built with the Dockerfile's flags, tagged with
// the reference the install deploys, and how much a node pulls.
package image_test

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const repoRoot = "../.."

// maxCompressed bounds what a node pulls (manifest, config, compressed
// layer). Measured: 31.0 MiB for a 125.4 MiB binary (Go 1.26.8,
// linux/amd64, gzip level 9). 40 MiB leaves about 30% for the operator to
// grow, and fails on a binary built without -s -w (60.3 MiB) or on a
// dependency as large as the operator itself added by mistake.
const maxCompressed = 40 << 20

// elfMachine is the ELF machine of each GOARCH an image may be built for.
var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390}

func TestImageAsMakeImageBuildsIt(t *testing.T) {
	dir := t.TempDir()
	layoutDir, tarPath := filepath.Join(dir, "layout"), filepath.Join(dir, "image.tar")
	start := time.Now()
	// make image's command, into a temporary directory.
	cmd := exec.CommandContext(t.Context(), "go", "run", "./hack/image", "-out", layoutDir, "-tar", tarPath)
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run ./hack/image: %v\n%s", err, out)
	}
	t.Logf("built in %s:\n%s", time.Since(start).Round(time.Second), out)

	desc, img, err := readLayout(layoutDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	rawCfg, _ := json.MarshalIndent(cfg.Config, "  ", "  ")
	t.Logf("config: %s/%s\n  %s", cfg.OS, cfg.Architecture, rawCfg)
	files, binary, err := layerFiles(img)
	if err != nil {
		t.Fatal(err)
	}
	size, err := compressedSize(img)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compressed size %d bytes (%.1f MiB, bound %d MiB); binary %.1f MiB", size, float64(size)/(1<<20), maxCompressed>>20, float64(len(binary))/(1<<20))
	deployed, err := deployedImage()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Config

	for _, tc := range []struct {
		what string
		err  error
	}{
		{"tagged as the install deploys it", expect(desc.Annotations["io.containerd.image.name"] == deployed, "layout names %q, config/default deploys %q", desc.Annotations["io.containerd.image.name"], deployed)},
		{"linux on this machine's architecture", expect(cfg.OS == "linux" && cfg.Architecture == runtime.GOARCH && desc.Platform != nil && desc.Platform.Architecture == runtime.GOARCH, "config %s/%s, index %v", cfg.OS, cfg.Architecture, desc.Platform)},
		{"runs as 65532:65532, not root", expect(c.User == "65532:65532", "user %q", c.User)},
		{"entrypoint /manager, no command", expect(slices.Equal(c.Entrypoint, []string{"/manager"}) && len(c.Cmd) == 0, "entrypoint %q cmd %q", c.Entrypoint, c.Cmd)},
		{"working directory /", expect(c.WorkingDir == "/", "workingDir %q", c.WorkingDir)},
		{"nothing but the binary: no shell", expect(slices.Equal(files, []string{"manager 0755 0:0"}), "layer holds %v", files)},
		{"a static executable for its architecture", staticFor(binary, cfg.Architecture)},
		{"stripped", stripped(binary)},
		{"built with the Dockerfile's flags", builtAsDockerfile(binary, cfg.Architecture)},
		{"the same image in the tarball", sameInTarball(tarPath, deployed, img)},
		{fmt.Sprintf("under %d MiB compressed", maxCompressed>>20), expect(size <= maxCompressed, "%d bytes", size)},
	} {
		t.Run(tc.what, func(t *testing.T) {
			if tc.err != nil {
				t.Error(tc.err)
			}
		})
	}
}

func expect(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

// readLayout returns the layout's only image and its index descriptor.
func readLayout(dir string) (v1.Descriptor, v1.Image, error) {
	p, err := layout.FromPath(dir)
	if err != nil {
		return v1.Descriptor{}, nil, fmt.Errorf("reading the layout: %w", err)
	}
	ii, err := p.ImageIndex()
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	m, err := ii.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	if len(m.Manifests) != 1 {
		return v1.Descriptor{}, nil, fmt.Errorf("the layout holds %d manifests, want 1", len(m.Manifests))
	}
	img, err := ii.Image(m.Manifests[0].Digest)
	return m.Manifests[0], img, err
}

// layerFiles lists each entry of the image's only layer as "name mode
// uid:gid" and returns the manager binary.
func layerFiles(img v1.Image) ([]string, []byte, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, err
	}
	if len(layers) != 1 {
		return nil, nil, fmt.Errorf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = rc.Close() }()
	var files []string
	var binary []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, binary, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading the layer: %w", err)
		}
		files = append(files, fmt.Sprintf("%s %04o %d:%d", h.Name, h.Mode, h.Uid, h.Gid))
		if h.Name == "manager" {
			if binary, err = io.ReadAll(tr); err != nil {
				return nil, nil, err
			}
		}
	}
}

// staticFor: an executable for arch that the kernel runs as it is, with no
// dynamic loader (PT_INTERP) and nothing to link at start (PT_DYNAMIC).
func staticFor(binary []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return fmt.Errorf("the manager is no ELF file: %w", err)
	}
	if want, ok := elfMachine[arch]; !ok || f.Machine != want {
		return fmt.Errorf("ELF machine %s for an image of %s", f.Machine, arch)
	}
	if f.Type != elf.ET_EXEC {
		return fmt.Errorf("ELF type %s, want a fixed-address executable", f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return fmt.Errorf("program header %s: dynamically linked", p.Type)
		}
	}
	if f.Section(".dynamic") != nil || f.Section(".interp") != nil {
		return errors.New("dynamic sections present")
	}
	return nil
}

// stripped: -s drops the symbol table, -w the DWARF.
func stripped(binary []byte) error {
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		return err
	}
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			return fmt.Errorf("section %s present", s.Name)
		}
	}
	return nil
}

// builtAsDockerfile reads the build settings Go records in the binary.
func builtAsDockerfile(binary []byte, arch string) error {
	bi, err := buildinfo.Read(bytes.NewReader(binary))
	if err != nil {
		return fmt.Errorf("reading the build info: %w", err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	// Go leaves -ldflags out of the build info of a -trimpath build (it
	// may hold paths); "stripped" checks what -s -w did.
	want := map[string]string{"CGO_ENABLED": "0", "-trimpath": "true", "GOOS": "linux", "GOARCH": arch}
	for k, v := range want {
		if settings[k] != v {
			return fmt.Errorf("built with %s=%q, want %q (all settings: %v)", k, settings[k], v, settings)
		}
	}
	if !strings.HasSuffix(bi.Path, "/cmd/manager") {
		return fmt.Errorf("the binary is %s, not the manager", bi.Path)
	}
	// No CA bundle in the image: the manager carries its own roots.
	if !slices.ContainsFunc(bi.Deps, func(m *debug.Module) bool { return m.Path == "golang.org/x/crypto/x509roots/fallback" }) {
		return errors.New("the manager does not embed fallback trust roots, and the image has no CA bundle")
	}
	return nil
}

// sameInTarball: the docker-archive tarball holds the layout's config and
// layer under the deployed tag.
func sameInTarball(path, tag string, img v1.Image) error {
	m, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if len(m) != 1 || !slices.Equal(m[0].RepoTags, []string{tag}) {
		return fmt.Errorf("tarball manifest %+v, want one image tagged %s", m, tag)
	}
	fromTar, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		return err
	}
	for _, get := range []func(v1.Image) (v1.Hash, error){configDigest, layerDigest} {
		a, errA := get(img)
		b, errB := get(fromTar)
		if err := errors.Join(errA, errB); err != nil {
			return err
		}
		if a != b {
			return fmt.Errorf("the tarball has %s where the layout has %s", b, a)
		}
	}
	return nil
}

func configDigest(img v1.Image) (v1.Hash, error) { return img.ConfigName() }

func layerDigest(img v1.Image) (v1.Hash, error) {
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		return v1.Hash{}, fmt.Errorf("%d layers: %v", len(layers), err)
	}
	return layers[0].Digest()
}

// compressedSize is what a registry stores and a node pulls.
func compressedSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	total := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	return total, nil
}
