//go:build linux

package initproc

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultCaps is the set a container runtime keeps by default (Docker's
// and containerd's list): enough to act as root on the container's own
// files and processes, nothing that reaches the host (no CAP_SYS_ADMIN,
// CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_NET_ADMIN, ...).
var defaultCaps = []uintptr{
	unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FSETID, unix.CAP_FOWNER,
	unix.CAP_MKNOD, unix.CAP_NET_RAW, unix.CAP_SETGID, unix.CAP_SETUID,
	unix.CAP_SETFCAP, unix.CAP_SETPCAP, unix.CAP_NET_BIND_SERVICE,
	unix.CAP_SYS_CHROOT, unix.CAP_KILL, unix.CAP_AUDIT_WRITE,
}

// DefaultCapabilities names the capabilities a sandboxed process keeps.
func DefaultCapabilities() []string {
	names := make([]string, len(defaultCaps))
	for i, c := range defaultCaps {
		names[i] = capName(c)
	}
	return names
}

// CapabilityNames decodes a capability mask, as in the CapEff or CapBnd
// line of /proc/PID/status (hexadecimal), into names like "cap_net_raw".
func CapabilityNames(mask uint64) []string {
	var out []string
	for c := uintptr(0); c < 64; c++ {
		if mask&(1<<c) != 0 {
			out = append(out, capName(c))
		}
	}
	return out
}

// CapabilityBit is the bit of a capability named "NET_RAW", "net_raw" or
// "CAP_NET_RAW" in a /proc/PID/status mask.
func CapabilityBit(name string) (int, error) {
	c, err := capabilityNumber(name)
	return int(c), err
}

func capabilityNumber(name string) (uintptr, error) {
	want := strings.ToLower(strings.TrimSpace(name))
	if !strings.HasPrefix(want, "cap_") {
		want = "cap_" + want
	}
	for c, n := range capNames {
		if n == want {
			return c, nil
		}
	}
	return 0, fmt.Errorf("capability %q: unknown; use a name from capabilities(7) such as NET_RAW, SYS_CHROOT or CHOWN (the sandbox keeps: %s)", name, strings.Join(DefaultCapabilities(), ", "))
}

// dropped are the capabilities the sandbox's processes lose from the
// default set: CapDrop, and CAP_MKNOD without a user namespace (BuildPlan
// says why).
func (c *Config) dropped() []uintptr {
	if c.has(NSUser) || slices.Contains(c.CapDrop, unix.CAP_MKNOD) {
		return c.CapDrop
	}
	return append(slices.Clone(c.CapDrop), unix.CAP_MKNOD)
}

// Bounding names the bounding set the sandbox's processes get, as
// "CAP_CHOWN": the names a seccomp profile's rules are included or
// excluded by.
func (c *Config) Bounding() []string {
	drop := c.dropped()
	var out []string
	for _, cp := range defaultCaps {
		if !slices.Contains(drop, cp) {
			out = append(out, strings.ToUpper(capName(cp)))
		}
	}
	return out
}

// capOps reduce the bounding set and the permitted, effective and
// inheritable sets to defaultCaps minus drop. A process forked from the
// thread that ran them inherits them, and execve as root then grants
// exactly the bounding set.
func capOps(drop []uintptr) ([]Op, error) {
	last, err := lastCap()
	if err != nil {
		return nil, err
	}
	keep := map[uintptr]bool{}
	var mask uint64
	for _, c := range defaultCaps {
		if slices.Contains(drop, c) {
			continue
		}
		keep[c] = true
		mask |= 1 << c
	}
	what := "every capability but the default set"
	if len(drop) > 0 {
		names := make([]string, len(drop))
		for i, c := range drop {
			names[i] = capName(c)
		}
		what += " and " + strings.Join(names, ", ")
	}
	return []Op{
		{Kind: OpBounding, Keep: mask, Last: int(last),
			Action: "prctl(PR_CAPBSET_DROP, ...) for " + what, Shell: "capsh --drop=" + strings.Join(dropListPreview(last, keep), ",")},
		{Kind: OpCapset, Keep: mask,
			Action: "capset(permitted=effective=inheritable=default set)", Shell: "setpriv --inh-caps=-all --bounding-set=-all,+chown,... (Docker's default set)"},
	}, nil
}

// GuardCap is the capability the native init holds as PID 1 and the
// sandbox's processes do not, which keeps them from PID 1's descriptors
// while its resume makes it briefly dumpable (native.c, GUARD_CAP).
const GuardCap = unix.CAP_WAKE_ALARM

// dropGuard gives up GuardCap after a resume: PID 1 keeps the set the
// plan gives every process.
func dropGuard(p *Plan) error {
	for _, op := range p.Ops {
		if op.Kind != OpCapset {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, GuardCap, 0, 0, 0); err != nil {
			return fmt.Errorf("drop %s from the bounding set: %w", capName(GuardCap), err)
		}
		return capset(op.Keep)
	}
	return nil
}

// dropBounding drops every capability up to last that keep lacks from
// the calling thread's bounding set.
func dropBounding(keep uint64, last int) error {
	for c := uintptr(0); c <= uintptr(last); c++ {
		if keep&(1<<c) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil {
			return fmt.Errorf("drop %s from the bounding set: %w", capName(c), err)
		}
	}
	return nil
}

// capset sets the calling thread's permitted, effective and inheritable
// sets to keep.
func capset(keep uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	lo, hi := uint32(keep), uint32(keep>>32)
	data := [2]unix.CapUserData{
		{Effective: lo, Permitted: lo, Inheritable: lo},
		{Effective: hi, Permitted: hi, Inheritable: hi},
	}
	return unix.Capset(&hdr, &data[0])
}

func dropListPreview(last uintptr, keep map[uintptr]bool) []string {
	var out []string
	for c := uintptr(0); c <= last; c++ {
		if !keep[c] {
			out = append(out, strings.ToLower(capName(c)))
		}
	}
	return out
}

func lastCap() (uintptr, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, fmt.Errorf("read cap_last_cap: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("cap_last_cap: %w", err)
	}
	return uintptr(n), nil
}

var capNames = map[uintptr]string{
	unix.CAP_CHOWN: "cap_chown", unix.CAP_DAC_OVERRIDE: "cap_dac_override", unix.CAP_DAC_READ_SEARCH: "cap_dac_read_search",
	unix.CAP_FOWNER: "cap_fowner", unix.CAP_FSETID: "cap_fsetid", unix.CAP_KILL: "cap_kill", unix.CAP_SETGID: "cap_setgid",
	unix.CAP_SETUID: "cap_setuid", unix.CAP_SETPCAP: "cap_setpcap", unix.CAP_LINUX_IMMUTABLE: "cap_linux_immutable",
	unix.CAP_NET_BIND_SERVICE: "cap_net_bind_service", unix.CAP_NET_BROADCAST: "cap_net_broadcast", unix.CAP_NET_ADMIN: "cap_net_admin",
	unix.CAP_NET_RAW: "cap_net_raw", unix.CAP_IPC_LOCK: "cap_ipc_lock", unix.CAP_IPC_OWNER: "cap_ipc_owner",
	unix.CAP_SYS_MODULE: "cap_sys_module", unix.CAP_SYS_RAWIO: "cap_sys_rawio", unix.CAP_SYS_CHROOT: "cap_sys_chroot",
	unix.CAP_SYS_PTRACE: "cap_sys_ptrace", unix.CAP_SYS_PACCT: "cap_sys_pacct", unix.CAP_SYS_ADMIN: "cap_sys_admin",
	unix.CAP_SYS_BOOT: "cap_sys_boot", unix.CAP_SYS_NICE: "cap_sys_nice", unix.CAP_SYS_RESOURCE: "cap_sys_resource",
	unix.CAP_SYS_TIME: "cap_sys_time", unix.CAP_SYS_TTY_CONFIG: "cap_sys_tty_config", unix.CAP_MKNOD: "cap_mknod",
	unix.CAP_LEASE: "cap_lease", unix.CAP_AUDIT_WRITE: "cap_audit_write", unix.CAP_AUDIT_CONTROL: "cap_audit_control",
	unix.CAP_SETFCAP: "cap_setfcap", unix.CAP_MAC_OVERRIDE: "cap_mac_override", unix.CAP_MAC_ADMIN: "cap_mac_admin",
	unix.CAP_SYSLOG: "cap_syslog", unix.CAP_WAKE_ALARM: "cap_wake_alarm", unix.CAP_BLOCK_SUSPEND: "cap_block_suspend",
	unix.CAP_AUDIT_READ: "cap_audit_read", unix.CAP_PERFMON: "cap_perfmon", unix.CAP_BPF: "cap_bpf",
	unix.CAP_CHECKPOINT_RESTORE: "cap_checkpoint_restore",
}

func capName(c uintptr) string {
	if n, ok := capNames[c]; ok {
		return n
	}
	return fmt.Sprintf("cap_%d", c)
}
