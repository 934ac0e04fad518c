package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/atomicfile"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// BuildOptions says what to build.
type BuildOptions struct {
	// Context is the build context: COPY's sources are read from it.
	Context string
	// Dockerfile is its path; "" means Context/Dockerfile.
	Dockerfile string
	// Tag names the image in the store.
	Tag Ref
	// NoCache builds every layer again.
	NoCache bool
	// Isolate is the RUN sandboxes' namespaces; nil means the default.
	Isolate []sandbox.Namespace
	// Trace passes on every kernel-level step of the RUN sandboxes; by
	// default only their output and warnings are shown.
	Trace bool
}

// BuildResult is what a build made.
type BuildResult struct {
	Tag      Ref
	Manifest Descriptor
	Config   Descriptor
	// Steps are the layer-making steps, bottom layer first.
	Steps []StepLayer
}

// StepLayer is one layer and the instruction that made it.
type StepLayer struct {
	Instruction string
	Layer       Layer
	// Cached: the layer came from the build cache, not from running the
	// step.
	Cached bool
}

// defaultPath is the PATH Docker gives a container whose image sets none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Build builds the Dockerfile into an image in the store, narrating each
// step on sink.
func Build(ctx context.Context, s *Store, opt BuildOptions, sink event.Sink) (*BuildResult, error) {
	if sink == nil {
		sink = event.Discard
	}
	ctxDir, err := filepath.Abs(opt.Context)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(ctxDir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("build context %s: not a directory; give the directory that holds the Dockerfile", opt.Context)
	}
	dfPath := opt.Dockerfile
	if dfPath == "" {
		dfPath = filepath.Join(ctxDir, "Dockerfile")
	}
	f, err := os.Open(dfPath)
	if err != nil {
		return nil, fmt.Errorf("read the Dockerfile: %w (write one in %s, starting FROM busybox)", err, ctxDir)
	}
	df, err := ParseDockerfile(displayPath(dfPath), f)
	f.Close()
	if err != nil {
		return nil, err
	}
	b := &builder{s: s, opt: opt, ctxDir: ctxDir, df: df, sink: sink, m: mapFor(opt.Isolate),
		cfg: Config{Architecture: runtime.GOARCH, OS: "linux", RootFS: RootFS{Type: "layers", DiffIDs: []string{}}}}
	b.key = sum("kcna-lab build cache v1")
	for i, in := range df.Instructions {
		event.Narrate(sink, fmt.Sprintf("Step %d/%d : %s", i+1, len(df.Instructions), in))
		if err := b.step(ctx, in); err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", df.Path, in.Line, in.Cmd, err)
		}
	}
	return b.finish()
}

// builder holds a build's state between steps.
type builder struct {
	s      *Store
	opt    BuildOptions
	ctxDir string
	df     *Dockerfile
	sink   event.Sink
	m      idMap
	cfg    Config
	layers []Descriptor
	steps  []StepLayer
	// key is the cache key of the image so far: every instruction and
	// every input before this step. A step's key is sha256(key, step,
	// inputs), so a change anywhere invalidates every step after it.
	key string
}

// step runs one instruction.
func (b *builder) step(ctx context.Context, in Instruction) error {
	c := &b.cfg.Config
	switch in.Cmd {
	case "FROM":
		if in.Args[0] == "scratch" {
			event.Narrate(b.sink, "FROM scratch: an empty image, no layers; every file must come from the steps below.")
			b.history(in, true)
			return nil
		}
		c.Env = setEnv(c.Env, "PATH", strings.TrimPrefix(defaultPath, "PATH="))
		return b.fromBusybox(in)
	case "COPY":
		return b.copy(in)
	case "RUN":
		return b.run(ctx, in)
	case "ENV":
		kvs, _ := keyValues(in)
		for _, kv := range kvs {
			c.Env = setEnv(c.Env, kv[0], kv[1])
		}
	case "WORKDIR":
		c.WorkingDir = resolveDir(c.WorkingDir, in.Args[0])
	case "CMD":
		c.Cmd = in.command()
	case "ENTRYPOINT":
		c.Entrypoint = in.command()
		// As Docker does: a new ENTRYPOINT drops the CMD set before it.
		c.Cmd = nil
	case "LABEL":
		kvs, _ := keyValues(in)
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, kv := range kvs {
			c.Labels[kv[0]] = kv[1]
		}
	}
	event.Narrate(b.sink, "No layer: this step only changes the image's config (the JSON that says how to start a container of it).")
	b.history(in, true)
	b.key = sum(b.key, in.String())
	return nil
}

