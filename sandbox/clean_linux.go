//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/kernel/mountinfo"
	"github.com/kcna-lab/kcna-lab/kernel/overlay"
)

// Clean removes everything that sandboxes whose kcna-lab is gone (killed
// with SIGKILL, a crashed machine) left behind, as their journals list
// it, newest first. Journals of running sandboxes are not touched, and
// nothing a journal does not name is.
func Clean() ([]journal.Entry, error) {
	dir := JournalDir()
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	swept, err := journal.Sweep(dir, Undo)
	if err != nil {
		return swept, fmt.Errorf("clean up after earlier runs: %w", err)
	}
	// A bridge is shared, so no journal owns it: it goes once no running
	// sandbox is plugged into it. Rootless, the bridge goes with the
	// plugin's holder; what is left to prune is its leases.
	if p := networkPlugin(); p != nil {
		if err := p.Prune(event.Discard); err != nil {
			return swept, fmt.Errorf("clean up networks after earlier runs: %w", err)
		}
	}
	return swept, nil
}

// Undo removes one journaled object, treating one already gone as done.
// It is the one undo every journal in kcna-lab's journal directory is
// swept with, so it refuses what kcna-lab does not make: a path outside
// its state or cache directory or without its prefix, a cgroup outside
// its own, a link without the kl-/kcna- prefix. Whatever journals an
// object (a sandbox, the mesh, the orchestrator, a workshop lab) undoes it
// with this, and `kcna-lab clean` sweeps it the same way after a crash.
func Undo(e journal.Entry) error {
	switch e.Kind {
	case journal.Process:
		return killProcess(e.PID, e.StartTime)
	case journal.Cgroup:
		return cgroup.Remove(e.Path)
	case journal.Mount, journal.Netns:
		if !ours(e.Path) {
			return fmt.Errorf("refusing to unmount %s: not a kcna-lab path", e.Path)
		}
		if mounted, err := isMountPoint(e.Path); err != nil || !mounted {
			if e.Kind == journal.Netns {
				return removeIfExists(e.Path)
			}
			return err
		}
		if err := unix.Unmount(e.Path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("umount %s: %w", e.Path, err)
		}
		if e.Kind == journal.Netns {
			return removeIfExists(e.Path)
		}
		return nil
	case journal.Dir:
		return removeDir(e.Path)
	case journal.File:
		if !ours(e.Path) {
			return fmt.Errorf("refusing to remove %s: not a kcna-lab path", e.Path)
		}
		return removeIfExists(e.Path)
	case journal.Link:
		if !strings.HasPrefix(e.Name, "kl-") && !strings.HasPrefix(e.Name, "kcna-") {
			return fmt.Errorf("refusing to delete link %s: not a kcna-lab name", e.Name)
		}
		if _, err := os.Stat("/sys/class/net/" + e.Name); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if out, err := exec.Command("ip", "link", "delete", e.Name).CombinedOutput(); err != nil {
			return fmt.Errorf("ip link delete %s: %w: %s", e.Name, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return fmt.Errorf("unknown journal entry kind %q", e.Kind)
}

// ours says whether a path is one kcna-lab creates: in its state or
// cache dir, or named with its prefix.
func ours(p string) bool {
	p = filepath.Clean(p)
	if strings.HasPrefix(p, StateDir()+"/") {
		return true
	}
	if c, err := CacheDir(); err == nil && strings.HasPrefix(p, c+"/") {
		return true
	}
	base := filepath.Base(p)
	return strings.HasPrefix(base, "kcna-") || strings.HasPrefix(base, "kl-")
}

// removeDir deletes a directory kcna-lab made, but never through a mount:
// if anything is still mounted below it, deleting would reach into
// whatever that mount shows (a volume is someone's real data).
func removeDir(dir string) error {
	if !ours(dir) {
		return fmt.Errorf("refusing to remove %s: not a kcna-lab path", dir)
	}
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	if len(mounts) > 0 {
		return fmt.Errorf("refusing to remove %s: %s is still mounted there", dir, mounts[0])
	}
	// A sandbox's dir may hold an overlay's layers, and so the mode-000
	// work dir that overlayfs leaves (rootless, kcna-lab must open it).
	if err := overlay.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// killProcess kills pid if it is still the process the journal saw start.
func killProcess(pid int, start uint64) error {
	st, err := journal.ProcStartTime(pid)
	if err != nil || st != start {
		return nil // gone, or the PID now belongs to someone else
	}
	if err := unix.Kill(pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	// Give the kernel a moment to tear it down before its cgroup is removed.
	for range 100 {
		if st, err := journal.ProcStartTime(pid); err != nil || st != start || processState(pid) == "Z" {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func processState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// mountsUnder lists the mount points at or below dir, from the kernel.
func mountsUnder(dir string) ([]string, error) {
	ms, err := mountinfo.ReadUnder("/proc/self/mountinfo", dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Point)
	}
	return out, nil
}

func isMountPoint(p string) (bool, error) {
	m, err := mountsUnder(p)
	if err != nil {
		return false, err
	}
	return slices.Contains(m, p), nil
}

// signalIgnoreTTOU runs fn with SIGTTOU ignored: a background process
// that changes the terminal's foreground group would otherwise be stopped.
func signalIgnoreTTOU(fn func()) {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	fn()
}
