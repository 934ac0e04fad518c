package demos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/image"
	"github.com/kcna-lab/kcna-lab/plugin/image/distribution"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// imageDemos is lesson 7's build, push and run of a real OCI image.
func imageDemos() []Demo {
	return []Demo{{
		ID:      "image-build-push-run",
		Title:   "Build an OCI image, push it to a registry, pull it and run two containers of it",
		Run:     runImageDemo,
		Blocked: func(r sandbox.Report) string { return needsOverlay(r, sandbox.NSMount) },
		// The lesson's `s` opens the same sandbox as the overlay demo's,
		// where its other challenges are done.
		ShellFlags: []string{"--name", "lab-layers", "--keep", "--overlay"},
	}}
}

// imageChecks is lesson 7's challenge: two builds that share layers.
func imageChecks() []Check {
	return []Check{{ID: "share-base-layers", Verify: checkShareBaseLayers}}
}

// demoDockerfile is the demo's image: a base layer, two COPY layers, one
// RUN layer with a whiteout, and a CMD.
const demoDockerfile = `FROM busybox
COPY motd.txt /etc/motd
COPY app/ /app/
RUN rm /etc/hosts && echo "RUN saw $(cat /app/version.txt)" > /app/built.txt
CMD ["sh", "-c", "cat /etc/motd /app/version.txt /app/built.txt; hostname > /tmp/me; echo \"/tmp/me: $(cat /tmp/me)\""]
`

