package seccomp

import (
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

//go:generate go run ./internal/gen -o zsyscalls.go

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
	// table is the ABI's system calls, "name number" lines
	// (zsyscalls.go), read into calls on first use: only a filter being
	// compiled needs them.
	table string
	once  sync.Once
	calls map[string]uint32
}

// syscalls is the ABI's system call numbers by name.
func (a *abi) syscalls() map[string]uint32 {
	a.once.Do(func() { a.calls = parseTable(a.table, a.bit) })
	return a.calls
}

// x32Bit marks an x32 call's number (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// The audit architectures of linux/audit.h: EM_* | __AUDIT_ARCH_64BIT
// (0x80000000) for a 64-bit ABI | __AUDIT_ARCH_LE (0x40000000).
const (
	auditX86_64  = 0xc000003e // EM_X86_64 (62); x32 shares it
	auditI386    = 0x40000003 // EM_386 (3)
	auditAARCH64 = 0xc00000b7 // EM_AARCH64 (183)
	auditARM     = 0x40000028 // EM_ARM (40)
)

// The ABIs kcna-lab has system call tables for (generated from
// go-seccomp-bpf's, which follow the kernel's). Profiles may name others;
// a kernel here cannot run them, so they are left out.
var (
	abiX86_64  = &abi{name: specs.ArchX86_64, audit: auditX86_64, wide: true, table: x86_64Calls}
	abiX86     = &abi{name: specs.ArchX86, audit: auditI386, table: x86Calls}
	abiX32     = &abi{name: specs.ArchX32, audit: auditX86_64, bit: x32Bit, table: x32Calls}
	abiAARCH64 = &abi{name: specs.ArchAARCH64, audit: auditAARCH64, wide: true, table: aarch64Calls}
	abiARM     = &abi{name: specs.ArchARM, audit: auditARM, table: armCalls}
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

// parseTable is an ABI's system call numbers by name, from its "name
// number" lines. A name with two numbers (x32's calls that differ from
// x86_64's, from 512 on) takes the higher: the lower is x86_64's, which
// an x32 process cannot make.
func parseTable(lines string, bit uint32) map[string]uint32 {
	t := make(map[string]uint32, strings.Count(lines, "\n"))
	for line := range strings.Lines(lines) {
		name, num, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			panic(fmt.Sprintf("seccomp: zsyscalls.go: bad line %q", line)) // generated: cannot happen
		}
		if old, ok := t[name]; !ok || uint32(n)|bit > old {
			t[name] = uint32(n) | bit
		}
	}
	return t
}
