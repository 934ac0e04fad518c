//go:build linux

package image_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/plugin/image"
	"github.com/kcna-lab/kcna-lab/plugin/image/distribution"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestMain lets this test binary act as a sandbox's init, and points
// sandboxes at kcna-lab-init as `make build` ships it when it can.
func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(testbuild.RunWithInitProgram(m, sandbox.InitProgramEnv))
}

// dockerfile is the test image: a base layer, two COPY layers, a RUN that
// deletes a file, replaces a directory and adds one, and config steps.
const dockerfile = `FROM busybox
COPY greeting.txt /app/
COPY site /srv/site/
RUN rm /etc/hosts && rm -r /root && mkdir /root && echo made-by-run > /root/new
ENV GREETING="hello there"
WORKDIR /app
LABEL org.opencontainers.image.title=test
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat greeting.txt; pwd; echo $GREETING; test -e /etc/hosts || echo hosts-gone; ls /root; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt"]
`

// needSandbox skips without root (sandboxes, chown) or a busybox root.
func needSandbox(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: RUN steps run in sandboxes, and unpacked layers are chowned")
	}
	if rootfs.StaticBusybox() == "" {
		t.Skip("no static busybox on this host: FROM busybox takes the course's busybox root (apt install busybox-static)")
	}
}

// buildContext writes the Dockerfile and its files into a temp dir.
func buildContext(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{
		"Dockerfile":         dockerfile,
		"greeting.txt":       "hello from a layer\n",
		"site/index.html":    "<h1>hi</h1>\n",
		"site/css/style.css": "h1{}\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// leaveNoTrace fails the test if the mount table changed or sandbox
// state was left behind.
func leaveNoTrace(t *testing.T) {
	t.Helper()
	mounts := func() []string {
		b, err := os.ReadFile("/proc/self/mountinfo")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 4 {
				out = append(out, f[4])
			}
		}
		return out
	}
	before := mounts()
	t.Cleanup(func() {
		if after := mounts(); !slices.Equal(before, after) {
			t.Errorf("mount table changed:\nbefore %v\nafter  %v", before, after)
		}
		if left, _ := filepath.Glob(filepath.Join(sandbox.StateDir(), "sandboxes", "*")); len(left) > 0 {
			t.Errorf("sandbox state left: %v", left)
		}
	})
}

func build(t *testing.T, s *image.Store, ctxDir, tag string) *image.BuildResult {
	t.Helper()
	ref, err := image.ParseRef(tag)
	if err != nil {
		t.Fatal(err)
	}
	var rec event.Recorder
	res, err := image.Build(context.Background(), s, image.BuildOptions{Context: ctxDir, Tag: ref}, &rec)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, narration(&rec))
	}
	return res
}

func narration(r *event.Recorder) string {
	var b strings.Builder
	for _, e := range r.Events() {
		b.WriteString(e.Text + e.Action + "\n")
	}
	return b.String()
}