func runImageDemo(ctx context.Context, sink event.Sink) error {
	work, err := os.MkdirTemp("", "kcna-image-demo-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()
	if err := os.Chmod(work, 0o755); err != nil {
		return err
	}
	ctxDir := filepath.Join(work, "hello")
	if err := writeTree(ctxDir, map[string]string{
		"Dockerfile":      demoDockerfile,
		"motd.txt":        "Welcome to a kcna-lab image.\n",
		"app/version.txt": "version 1\n",
	}); err != nil {
		return err
	}
	// A store of its own, removed at the end: the learner's images stay
	// as they were. (The busybox root filesystem is the shared one.)
	store, err := image.Open(filepath.Join(work, "store"))
	if err != nil {
		return err
	}

	event.Narrate(sink, "An image is to a container what a class is to an instance. The image is the class: a read-only template (layers of files plus a config saying what to run), built once and shared. A container is an instance: one running copy with its own processes, its own namespaces and its own writable layer. Many containers can run from one image, and nothing they do changes it.")
	event.Narrate(sink, "The build context is "+ctxDir+", with this Dockerfile:\n\n"+indent(demoDockerfile))
	sink.Emit(event.Event{Time: time.Now(), Kind: event.KindCompare, Compare: &event.Compare{
		Title: "The same steps with Docker and with kcna-lab",
		Left:  event.Column{Title: "docker", Lines: []string{"docker build -t lab/hello:1 hello/", "docker tag lab/hello:1 REGISTRY/lab/hello:1", "docker push REGISTRY/lab/hello:1", "docker run REGISTRY/lab/hello:1"}},
		Right: event.Column{Title: "kcna-lab", Lines: []string{"kcna-lab build -t lab/hello:1 hello/", "", "kcna-lab push lab/hello:1 REGISTRY/lab/hello:1", "kcna-lab run --image REGISTRY/lab/hello:1"}},
	}})

	v1, err := image.Build(ctx, store, image.BuildOptions{Context: ctxDir, Tag: image.Ref{Repo: "lab/hello", Tag: "1"}}, sink)
	if err != nil {
		return err
	}
	raw, err := store.ReadBlob(v1.Manifest.Digest)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	_ = json.Indent(&pretty, raw, "", "  ")
	event.Narrate(sink, fmt.Sprintf("The manifest, stored as %s (the file's name is the sha256 of its bytes):\n\n%s", store.BlobPath(v1.Manifest.Digest), indent(pretty.String())))

	if err := pushAndRun(ctx, store, work, v1, sink); err != nil {
		return err
	}

	event.Narrate(sink, "Now change one file, app/version.txt, and build again as lab/hello:2. Predict first: which layers will have new digests?")
	if err := os.WriteFile(filepath.Join(ctxDir, "app", "version.txt"), []byte("version 2\n"), 0o644); err != nil {
		return err
	}
	v2, err := image.Build(ctx, store, image.BuildOptions{Context: ctxDir, Tag: image.Ref{Repo: "lab/hello", Tag: "2"}}, sink)
	if err != nil {
		return err
	}
	var left, right []string
	for i := range v1.Steps {
		a, b := v1.Steps[i], v2.Steps[i]
		mark := "new"
		switch {
		case a.Layer.Digest == b.Layer.Digest && b.Cached:
			mark = "same, shared"
		case a.Layer.Digest == b.Layer.Digest:
			mark = "same bytes, step re-run"
		}
		left = append(left, fmt.Sprintf("%s %s", image.ShortDigest(a.Layer.Digest), a.Instruction))
		right = append(right, fmt.Sprintf("%s %s", image.ShortDigest(b.Layer.Digest), mark))
	}
	sink.Emit(event.Event{Time: time.Now(), Kind: event.KindCompare, Compare: &event.Compare{
		Title: "Layer digests of lab/hello:1 and lab/hello:2, bottom layer first",
		Left:  event.Column{Title: "lab/hello:1", Lines: left},
		Right: event.Column{Title: "lab/hello:2", Lines: right},
	}})
	event.Narrate(sink, "The layers below the changed COPY came from the cache with the same digests, so a registry or a node that has lab/hello:1 already has them. The changed COPY made a new layer, and the RUN above it ran again because its parent changed (here it wrote other bytes, so its layer is new too). That is why a Dockerfile puts what changes least first.")
	return nil
}

// pushAndRun starts a registry on loopback, pushes the image, reads its
// manifest back over HTTP, pulls it into a second store, and runs two
// containers of it.
func pushAndRun(ctx context.Context, store *image.Store, work string, res *image.BuildResult, sink event.Sink) error {
	rctx, cancel := context.WithCancel(ctx)
	var log syncBuffer
	addrc, served := make(chan string, 1), make(chan error, 1)
	go func() {
		served <- distribution.Serve(rctx, "127.0.0.1:0", false, &log, func(a string) { addrc <- a })
	}()
	defer func() { cancel(); <-served }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-served:
		return err
	}
	event.Narrate(sink, fmt.Sprintf("A registry, go-containerregistry's implementation of the OCI distribution API, now listens on %s (kcna-lab registry runs the same). Push the image to it:", addr))
	dst := image.Ref{Registry: addr, Repo: res.Tag.Repo, Tag: res.Tag.Tag}
	if _, err := distribution.Push(ctx, store, res.Tag, dst, sink); err != nil {
		return err
	}
	event.Narrate(sink, "What the registry saw, from its own log: HEAD asks whether it has a blob (404: not yet), POST/PATCH/PUT upload one, and the manifest is PUT last, under the tag:\n\n"+indent(log.take()))

	url := fmt.Sprintf("http://%s/v2/%s/manifests/%s", addr, dst.Repo, dst.Tag)
	body, header, err := get(ctx, url)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	sink.Emit(event.Event{Time: time.Now(), Kind: event.KindCompare, Compare: &event.Compare{
		Title: "One manifest digest, computed twice (curl " + url + ")",
		Left:  event.Column{Title: "what kcna-lab build printed", Lines: []string{image.ShortDigest(res.Manifest.Digest)}},
		Right: event.Column{Title: "sha256 of the bytes the registry served", Lines: []string{image.ShortDigest("sha256:"+hex.EncodeToString(sum[:])) + "  (Docker-Content-Digest: " + image.ShortDigest(header) + ")"}},
	}})

	_ = log.take() // the GET above
	stable := image.Ref{Registry: addr, Repo: res.Tag.Repo, Tag: "stable"}
	if _, err := distribution.Push(ctx, store, res.Tag, stable, event.Discard); err != nil {
		return err
	}
	event.Narrate(sink, "Push the same image again under a second tag, lab/hello:stable. The tag is new (its HEAD is a 404), but every HEAD for a blob, the layers and the config, now finds it, so nothing is uploaded again; only the manifest is PUT under the new tag. Layers are named by their content, and a digest the registry has is content it has:\n\n"+indent(log.take()))

	other, err := image.Open(filepath.Join(work, "other-node"))
	if err != nil {
		return err
	}
	event.Narrate(sink, "Pull it into a second, empty store, as another node would (kcna-lab pull, docker pull):")
	if _, err := distribution.Pull(ctx, other, dst, sink); err != nil {
		return err
	}
	var outs [2][]string
	for i := range outs {
		var spec sandbox.Spec
		spec.Name = demoName(fmt.Sprintf("img%d", i+1))
		if err := other.ForRun(dst, &spec, nil, sink); err != nil {
			return err
		}
		var buf bytes.Buffer
		spec.Stdout, spec.Stderr = &buf, &buf
		r, err := sandbox.Run(ctx, spec, event.Discard)
		if err != nil {
			return err
		}
		if r.ExitCode != 0 {
			return fmt.Errorf("the image's command exited with %d: %s", r.ExitCode, strings.TrimSpace(buf.String()))
		}
		outs[i] = lines(buf.String())
	}
	sink.Emit(event.Event{Time: time.Now(), Kind: event.KindCompare, Compare: &event.Compare{
		Title: "Two containers (instances) of one image (the class), each with its own hostname and writable layer",
		Left:  event.Column{Title: "container 1", Lines: outs[0]},
		Right: event.Column{Title: "container 2", Lines: outs[1]},
	}})
	event.Narrate(sink, "Both read the same files from the same read-only layers. Each wrote its own hostname to /tmp/me, in its own writable layer, and each writable layer went when its container ended: the image is unchanged, ready for the next instance.")
	return nil
}

