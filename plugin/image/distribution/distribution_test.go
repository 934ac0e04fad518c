package distribution

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kcna-lab/kcna-lab/plugin/image"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestRemoteRefScheme: the course's own registry on loopback is spoken to
// over plain HTTP, a public one over HTTPS (a flag that made every
// registry plain HTTP went unnoticed by the loopback round trip).
func TestRemoteRefScheme(t *testing.T) {
	for ref, want := range map[string]string{
		"127.0.0.1:5000/lab/app:1":       "http",
		"localhost:5000/lab/app:1":       "http",
		"registry.example.com/lab/app:1": "https",
		"docker.io/library/busybox:1.36": "https",
	} {
		r, err := image.ParseRef(ref)
		if err != nil {
			t.Fatalf("ParseRef(%q): %v", ref, err)
		}
		n, err := remoteRef(r)
		if err != nil {
			t.Fatalf("remoteRef(%q): %v", ref, err)
		}
		if got := n.Context().Scheme(); got != want {
			t.Errorf("%s is spoken to over %s, want %s", ref, got, want)
		}
	}
}

// TestPullTakesThisMachinesPlatform: from a multi-platform index, Pull
// stores the manifest for this machine's architecture, not the first or
// amd64's.
func TestPullTakesThisMachinesPlatform(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	var idx v1.ImageIndex = empty.Index
	want := map[string]v1.Hash{}
	for _, arch := range []string{"amd64", "arm64", "riscv64"} {
		// A layer of random bytes each, so that the manifests differ.
		layer, err := random.Layer(64, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(mustConfig(t, arch), layer)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		want[arch] = d
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := name.ParseReference(host+"/lab/multi:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	r, err := image.ParseRef(host + "/lab/multi:1")
	if err != nil {
		t.Fatal(err)
	}
	// This machine, and one of another architecture (as a learner's arm64
	// or riscv64 machine would pull), where amd64's would not run.
	other := "riscv64"
	if runtime.GOARCH == other {
		other = "arm64"
	}
	defer func(p v1.Platform) { platform = p }(platform)
	for _, arch := range []string{runtime.GOARCH, other} {
		if _, ok := want[arch]; !ok {
			continue
		}
		platform.Architecture = arch
		s, err := image.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		desc, err := Pull(context.Background(), s, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		if desc.Digest != want[arch].String() {
			t.Errorf("on %s, pulled %s; want %s's manifest %s (amd64's is %s)", arch, desc.Digest, arch, want[arch], want["amd64"])
		}
		if _, cfg, err := s.Load(desc); err != nil || cfg.Architecture != arch {
			t.Errorf("on %s, the pulled image's config: %+v, %v", arch, cfg, err)
		}
		if arch != other {
			continue
		}
		// On this machine, that image is refused before it runs.
		var spec sandbox.Spec
		err = s.ForRun(r, &spec, []string{"true"}, nil)
		if err == nil || !strings.Contains(err.Error(), "is built for linux/"+other+" and this machine is linux/"+runtime.GOARCH) {
			t.Errorf("running a %s image on %s: %v; want a refusal naming both", other, runtime.GOARCH, err)
		}
	}
}

func mustConfig(t *testing.T, arch string) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: arch, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}
