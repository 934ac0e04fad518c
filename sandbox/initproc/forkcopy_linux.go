//go:build linux

package initproc

import (
	"errors"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// forkExecCopy starts path as fork(2) and execve(2) do: the child gets a
// copy of this process's memory. syscall.ForkExec always shares it
// (clone with CLONE_VM|CLONE_VFORK), and before Linux 6.2 the kernel
// refuses that to a thread that has unshared a time namespace, whose
// namespace for children then differs from its own (EINVAL): only a
// child with memory of its own may enter the new namespace. The Go init
// cannot join that namespace itself, as the native init does, because
// setns into a time namespace wants a single-threaded caller.
//
// The child runs nothing but raw system calls until execve; files are
// put on descriptors 0, 1, 2, ... as in syscall.ProcAttr. What it does
// not do that ForkExec does: give back the soft RLIMIT_NOFILE that Go
// raised at start, which package syscall keeps to itself.
func forkExecCopy(path string, argv, env []string, files []uintptr, setsid, setctty bool) (int, error) {
	c, err := newCopyChild(path, argv, env, files, setsid, setctty)
	if err != nil {
		return 0, err
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return 0, err
	}
	c.pipe = p[1]

	// No signal handler may run in the child before execve, where Go's
	// runtime is a copy with one thread; the child resets them all.
	all, old := ^uint64(0), uint64(0)
	syscall.ForkLock.Lock()
	sigmask(unsafe.Pointer(&all), unsafe.Pointer(&old))
	pid := forkChild(c)
	sigmask(unsafe.Pointer(&old), nil)
	syscall.ForkLock.Unlock()
	unix.Close(p[1])
	defer unix.Close(p[0])
	if pid < 0 {
		return 0, syscall.Errno(-pid)
	}

	// The write end closes on a successful execve; an errno arrives
	// otherwise.
	var childErr uintptr
	if n, _ := readFull(p[0], (*[unsafe.Sizeof(childErr)]byte)(unsafe.Pointer(&childErr))[:]); n != int(unsafe.Sizeof(childErr)) {
		return pid, nil
	}
	var ws unix.WaitStatus
	for {
		if _, err := unix.Wait4(pid, &ws, 0, nil); !errors.Is(err, unix.EINTR) {
			break
		}
	}
	return 0, syscall.Errno(childErr)
}

// copyChild is everything the child needs, made before the fork: after
// it, the child may not allocate.
type copyChild struct {
	path      *byte
	argv, env []*byte
	fds       []int
	next      int // a descriptor number above all of fds
	pipe      int
	setsid    bool
	setctty   bool
	dfl       kernelSigaction
}

// kernelSigaction is struct sigaction as the rt_sigaction system call
// takes it on Linux (not the C library's).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

func newCopyChild(path string, argv, env []string, files []uintptr, setsid, setctty bool) (*copyChild, error) {
	c := &copyChild{setsid: setsid, setctty: setctty}
	var err error
	if c.path, err = unix.BytePtrFromString(path); err != nil {
		return nil, err
	}
	if c.argv, err = syscall.SlicePtrFromStrings(argv); err != nil {
		return nil, err
	}
	if c.env, err = syscall.SlicePtrFromStrings(env); err != nil {
		return nil, err
	}
	c.fds = make([]int, len(files))
	c.next = len(files)
	for i, f := range files {
		c.fds[i] = int(f)
		c.next = max(c.next, int(f)+1)
	}
	return c, nil
}

// sigmask sets this thread's blocked signals.
//
//go:nosplit
//go:norace
func sigmask(set, old unsafe.Pointer) {
	syscall.RawSyscall6(unix.SYS_RT_SIGPROCMASK, unix.SIG_SETMASK, uintptr(set), uintptr(old), 8, 0, 0)
}

// forkChild forks; in the parent it returns the child's PID, or -errno.
// The child never returns from it: it becomes the command or exits 253,
// having written its errno to c.pipe. Nothing in the child's part may
// grow the stack or call into Go's runtime, whose other threads are not
// in the copy.
//
//go:nosplit
//go:norace
func forkChild(c *copyChild) int {
	pid, _, errno := syscall.RawSyscall6(unix.SYS_CLONE, uintptr(unix.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 {
		return -int(errno)
	}
	if pid != 0 {
		return int(pid)
	}
	errno = c.prepare()
	if errno == 0 {
		_, _, errno = syscall.RawSyscall(unix.SYS_EXECVE, uintptr(unsafe.Pointer(c.path)),
			uintptr(unsafe.Pointer(&c.argv[0])), uintptr(unsafe.Pointer(&c.env[0])))
	}
	syscall.RawSyscall(unix.SYS_WRITE, uintptr(c.pipe), uintptr(unsafe.Pointer(&errno)), unsafe.Sizeof(errno))
	for {
		syscall.RawSyscall(unix.SYS_EXIT_GROUP, 253, 0, 0)
	}
}

// prepare is the child's part before execve, as syscall.ForkExec's: a
// session, the descriptors moved into place, the controlling terminal;
// then every signal at its default and none blocked, as in the native
// init's commands.
//
//go:nosplit
//go:norace
func (c *copyChild) prepare() syscall.Errno {
	if c.setsid {
		if _, _, e := syscall.RawSyscall(unix.SYS_SETSID, 0, 0, 0); e != 0 {
			return e
		}
	}
	// First move the pipe and every descriptor that the second pass
	// would overwrite before using it out of the way, above them all.
	if c.pipe < c.next {
		if _, _, e := syscall.RawSyscall(unix.SYS_DUP3, uintptr(c.pipe), uintptr(c.next), unix.O_CLOEXEC); e != 0 {
			return e
		}
		c.pipe = c.next
		c.next++
	}
	for i := 0; i < len(c.fds); i++ {
		if c.fds[i] < i {
			if c.next == c.pipe { // do not overwrite the pipe
				c.next++
			}
			if _, _, e := syscall.RawSyscall(unix.SYS_DUP3, uintptr(c.fds[i]), uintptr(c.next), unix.O_CLOEXEC); e != 0 {
				return e
			}
			c.fds[i] = c.next
			c.next++
		}
	}
	for i := 0; i < len(c.fds); i++ {
		var e syscall.Errno
		if c.fds[i] == i {
			_, _, e = syscall.RawSyscall(unix.SYS_FCNTL, uintptr(i), unix.F_SETFD, 0)
		} else {
			_, _, e = syscall.RawSyscall(unix.SYS_DUP3, uintptr(c.fds[i]), uintptr(i), 0)
		}
		if e != 0 {
			return e
		}
	}
	if c.setctty {
		if _, _, e := syscall.RawSyscall(unix.SYS_IOCTL, 0, unix.TIOCSCTTY, 1); e != 0 {
			return e
		}
	}
	for sig := uintptr(1); sig <= 64; sig++ {
		// EINVAL for SIGKILL and SIGSTOP, which have no handler to reset.
		syscall.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&c.dfl)), 0, 8, 0, 0)
	}
	var none uint64
	sigmask(unsafe.Pointer(&none), nil)
	return 0
}

// readFull reads until buf is full or the writer closes.
func readFull(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return n, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, nil
}