// checkShareBaseLayers passes when the learner's image store holds
// lab/app:1 and lab/app:2 built so that their lower layers are the same
// blobs and their top layers differ.
func checkShareBaseLayers(context.Context) (Verdict, error) {
	dir, err := image.DefaultDir()
	if err != nil {
		return Verdict{}, err
	}
	if _, err := os.Stat(filepath.Join(dir, "oci", "index.json")); err != nil {
		return fail("no image store at %s yet: build lab/app:1 with `kcna-lab build -t lab/app:1 DIR`", dir)
	}
	store, err := image.Open(dir)
	if err != nil {
		return Verdict{}, err
	}
	var layers [2][]image.Descriptor
	for i, tag := range []string{"1", "2"} {
		ref := image.Ref{Repo: "lab/app", Tag: tag}
		desc, err := store.Resolve(ref)
		if err != nil {
			return fail("%v", err)
		}
		man, _, err := store.Load(desc)
		if err != nil {
			return fail("%s: %v", ref, err)
		}
		layers[i] = man.Layers
	}
	a, b := layers[0], layers[1]
	if len(a) < 3 || len(b) < 3 {
		return fail("lab/app:1 has %d layer(s) and lab/app:2 %d; each needs at least 3 (FROM busybox and two COPY or RUN steps)", len(a), len(b))
	}
	shared := 0
	for shared < min(len(a), len(b)) && a[shared].Digest == b[shared].Digest {
		shared++
	}
	switch {
	case shared == len(a) && len(a) == len(b):
		return fail("lab/app:1 and lab/app:2 have the same %d layers: change a file that a COPY step copies, then build lab/app:2 again", len(a))
	case shared < 2:
		return fail("lab/app:1 and lab/app:2 share %d bottom layer(s); they must share at least the base and the next one, so the changed file must be copied after an unchanged step", shared)
	}
	// The shared layers are one blob, stored once; check that it is
	// there and is what its name says.
	for _, l := range a[:shared] {
		if _, err := store.ReadBlob(l.Digest); err != nil {
			return fail("shared layer %s: %v", l.Digest, err)
		}
	}
	return pass("lab/app:1 and lab/app:2 share their bottom %d layer(s) (%s ... %s), stored once, and differ above", shared, image.ShortDigest(a[0].Digest), image.ShortDigest(a[shared-1].Digest))
}

// get fetches url with plain net/http, as curl would.
func get(ctx context.Context, url string) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, resp.Header.Get("Docker-Content-Digest"), err
}

// writeTree writes files (relative path: content) under dir.
func writeTree(dir string, files map[string]string) error {
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// syncBuffer collects the registry's log, written from its goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// take returns what was logged since the last take, without timestamps.
func (s *syncBuffer) take() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range lines(s.b.String()) {
		// "registry: 2026/01/02 15:04:05 GET /v2/" -> "GET /v2/"
		if f := strings.SplitN(l, " ", 4); len(f) == 4 {
			l = f[3]
		}
		out = append(out, l)
	}
	s.b.Reset()
	return strings.Join(out, "\n")
}