// fromBusybox makes the course's busybox root filesystem the image's
// first layer, as pulling busybox from a registry would.
func (b *builder) fromBusybox(in Instruction) error {
	cache, err := sandbox.CacheDir()
	if err != nil {
		return err
	}
	dir, err := rootfs.Default(cache, -1, -1, b.sink)
	if err != nil {
		return err
	}
	if rootfs.StaticBusybox() == "" {
		event.Narrate(b.sink, "This host has no static busybox, so the base layer holds host programs and their libraries instead.")
	}
	fp, err := treeDigest(dir, false)
	if err != nil {
		return err
	}
	event.Narrate(b.sink, fmt.Sprintf("Nothing can be pulled here, so the base layer is the course's own root filesystem, %s, packed as a tar: what `docker pull busybox` would download.", dir))
	return b.layer(in, sum(b.key, in.String(), fp), func(w *layerWriter) error {
		return w.addTree(dir, "", false)
	}, func(int, int) (int, int) { return 0, 0 })
}

// copy makes a layer of files from the build context.
func (b *builder) copy(in Instruction) error {
	srcs, dest := in.Args[:len(in.Args)-1], in.Args[len(in.Args)-1]
	destDir := strings.HasSuffix(dest, "/") || len(srcs) > 1
	dest = resolveDir(b.cfg.Config.WorkingDir, dest)
	root, err := os.OpenRoot(b.ctxDir)
	if err != nil {
		return err
	}
	defer root.Close()
	type source struct{ host, name string }
	var sources []source
	inputs := []string{b.key, in.String()}
	for _, src := range srcs {
		rel := path.Clean(src)
		if path.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("source %q is outside the build context %s; sources are paths inside it", src, b.ctxDir)
		}
		fi, err := root.Stat(rel)
		if err != nil {
			return fmt.Errorf("source %q: %w", src, err)
		}
		host := filepath.Join(b.ctxDir, filepath.FromSlash(rel))
		name := strings.TrimPrefix(dest, "/")
		switch {
		case fi.IsDir():
			// A directory's contents go into dest, as Docker copies them.
		case destDir:
			name = path.Join(name, path.Base(rel))
		}
		d, err := treeDigest(host, true)
		if err != nil {
			return err
		}
		inputs = append(inputs, rel, d)
		sources = append(sources, source{host, name})
	}
	event.Narrate(b.sink, fmt.Sprintf("The cache key is the image so far, this instruction and the sha256 of the sources' content: %s.", ShortDigest(sum(inputs[2:]...))))
	return b.layer(in, sum(inputs...), func(w *layerWriter) error {
		for _, src := range sources {
			if err := w.addParents(src.name); err != nil {
				return err
			}
			fi, err := os.Stat(src.host)
			if err != nil {
				return err
			}
			if fi.IsDir() {
				if src.name != "" {
					if err := w.addFile(src.host, src.name, false); err != nil {
						return err
					}
				}
				if err := w.addTree(src.host, src.name, false); err != nil {
					return err
				}
				continue
			}
			if err := w.addFile(src.host, src.name, false); err != nil {
				return err
			}
		}
		return nil
	}, func(int, int) (int, int) { return 0, 0 })
}

