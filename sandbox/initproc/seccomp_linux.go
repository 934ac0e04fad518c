//go:build linux

package initproc

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// seccompOp loads the sandbox's seccomp program. It is the plan's last
// step: the program may refuse calls the steps before it make (mount,
// unshare, sethostname), and a filter may be installed without
// CAP_SYS_ADMIN only once no_new_privs is set. The init keeps it for the
// rest of its life, so every process it starts inherits it; what the
// init itself still does (fork without namespace flags, wait4, signals,
// execve for the native init's hand-over, the Go runtime) every profile
// that runs a container must allow anyway.
func seccompOp(f *SeccompFilter) Op {
	return Op{
		Kind: OpSeccomp, Filter: f.Program, Flags: uint64(f.Flags),
		Action: fmt.Sprintf("seccomp(SECCOMP_SET_MODE_FILTER, %s, {%d BPF instructions})", seccompFlagNames(f.Flags), len(f.Program)/8),
		Shell:  f.Shell,
	}
}

// loadSeccomp installs op's program on every thread of this init
// (SECCOMP_FILTER_FLAG_TSYNC): the Go runtime's other threads too, so no
// thread of PID 1 runs unfiltered; the one that forks the sandbox's
// processes is the calling one.
func loadSeccomp(op *Op) error {
	prog, err := sockFilters(op.Filter)
	if err != nil {
		return err
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	tid, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		uintptr(op.Flags)|unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if errno != 0 {
		return errno
	}
	if tid != 0 {
		return fmt.Errorf("thread %d of the init could not take the filter", tid)
	}
	return nil
}

// sockFilters decodes a program from its wire form.
func sockFilters(b []byte) ([]unix.SockFilter, error) {
	if len(b) == 0 || len(b)%8 != 0 || len(b) > 8*4096 {
		return nil, fmt.Errorf("a seccomp program of %d bytes: want 1 to 4096 instructions of 8 bytes", len(b))
	}
	prog := make([]unix.SockFilter, len(b)/8)
	for i := range prog {
		r := b[8*i:]
		prog[i] = unix.SockFilter{Code: binary.LittleEndian.Uint16(r), Jt: r[2], Jf: r[3], K: binary.LittleEndian.Uint32(r[4:])}
	}
	return prog, nil
}

func seccompFlagNames(flags uint32) string {
	if flags == 0 {
		return "0"
	}
	var names []string
	for _, f := range []struct {
		bit  uint32
		name string
	}{{unix.SECCOMP_FILTER_FLAG_TSYNC, "SECCOMP_FILTER_FLAG_TSYNC"}, {unix.SECCOMP_FILTER_FLAG_LOG, "SECCOMP_FILTER_FLAG_LOG"}, {unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"}} {
		if flags&f.bit != 0 {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, "|")
}
