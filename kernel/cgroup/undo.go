package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// How long removal waits for processes to die and the kernel to let go of
// a directory. A killed process leaves its cgroup only once it has exited,
// which is quick but not instant.
const (
	killWait  = 2 * time.Second
	rmdirWait = 2 * time.Second
	pollEvery = 10 * time.Millisecond
)

// Filesystem magic numbers (statfs f_type) of cgroupfs and cgroup2fs.
const (
	cgroupMagic  = 0x27e0eb
	cgroup2Magic = 0x63677270
)

// Destroy kills every process left in the group and removes its
// directories. It is idempotent: directories already gone are skipped.
func (g *Group) Destroy(sink event.Sink) error {
	if sink == nil {
		sink = event.Discard
	}
	var errs []error
	for i := len(g.dirs) - 1; i >= 0; i-- {
		if err := removeDir(g.dirs[i].path, sink); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("destroy cgroup %s: %w", g.name, err)
	}
	return nil
}

// Remove kills the processes in one cgroup directory and removes it, for
// undoing the journal of a crashed run. A directory already gone is
// success. It refuses any path not under /sys/fs/cgroup, not on a cgroup
// filesystem, whose name does not start with "kcna-" or "kl-", or that is
// not where kcna-lab makes groups (in kcna-lab, or in a node's kcna-node-*
// inside it): it must never touch a cgroup kcna-lab did not create.
//
// A node's directory holds its sandboxes' groups: removing it removes
// them first (and kills what they hold), so a crashed orchestrator's node
// goes whole, whichever of its journals is swept first.
func Remove(dir string) error {
	clean := filepath.Clean(dir)
	base := filepath.Base(clean)
	if !filepath.IsAbs(dir) || !strings.HasPrefix(clean, Root+"/") {
		return fmt.Errorf("refuse to remove cgroup %s: not under %s", dir, Root)
	}
	if !strings.HasPrefix(base, "kcna-") && !strings.HasPrefix(base, "kl-") {
		return fmt.Errorf("refuse to remove cgroup %s: kcna-lab names its cgroups kcna-* or kl-*, not %s", dir, base)
	}
	parent := filepath.Base(filepath.Dir(clean))
	inNode := strings.HasPrefix(parent, NodePrefix) && filepath.Base(filepath.Dir(filepath.Dir(clean))) == parentName
	if base != parentName && parent != parentName && !inNode {
		return fmt.Errorf("refuse to remove cgroup %s: kcna-lab makes groups in %s/ or in a node's %s*/ inside it, not in %s/", dir, parentName, NodePrefix, parent)
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(clean, &fs); err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return nil
		}
		return fmt.Errorf("statfs %s: %w", clean, err)
	}
	if t := fs.Type; t != cgroupMagic && t != cgroup2Magic {
		return fmt.Errorf("refuse to remove %s: not on a cgroup filesystem", dir)
	}
	if base == parentName {
		// The shared parent: only ever removed when empty, never killed in.
		err := syscall.Rmdir(clean)
		if err == nil || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EBUSY) || errors.Is(err, syscall.ENOTEMPTY) {
			return nil
		}
		return bare("rmdir", clean, err)
	}
	return removeDir(clean, event.Discard)
}

// removeDir removes path's child cgroups (a sandboxed process may have
// made some), then kills its processes and removes it.
func removeDir(path string, sink event.Sink) error {
	entries, err := os.ReadDir(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return bare("read", path, err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			if err := removeDir(filepath.Join(path, e.Name()), sink); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := killAll(path, sink); err != nil {
		return err
	}
	return event.Step(sink, "rmdir "+path, "rmdir "+path, func() error { return rmdir(path) })
}

// killAll ends every process in path: at once through cgroup.kill where the
// kernel has it (v2, Linux 5.14+), otherwise by SIGKILLing each PID in
// cgroup.procs until none is left, since a process may fork meanwhile.
func killAll(path string, sink event.Sink) error {
	pids, err := readProcs(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil || len(pids) == 0 {
		return err
	}
	if kill := filepath.Join(path, "cgroup.kill"); exists(kill) {
		if err := write(sink, kill, "1"); err != nil {
			return err
		}
		if waitEmpty(path, killWait/4) {
			return nil
		}
	}
	shown := map[int]bool{}
	deadline := time.Now().Add(killWait)
	for {
		pids, err := readProcs(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil || len(pids) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s still holds processes %v after %v of SIGKILL", path, pids, killWait)
		}
		for _, pid := range pids {
			kill := func() error {
				err := syscall.Kill(pid, syscall.SIGKILL)
				if errors.Is(err, syscall.ESRCH) {
					return nil // exited meanwhile
				}
				return err
			}
			if shown[pid] {
				_ = kill() // already reported; still listed, so still ours
				continue
			}
			shown[pid] = true
			p := strconv.Itoa(pid)
			if err := event.Step(sink, "kill("+p+", SIGKILL)", "kill -9 "+p, kill); err != nil {
				return fmt.Errorf("kill %d in %s: %w", pid, path, err)
			}
		}
		time.Sleep(pollEvery)
	}
}

// waitEmpty polls cgroup.procs until it is empty or d passes.
func waitEmpty(path string, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(pollEvery) {
		pids, err := readProcs(path)
		if err != nil || len(pids) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// rmdir removes an emptied cgroup, retrying while the kernel still reports
// it busy (a killed process not yet fully exited).
func rmdir(path string) error {
	deadline := time.Now().Add(rmdirWait)
	for {
		err := syscall.Rmdir(path)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return bare("rmdir", path, err)
		}
		if pids, _ := readProcs(path); len(pids) > 0 {
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(pollEvery)
	}
}
