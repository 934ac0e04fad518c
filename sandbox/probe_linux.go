//go:build linux

package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// probe starts a throw-away sandbox for each thing r says this host
// allows, and turns every yes whose sandbox fails into that failure.
// Files in /proc and /sys say what a kernel has, not what works together:
// before Linux 6.2, for one, a kernel with time namespaces refused the
// way both inits used to start a command inside one. Each probe runs
// /bin/true and is removed, as any sandbox is.
func probe(r *Report) {
	// ^C ends the sandbox being tried in order, and the rest untried.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	try := func(spec Spec) error { return tryRun(ctx, spec) }
	base := []Namespace{NSMount} // pivot_root needs a mount namespace
	if !r.Root {
		base = append(base, NSUser)
	}
	if err := try(Spec{Isolate: base}); err != nil {
		for _, n := range base {
			if r.Namespaces[n] == "" {
				r.Namespaces[n] = probeFailed(err)
			}
		}
	}
	for _, n := range AllNamespaces {
		if r.Namespaces[n] != "" || slices.Contains(base, n) {
			continue
		}
		if err := try(Spec{Isolate: append(slices.Clone(base), n)}); err != nil {
			r.Namespaces[n] = probeFailed(err)
		}
	}
	if err := try(Spec{}); err != nil {
		r.Sandbox = probeFailed(err)
	}
	if r.Cgroup.Problem == "" {
		lim := Limits{MemoryBytes: 64 << 20, Pids: MinPids, CPUs: 0.5}
		if err := try(Spec{Limits: lim}); err != nil {
			r.Cgroup.Problem = "a sandbox with memory, pids and cpu limits " + probeFailed(err)
		}
	}
	if r.Overlay == "" {
		if err := try(Spec{Overlay: true}); err != nil {
			r.Overlay = "a sandbox with a writable layer " + probeFailed(err)
		}
	}
	// Only root with a user namespace needs idmapped volumes: rootless,
	// root inside is the caller; without one, root is the host's root.
	if r.Root && r.Namespaces[NSUser] == "" {
		if uid, gid := VolumeOwner(); uid == 0 || gid == 0 {
			r.Idmap = fmt.Sprintf("kcna-lab runs as root itself, not under sudo, so volumes are not idmapped (the host's root is never mapped in): root inside writes as uid %d; run it with sudo from your own account", RootMapBase)
		} else if err := IdmapProblem(os.TempDir()); err != nil {
			r.Idmap = fmt.Sprintf("a volume on %s cannot be idmapped: %v; root inside then writes as uid %d", os.TempDir(), err, RootMapBase)
		}
	}
	switch {
	case networkPlugin() == nil:
		r.Bridge = "this program has no network plugin (package plugin/network)"
	default:
		// Rootless this starts the plugin's network holder, clones the
		// sandbox from it and plugs it in: all of what a demo does.
		if err := try(Spec{Net: &Net{}}); err != nil {
			r.Bridge = "a sandbox on the bridge " + probeFailed(err)
		}
	}
}

// tryRun runs /bin/true in a sandbox made from spec.
func tryRun(ctx context.Context, spec Spec) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("not tried: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	spec.Args = []string{"true"}
	res, err := Run(ctx, spec, event.Discard)
	if err == nil && res.ExitCode != 0 {
		err = fmt.Errorf("true exited %d", res.ExitCode)
	}
	return err
}

func probeFailed(err error) string {
	return "fails here when tried: " + err.Error()
}
