package image

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// ForRun makes spec run the image ref, as `docker run` does: the image's
// layers, unpacked, become the sandbox's root filesystem (the bottom one)
// and read-only overlay lowers (the rest) under a writable layer of its
// own, and its entrypoint and command, environment and working directory
// become the sandbox's. args, when given, replace the image's CMD, as
// `docker run IMAGE ARGS` does. An image the store does not hold is
// ErrNotStored; the caller pulls it (package distribution) first.
func (s *Store) ForRun(ref Ref, spec *sandbox.Spec, args []string, sink event.Sink) error {
	if sink == nil {
		sink = event.Discard
	}
	if spec.Rootfs != "" || len(spec.Layers) > 0 {
		return errors.New("--image gives the sandbox its root filesystem and layers; leave out --rootfs and --layer")
	}
	desc, err := s.Resolve(ref)
	if err != nil {
		return err
	}
	man, cfg, err := s.Load(desc)
	if err != nil {
		return err
	}
	if cfg.Architecture != "" && cfg.Architecture != runtime.GOARCH {
		// The kernel would refuse its programs with "exec format error".
		return fmt.Errorf("image %s is built for %s/%s and this machine is linux/%s: its programs cannot run here; pull a multi-platform image (kcna-lab takes this machine's) or build it here", ref, cfg.OS, cfg.Architecture, runtime.GOARCH)
	}
	if len(man.Layers) == 0 {
		return fmt.Errorf("image %s has no layers, so no files to run: it was built FROM scratch with no COPY or RUN", ref)
	}
	argv := append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...)
	if len(args) > 0 {
		argv = append(append([]string{}, cfg.Config.Entrypoint...), args...)
	}
	if len(argv) == 0 {
		return fmt.Errorf("image %s has no ENTRYPOINT or CMD: say what to run, e.g. kcna-lab run --image %s -- sh", ref, ref)
	}
	event.Narrate(sink, fmt.Sprintf("Image %s is manifest %s: %d layer(s). The image is the class, read-only and shared; this sandbox is an instance of it, with a writable layer of its own.", ref, desc.Digest, len(man.Layers)))
	m := mapFor(spec.Isolate)
	var dirs []string
	for _, l := range man.Layers {
		dir, err := s.unpack(l, m, sink)
		if err != nil {
			return err
		}
		dirs = append(dirs, dir)
	}
	env := cfg.Config.Env
	if !hasEnv(env, "PATH") {
		env = append([]string{defaultPath}, env...)
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME=/root")
	}
	spec.Rootfs, spec.Layers, spec.Overlay = dirs[0], dirs[1:], true
	spec.Args, spec.Hold = argv, false
	spec.Env = env
	spec.Dir = cfg.Config.WorkingDir
	event.Narrate(sink, fmt.Sprintf("From the image's config: run %q in %s with %s.", strings.Join(argv, " "), orRoot(spec.Dir), strings.Join(env, " ")))
	return nil
}

func orRoot(dir string) string {
	if dir == "" {
		return "/"
	}
	return dir
}
