package seccomp

import (
	"fmt"
	"runtime"
	"slices"
	"sync"

	"github.com/elastic/go-seccomp-bpf/arch"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// abi is one way a process can make system calls on this kernel: the
// native one, or a compatibility ABI the kernel also runs (32-bit x86 and
// x32 on x86_64, 32-bit ARM on arm64). The kernel tells them apart in
// seccomp_data by the audit architecture and, for x32, which shares
// x86_64's, by a bit in the call's number.
type abi struct {
	name  specs.Arch // as a profile names it, e.g. SCMP_ARCH_X86_64
	audit uint32     // AUDIT_ARCH_*: seccomp_data.arch
	// bit is set in every call number of this ABI (x32's
	// __X32_SYSCALL_BIT); the numbers in calls include it.
	bit uint32
	// wide: arguments are 64 bits, so a comparison looks at both halves
	// of seccomp_data.args[i]; a 32-bit ABI's arguments are its low half,
	// as libseccomp compares them.
	wide bool
	// info is go-seccomp-bpf's table, read into calls on first use: five
	// tables of some 400 names each would otherwise be built by every
	// kcna-lab process as it starts, whether it filters anything or not.
	info  *arch.Info
	once  sync.Once
	calls map[string]uint32
}

// syscalls is the ABI's system call numbers by name.
func (a *abi) syscalls() map[string]uint32 {
	a.once.Do(func() { a.calls = table(a.info, a.bit) })
	return a.calls
}

// x32Bit marks an x32 call's number (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// The ABIs kcna-lab has system call tables for (go-seccomp-bpf's, which
// follow the kernel's). Profiles may name others; a kernel here cannot
// run them, so they are left out.
var (
	abiX86_64  = &abi{name: specs.ArchX86_64, audit: uint32(arch.X86_64.ID), wide: true, info: arch.X86_64}
	abiX86     = &abi{name: specs.ArchX86, audit: uint32(arch.I386.ID), info: arch.I386}
	abiX32     = &abi{name: specs.ArchX32, audit: uint32(arch.X32.ID), bit: x32Bit, info: arch.X32}
	abiAARCH64 = &abi{name: specs.ArchAARCH64, audit: uint32(arch.AARCH64.ID), wide: true, info: arch.AARCH64}
	abiARM     = &abi{name: specs.ArchARM, audit: uint32(arch.ARM.ID), info: arch.ARM}
)

// runnable lists, for each GOARCH kcna-lab can filter, the native ABI
// first, then the compatibility ABIs its kernel may also run.
var runnable = map[string][]*abi{
	"amd64": {abiX86_64, abiX86, abiX32},
	"386":   {abiX86},
	"arm64": {abiAARCH64, abiARM},
	"arm":   {abiARM},
}

// Supported says whether kcna-lab can write filters for this machine's
// architecture: it needs the names of its system calls.
func Supported() error {
	_, err := abisFor(nil, runtime.GOARCH)
	return err
}

// abisFor are the ABIs a profile's filter covers on goarch: the native
// one always (libseccomp's filters do), and those of the profile's
// architectures that this kernel can run.
func abisFor(profile []specs.Arch, goarch string) ([]*abi, error) {
	all, ok := runnable[goarch]
	if !ok {
		return nil, fmt.Errorf("kcna-lab has no system call table for %s (only for amd64, 386, arm64 and arm)", goarch)
	}
	out := all[:1]
	for _, a := range all[1:] {
		if slices.Contains(profile, a.name) {
			out = append(out, a)
		}
	}
	return out, nil
}

// table is an ABI's system call numbers by name. A name with two numbers
// (x32's calls that differ from x86_64's, from 512 on) takes the higher:
// the lower is x86_64's, which an x32 process cannot make.
func table(info *arch.Info, bit uint32) map[string]uint32 {
	t := make(map[string]uint32, len(info.SyscallNumbers))
	for n, name := range info.SyscallNumbers {
		if old, ok := t[name]; !ok || uint32(n)|bit > old {
			t[name] = uint32(n) | bit
		}
	}
	return t
}