// TestBuildWritesOCILayout builds an image and checks what is on disk as
// the OCI image spec defines it, recomputing every digest from the bytes.
func TestBuildWritesOCILayout(t *testing.T) {
	needSandbox(t)
	leaveNoTrace(t)
	s, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res := build(t, s, buildContext(t), "test/hello:1")
	lay := s.Layout()

	if b, err := os.ReadFile(filepath.Join(lay, "oci-layout")); err != nil || !strings.Contains(string(b), `"imageLayoutVersion":"1.0.0"`) {
		t.Errorf("oci-layout = %q, %v", b, err)
	}
	// Every blob is stored under the sha256 of its own bytes.
	blobs, _ := filepath.Glob(filepath.Join(lay, "blobs", "sha256", "*"))
	for _, p := range blobs {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != filepath.Base(p) {
			t.Errorf("blob %s hashes to %x", filepath.Base(p), sum)
		}
	}
	// index.json names the manifest by tag.
	var idx struct {
		Manifests []struct {
			MediaType   string            `json:"mediaType"`
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	readJSON(t, filepath.Join(lay, "index.json"), &idx)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != res.Manifest.Digest || idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "test/hello:1" {
		t.Fatalf("index.json manifests %+v; want one, %s, named test/hello:1", idx.Manifests, res.Manifest.Digest)
	}
	var man image.Manifest
	readJSON(t, blobPath(lay, res.Manifest.Digest), &man)
	var cfg image.Config
	readJSON(t, blobPath(lay, man.Config.Digest), &cfg)
	if man.MediaType != image.MediaManifest || man.Config.MediaType != image.MediaConfig || len(man.Layers) != 4 {
		t.Fatalf("manifest %+v; want an OCI manifest with a config and 4 layers", man)
	}
	// Each layer is gzip; the config's diff ID is the sha256 of the tar.
	var tars [][]tarEntry
	for i, l := range man.Layers {
		raw, err := os.ReadFile(blobPath(lay, l.Digest))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(raw)) != l.Size || l.MediaType != image.MediaLayer {
			t.Errorf("layer %d: %d bytes, %s; manifest says %d, %s", i, len(raw), image.MediaLayer, l.Size, l.MediaType)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("layer %d is not gzip: %v", i, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(plain); "sha256:"+hex.EncodeToString(sum[:]) != cfg.RootFS.DiffIDs[i] {
			t.Errorf("layer %d's tar hashes to %x; the config's diff ID is %s", i, sum, cfg.RootFS.DiffIDs[i])
		}
		tars = append(tars, readTar(t, plain))
	}
	if e := find(tars[0], "bin/busybox"); e == nil || e.uid != 0 {
		t.Errorf("base layer: bin/busybox %+v; want it, owned by root", e)
	}
	if e := find(tars[1], "app/greeting.txt"); e == nil || e.body != "hello from a layer\n" {
		t.Errorf("COPY layer: app/greeting.txt = %+v", e)
	}
	if find(tars[2], "srv/site/css/style.css") == nil || find(tars[2], "srv/site/index.html") == nil {
		t.Errorf("COPY dir layer: %v", names(tars[2]))
	}
	// The RUN layer: a whiteout for the deleted file, the opaque marker
	// for the replaced directory, the new file owned by root (host uid
	// 100000 in the sandbox's user namespace, mapped back), and nothing
	// the sandbox's runtime made (no /proc, /dev, /sys).
	run := tars[3]
	want := []string{"etc/", "etc/.wh.hosts", "root/", "root/.wh..wh..opq", "root/new"}
	if got := names(run); !slices.Equal(got, want) {
		t.Errorf("RUN layer entries %v; want %v", got, want)
	}
	if e := find(run, "root/new"); e == nil || e.body != "made-by-run\n" || e.uid != 0 || e.gid != 0 {
		t.Errorf("RUN layer root/new = %+v; want made-by-run, 0:0", e)
	}
	c := cfg.Config
	if c.WorkingDir != "/app" || !slices.Contains(c.Env, "GREETING=hello there") || !slices.Equal(c.Entrypoint, []string{"/bin/sh", "-c"}) || len(c.Cmd) != 1 || c.Labels["org.opencontainers.image.title"] != "test" {
		t.Errorf("config %+v", c)
	}
	// go-containerregistry reads the same layout and checks it whole:
	// manifest, config, every layer's digest, diff ID and size.
	p, err := layout.FromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := v1.NewHash(res.Manifest.Digest)
	img, err := p.Image(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("go-containerregistry's validate.Image: %v", err)
	}
}

// TestRebuildUsesCache: an unchanged rebuild runs nothing and makes the
// same image; changing one COPY source changes that layer and the ones
// above it, and no layer below.
func TestRebuildUsesCache(t *testing.T) {
	needSandbox(t)
	leaveNoTrace(t)
	s, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctxDir := buildContext(t)
	start := time.Now()
	first := build(t, s, ctxDir, "hello:1")
	firstTook := time.Since(start)
	start = time.Now()
	again := build(t, s, ctxDir, "hello:1")
	t.Logf("first build %v, cached rebuild %v", firstTook, time.Since(start))
	for i, st := range again.Steps {
		if !st.Cached {
			t.Errorf("rebuild step %d (%s) was not cached", i, st.Instruction)
		}
	}
	if again.Manifest.Digest != first.Manifest.Digest {
		t.Errorf("an unchanged rebuild made manifest %s, not %s", again.Manifest.Digest, first.Manifest.Digest)
	}

	if err := os.WriteFile(filepath.Join(ctxDir, "site", "index.html"), []byte("<h1>changed</h1>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := build(t, s, ctxDir, "hello:2")
	// Below the change: cached, the same. The COPY of site/: a new
	// layer. The RUN above it runs again, since its parent changed; its
	// layer is new unless it wrote the same bytes (times in a tar have
	// one-second precision), so only the re-run is asserted.
	for i, st := range changed.Steps {
		same := st.Layer.Digest == first.Steps[i].Layer.Digest
		switch {
		case i < 2 && (!same || !st.Cached):
			t.Errorf("after changing site/index.html, layer %d (%s) below it: same digest %v, cached %v; want both", i, st.Instruction, same, st.Cached)
		case i == 2 && (same || st.Cached):
			t.Errorf("after changing site/index.html, its COPY layer: same digest %v, cached %v; want neither", same, st.Cached)
		case i == 3 && st.Cached:
			t.Errorf("the RUN above the changed COPY came from the cache; its parent changed, so it must run again")
		}
	}
}

// TestRegistryRoundTrip pushes to a registry on loopback, reads the
// manifest back with plain HTTP, pulls it into another store, and runs
// it from there; a non-loopback listen address is refused.
func TestRegistryRoundTrip(t *testing.T) {
	needSandbox(t)
	leaveNoTrace(t)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	served := make(chan error, 1)
	go func() {
		served <- distribution.Serve(ctx, "127.0.0.1:0", false, io.Discard, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-served:
		t.Fatalf("registry: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("registry: %v", err)
		}
	})

	s, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res := build(t, s, buildContext(t), "hello:1")
	dst, _ := image.ParseRef(addr + "/lab/hello:1")
	if _, err := distribution.Push(ctx, s, res.Tag, dst, nil); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v2/lab/hello/manifests/1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(body)
	if got := "sha256:" + hex.EncodeToString(sum[:]); resp.StatusCode != 200 || got != res.Manifest.Digest || resp.Header.Get("Docker-Content-Digest") != res.Manifest.Digest {
		t.Fatalf("GET manifest: %s, body hashes to %s, Docker-Content-Digest %s; build made %s", resp.Status, got, resp.Header.Get("Docker-Content-Digest"), res.Manifest.Digest)
	}

	other, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	desc, err := distribution.Pull(ctx, other, dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != res.Manifest.Digest {
		t.Errorf("pulled manifest %s; pushed %s", desc.Digest, res.Manifest.Digest)
	}
	out := runImage(t, other, dst.String())
	if !strings.HasPrefix(out, "hello from a layer\n/app\n") {
		t.Errorf("the pulled image ran and printed %q", out)
	}

	if err := distribution.Serve(ctx, "0.0.0.0:0", false, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "not loopback") {
		t.Errorf("Serve on 0.0.0.0: %v; want a refusal", err)
	}
}

// TestRunImage runs the image's entrypoint and command in a sandbox and
// checks what the kernel shows from inside: the image's files, workdir
// and env, the whiteout's effect, and namespaces not the host's.
func TestRunImage(t *testing.T) {
	needSandbox(t)
	leaveNoTrace(t)
	s, err := image.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	build(t, s, buildContext(t), "hello:1")
	out := runImage(t, s, "hello:1")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 7 {
		t.Fatalf("output %q; want 7 lines", out)
	}
	if want := []string{"hello from a layer", "/app", "hello there", "hosts-gone", "new"}; !slices.Equal(lines[:5], want) {
		t.Errorf("output %q; want it to start %q", lines[:5], want)
	}
	for i, ns := range []string{"pid", "mnt"} {
		host, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		if lines[5+i] == host || !strings.HasPrefix(lines[5+i], ns+":[") {
			t.Errorf("%s namespace inside %q; host's %q: want another", ns, lines[5+i], host)
		}
	}
}

// runImage runs ref from s in a sandbox and returns its output.
func runImage(t *testing.T, s *image.Store, ref string) string {
	t.Helper()
	r, err := image.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	var spec sandbox.Spec
	if err := s.ForRun(r, &spec, nil, nil); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	spec.Stdout, spec.Stderr = &out, &out
	res, err := sandbox.Run(context.Background(), spec, nil)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("run %s: %v, exit %d\n%s", ref, err, res.ExitCode, out.String())
	}
	return out.String()
}

type tarEntry struct {
	name     string
	uid, gid int
	body     string
}

func readTar(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	var out []tarEntry
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		out = append(out, tarEntry{name: h.Name, uid: h.Uid, gid: h.Gid, body: string(body)})
	}
}

func find(es []tarEntry, name string) *tarEntry {
	for i := range es {
		if es[i].name == name {
			return &es[i]
		}
	}
	return nil
}

func names(es []tarEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.name)
	}
	return out
}

func blobPath(lay, digest string) string {
	return filepath.Join(lay, "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

func readJSON(t *testing.T, p string, v any) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
}
