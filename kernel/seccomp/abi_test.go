package seccomp

import (
	"maps"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// TestTablesMatchGoSeccompBPF: each ABI's audit architecture and system
// call numbers are go-seccomp-bpf's, which follow the kernel's.
func TestTablesMatchGoSeccompBPF(t *testing.T) {
	for _, c := range []struct {
		abi  *abi
		info *arch.Info
	}{
		{abiX86_64, arch.X86_64}, {abiX86, arch.I386}, {abiX32, arch.X32},
		{abiAARCH64, arch.AARCH64}, {abiARM, arch.ARM},
	} {
		if c.abi.audit != uint32(c.info.ID) {
			t.Errorf("%s: audit architecture %#x, go-seccomp-bpf says %#x", c.abi.name, c.abi.audit, uint32(c.info.ID))
		}
		want := map[string]uint32{}
		for nr, name := range c.info.SyscallNumbers {
			if old, ok := want[name]; !ok || uint32(nr)|c.abi.bit > old {
				want[name] = uint32(nr) | c.abi.bit
			}
		}
		if got := c.abi.syscalls(); !maps.Equal(got, want) {
			t.Errorf("%s: %d calls, go-seccomp-bpf has %d, or numbers differ", c.abi.name, len(got), len(want))
		}
	}
	// x32's own read(2) is 0 | __X32_SYSCALL_BIT; its recvmsg is 519 (not
	// x86_64's 47) with the bit.
	if got := abiX32.syscalls()["recvmsg"]; got != 519|x32Bit {
		t.Errorf("x32 recvmsg = %#x, want %#x", got, 519|x32Bit)
	}
}