// run runs the command in a sandbox over the layers so far and makes its
// writable layer the next layer.
func (b *builder) run(ctx context.Context, in Instruction) error {
	if len(b.layers) == 0 {
		return errors.New("no layer yet, so no root filesystem to run in: FROM scratch has no /bin/sh; use FROM busybox, or COPY a program in first")
	}
	key := sum(b.key, in.String(), strings.Join(b.cfg.Config.Env, "\x00"), b.cfg.Config.WorkingDir)
	if l, ok := b.cached(key); ok {
		b.hit(in, key, l)
		return nil
	}
	var lowers []string
	for _, l := range b.layers {
		dir, err := b.s.unpack(l, b.m, b.sink)
		if err != nil {
			return err
		}
		lowers = append(lowers, dir)
	}
	env := b.cfg.Config.Env
	if !hasEnv(env, "PATH") {
		env = append([]string{defaultPath}, env...)
	}
	var w *layerWriter
	spec := sandbox.Spec{
		Args: in.command(), Env: env, Dir: b.cfg.Config.WorkingDir,
		Rootfs: lowers[0], Layers: lowers[1:], Overlay: true, Isolate: b.opt.Isolate,
		Diff: func(upper string) (err error) {
			event.Narrate(b.sink, fmt.Sprintf("The command has ended. What it wrote is in the sandbox's writable layer, %s; it becomes the next image layer.", upper))
			if w, err = b.s.newLayer(b.m.toImage); err != nil {
				return err
			}
			return event.Step(b.sink, fmt.Sprintf("tar(%s) | gzip | sha256", upper),
				fmt.Sprintf("tar -C %s -cf - . | gzip -n | sha256sum", upper),
				func() error { return w.addTree(upper, "", true) })
		},
	}
	event.Narrate(b.sink, fmt.Sprintf("Running %q in a sandbox (new namespaces, Docker's seccomp profile) whose root filesystem is the %d layer(s) so far, read-only overlay lowers, under an empty writable layer. --trace shows each kernel step.", strings.Join(spec.Args, " "), len(lowers)))
	res, err := sandbox.Run(ctx, spec, b.runSink())
	if err != nil {
		if w != nil {
			w.discard()
		}
		return err
	}
	if res.ExitCode != 0 {
		if w != nil {
			w.discard()
		}
		return fmt.Errorf("%q exited with status %d; the build stops here, as docker build does", strings.Join(spec.Args, " "), res.ExitCode)
	}
	if w == nil {
		return errors.New("the sandbox ended without a writable layer to read")
	}
	l, err := w.commit()
	if err != nil {
		return err
	}
	return b.made(in, key, l)
}

// runSink is what a RUN sandbox reports to: with Trace everything, else
// the command's output and what the learner must read.
func (b *builder) runSink() event.Sink {
	if b.opt.Trace {
		return b.sink
	}
	return event.SinkFunc(func(e event.Event) {
		switch e.Kind {
		case event.KindOutput, event.KindWarning, event.KindOOM:
			b.sink.Emit(e)
		case event.KindStep:
			if !e.OK() {
				b.sink.Emit(e)
			}
		}
	})
}

// layer makes a layer with fill, unless the cache has one for key.
func (b *builder) layer(in Instruction, key string, fill func(*layerWriter) error, owner func(int, int) (int, int)) error {
	if l, ok := b.cached(key); ok {
		b.hit(in, key, l)
		return nil
	}
	w, err := b.s.newLayer(owner)
	if err != nil {
		return err
	}
	err = event.Step(b.sink, fmt.Sprintf("tar(%s) | gzip | sha256", in), "tar -cf - FILES | gzip -n | sha256sum", func() error { return fill(w) })
	if err != nil {
		w.discard()
		return err
	}
	l, err := w.commit()
	if err != nil {
		return err
	}
	return b.made(in, key, l)
}

// cacheEntry is a build cache file: the layer a cache key made.
type cacheEntry struct {
	Instruction string `json:"instruction"`
	Layer       Layer  `json:"layer"`
}

func (b *builder) cachePath(key string) string {
	return filepath.Join(b.s.Dir, "cache", strings.TrimPrefix(key, "sha256:")+".json")
}

