package cgroup

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// A process can enter a cgroup two ways. Moved: its PID written to the
// group's cgroup.procs, what `echo $$ > cgroup.procs` does. Every such
// write takes the kernel's cgroup_threadgroup_rwsem for writing, and
// since Linux 6.0 that waits for an RCU grace period (unless the
// hierarchy is mounted with favordynmods; before 6.0 the lock was kept
// in a mode where it did not): milliseconds, more than the rest of a
// sandbox's start. Or born there: clone3 with CLONE_INTO_CGROUP and a
// descriptor of the group's directory (Linux 5.7+, cgroup v2 only), which
// takes the same lock only for reading, and leaves no moment in which
// the new process runs outside its group.

// CloneInto opens the group's unified (v2) directory and sets attr so
// that the process started with it is cloned straight into the group.
// It returns the directory and a function that closes the descriptor,
// to call once the process has started. A group without a v2 directory
// (pure cgroup v1) returns "" and leaves attr alone.
func (g *Group) CloneInto(attr *syscall.SysProcAttr) (dir string, done func(), err error) {
	dir = g.CloneDir()
	if dir == "" {
		return "", func() {}, nil
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("open %s to clone into it: %w", dir, err)
	}
	attr.UseCgroupFD, attr.CgroupFD = true, fd
	return dir, func() { _ = unix.Close(fd) }, nil
}

// CloneRefused reports whether a clone that asked for CLONE_INTO_CGROUP
// failed for a reason a cgroup.procs write after a plain clone may not
// share: no clone3 (before Linux 5.3, or a seccomp filter, as in many
// containers, that answers ENOSYS), no CLONE_INTO_CGROUP (5.3 to 5.6:
// EINVAL, or E2BIG for the longer argument struct), a descriptor that is
// not a v2 cgroup (EBADF), or permission (EACCES, EPERM: a seccomp
// filter, or a cgroup.procs the caller may not write).
func CloneRefused(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case unix.ENOSYS, unix.EINVAL, unix.E2BIG, unix.EBADF, unix.EACCES, unix.EPERM, unix.EOPNOTSUPP:
		return true
	}
	return false
}
