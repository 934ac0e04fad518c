//go:build linux

// Package idmap makes idmapped mounts, which lesson 13 (storage) relies
// on: a volume's files keep their owner on the host while root inside a
// sandbox's user namespace owns them there. The kernel translates owners
// at the mount (mount_setattr with MOUNT_ATTR_IDMAP, Linux 5.12), through
// a user namespace that maps the host owner to the sandbox's root.
package idmap

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Apply makes the detached mount tree (from open_tree(OPEN_TREE_CLONE))
// show files owned by uid:gid as owned by hostRoot:hostRoot, the host ids
// of a sandbox's root, and store what that root writes as uid:gid. Other
// owners appear as the overflow user (nobody). The tree is also nosuid: a
// set-uid file made through it gives nobody uid's rights. Never map the
// host's root (uid or gid 0): the sandbox could make set-uid-root files.
func Apply(tree *os.File, uid, gid, hostRoot int) error {
	if uid == 0 || gid == 0 {
		return errors.New("refusing to map the host's root into a sandbox")
	}
	ns, err := Userns(fmt.Sprintf("%d %d 1", uid, hostRoot), fmt.Sprintf("%d %d 1", gid, hostRoot))
	if err != nil {
		return err
	}
	defer ns.Close()
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP | unix.MOUNT_ATTR_NOSUID, Userns_fd: uint64(ns.Fd())}
	if err := unix.MountSetattr(int(tree.Fd()), "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, &attr); err != nil {
		return fmt.Errorf("mount_setattr(MOUNT_ATTR_IDMAP): %w", explain(err))
	}
	return nil
}

// explain says what an errno from mount_setattr means here.
func explain(err error) error {
	switch {
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w: this kernel has no idmapped mounts (Linux 5.12 and later do)", err)
	case errors.Is(err, unix.EINVAL):
		return fmt.Errorf("%w: this filesystem cannot be idmapped on this kernel (ext4 and xfs can since Linux 5.12, btrfs since 5.15, tmpfs since 6.3)", err)
	}
	return err
}

// Userns returns a new user namespace with the given uid_map and gid_map
// lines ("ID-INSIDE ID-OUTSIDE COUNT"), as an open /proc/PID/ns/user. A
// namespace lives while something holds it: a child process is made in
// it, pauses while the maps are written and the file is opened, and is
// killed. Needs CAP_SETUID and CAP_SETGID for maps beyond the caller's
// own ids.
func Userns(uidMap, gidMap string) (*os.File, error) {
	pid, err := forkPaused(unix.CLONE_NEWUSER)
	if err != nil {
		return nil, fmt.Errorf("clone(CLONE_NEWUSER): %w", err)
	}
	defer func() {
		_ = unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(pid, &ws, 0, nil); !errors.Is(err, unix.EINTR) {
				break
			}
		}
	}()
	for _, m := range []struct{ file, line string }{{"uid_map", uidMap}, {"gid_map", gidMap}} {
		p := fmt.Sprintf("/proc/%d/%s", pid, m.file)
		if err := os.WriteFile(p, []byte(m.line+"\n"), 0); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
	}
	return os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
}

// forkPaused forks a child (clone with flags, no shared memory) that
// only waits to be killed; if the thread that forked it ends first, the
// kernel kills it (PR_SET_PDEATHSIG), and Userns kills it anyway. The child runs raw system calls alone: it is a copy
// of a Go process with one thread, whose runtime it must not enter.
func forkPaused(flags uintptr) (int, error) {
	all, old := ^uint64(0), uint64(0)
	syscall.ForkLock.Lock()
	sigmask(unsafe.Pointer(&all), unsafe.Pointer(&old))
	pid := pausedChild(flags | uintptr(unix.SIGCHLD))
	sigmask(unsafe.Pointer(&old), nil)
	syscall.ForkLock.Unlock()
	if pid < 0 {
		return 0, syscall.Errno(-pid)
	}
	return pid, nil
}

//go:nosplit
//go:norace
func sigmask(set, old unsafe.Pointer) {
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(set), uintptr(old), 8, 0, 0)
}

//go:nosplit
//go:norace
func pausedChild(flags uintptr) int {
	pid, _, errno := syscall.RawSyscall6(unix.SYS_CLONE, flags, 0, 0, 0, 0, 0)
	if errno != 0 {
		return -int(errno)
	}
	if pid != 0 {
		return int(pid)
	}
	syscall.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0, 0)
	for {
		// Signals stay blocked: only SIGKILL, which cannot be, ends it.
		syscall.RawSyscall(unix.SYS_PAUSE, 0, 0, 0)
	}
}