// cached looks key up; an entry whose blob is gone is a miss.
func (b *builder) cached(key string) (Layer, bool) {
	if b.opt.NoCache {
		return Layer{}, false
	}
	raw, err := os.ReadFile(b.cachePath(key))
	if err != nil {
		return Layer{}, false
	}
	var e cacheEntry
	if json.Unmarshal(raw, &e) != nil {
		return Layer{}, false
	}
	if _, err := os.Stat(b.s.BlobPath(e.Layer.Digest)); err != nil {
		return Layer{}, false
	}
	return e.Layer, true
}

// hit adds a layer from the cache.
func (b *builder) hit(in Instruction, key string, l Layer) {
	event.Narrate(b.sink, fmt.Sprintf("CACHED: cache key %s was built before, so its layer %s is reused without running the step.", ShortDigest(key), ShortDigest(l.Digest)))
	b.add(in, key, l, true)
}

// made adds a new layer, narrates it and records it in the cache.
func (b *builder) made(in Instruction, key string, l Layer) error {
	event.Narrate(b.sink, fmt.Sprintf("New layer %s: %d tar entries, %d bytes gzipped; the tar inside hashes to %s (its diff ID).", l.Digest, l.Entries, l.Size, l.DiffID))
	for _, p := range l.Whiteouts {
		event.Narrate(b.sink, fmt.Sprintf("Whiteout: %s was deleted, so the layer holds %s, an empty file that hides it in the layers below.", p, path.Join(path.Dir(p), whiteoutPrefix+path.Base(p))))
	}
	for _, p := range l.Opaque {
		event.Narrate(b.sink, fmt.Sprintf("Opaque directory: %s was replaced, so the layer holds %s, which hides what the layers below have in it.", p, path.Join(p, opaqueMarker)))
	}
	raw, err := json.Marshal(cacheEntry{Instruction: in.String(), Layer: l})
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(b.cachePath(key), raw, 0o644); err != nil {
		return err
	}
	b.add(in, key, l, false)
	return nil
}

func (b *builder) add(in Instruction, key string, l Layer, cached bool) {
	b.layers = append(b.layers, l.Descriptor())
	b.cfg.RootFS.DiffIDs = append(b.cfg.RootFS.DiffIDs, l.DiffID)
	b.steps = append(b.steps, StepLayer{Instruction: in.String(), Layer: l, Cached: cached})
	b.history(in, false)
	b.key = key
}

func (b *builder) history(in Instruction, empty bool) {
	b.cfg.History = append(b.cfg.History, History{CreatedBy: in.String(), EmptyLayer: empty})
}

// finish writes the config and the manifest and tags the image.
func (b *builder) finish() (*BuildResult, error) {
	raw, err := json.Marshal(b.cfg)
	if err != nil {
		return nil, err
	}
	cfg, err := b.s.PutBlob(MediaConfig, raw)
	if err != nil {
		return nil, err
	}
	event.Narrate(b.sink, fmt.Sprintf("Config %s (%d bytes): the entrypoint, command, environment and working directory, and the diff IDs of the %d layer(s).", cfg.Digest, cfg.Size, len(b.layers)))
	layers := b.layers
	if layers == nil {
		layers = []Descriptor{}
	}
	raw, err = json.Marshal(Manifest{SchemaVersion: 2, MediaType: MediaManifest, Config: cfg, Layers: layers})
	if err != nil {
		return nil, err
	}
	man, err := b.s.PutBlob(MediaManifest, raw)
	if err != nil {
		return nil, err
	}
	event.Narrate(b.sink, fmt.Sprintf("Manifest %s (%d bytes): it names the config and each layer by digest. That digest is the image's identity; the tag %s is only a name pointing at it.", man.Digest, man.Size, b.opt.Tag))
	if err := b.s.Tag(b.opt.Tag, man); err != nil {
		return nil, err
	}
	return &BuildResult{Tag: b.opt.Tag, Manifest: man, Config: cfg, Steps: b.steps}, nil
}

// displayPath is p relative to the working directory when it is below
// it, as errors name files: Dockerfile:3 rather than a long absolute path.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

// sum is the sha256 of its parts, each followed by a NUL.
func sum(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// setEnv sets KEY=VALUE in env, in place if KEY is there.
func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func hasEnv(env []string, k string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return true
		}
	}
	return false
}
