//go:build linux

package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// dockerCaps is Docker's default bounding set, which kcna-lab's sandboxes
// keep too.
var dockerCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// The kernel's answers, as the program returns them.
const (
	allow  = retAllow
	eperm  = retErrno | errnoEPERM
	enosys = retErrno | errnoENOSYS
	kill   = retKillProcess
)

// machine evaluates a compiled program on seccomp_data, in
// golang.org/x/net/bpf's virtual machine, for calls that cannot all be
// made for real (other ABIs, namespaces, keyrings).
type machine struct {
	t  *testing.T
	vm *bpf.VM
}

func newMachine(t *testing.T, f *Filter) *machine {
	t.Helper()
	insns, ok := bpf.Disassemble(f.Program)
	if !ok {
		t.Fatal("the program holds an instruction x/net/bpf cannot decode")
	}
	vm, err := bpf.NewVM(insns)
	if err != nil {
		t.Fatalf("the program does not verify: %v", err)
	}
	return &machine{t, vm}
}

// call is what the program answers for call nr of the ABI audit with args.
// The machine reads 32-bit words big-endian, as in network packets, where
// the kernel reads seccomp_data's words in the host's order: each word is
// laid out so that both read the same value, the low half of an argument
// first, as on the little-endian hosts kcna-lab filters.
func (m *machine) call(audit, nr uint32, args ...uint64) uint32 {
	m.t.Helper()
	data := make([]byte, 64)
	binary.BigEndian.PutUint32(data[offNr:], nr)
	binary.BigEndian.PutUint32(data[offArch:], audit)
	for i, a := range args {
		binary.BigEndian.PutUint32(data[offArgs+8*i:], uint32(a))
		binary.BigEndian.PutUint32(data[offArgs+8*i+4:], uint32(a>>32))
	}
	out, err := m.vm.Run(data)
	if err != nil {
		m.t.Fatalf("run the program for call %d: %v", nr, err)
	}
	return uint32(out)
}

func dockerFilter(t *testing.T, caps []string) *Filter {
	t.Helper()
	p, err := (&Profile{Name: Default}).Resolve(caps)
	if err != nil {
		t.Fatal(err)
	}
	f, err := compile(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestDockerDefaultProfile checks the program compiled from Docker's
// default profile, for a container with Docker's default capabilities,
// against what the profile says, call by call, on each ABI x86_64 runs.
func TestDockerDefaultProfile(t *testing.T) {
	f := dockerFilter(t, dockerCaps)
	m := newMachine(t, f)
	t.Logf("%d instructions for %v; x86_64: %+v", len(f.Program), f.ABIs, f.Native)
	if !slices.Equal(f.ABIs, []string{"x86_64", "x86", "x32"}) {
		t.Errorf("ABIs %v; want x86_64, x86, x32 (the profile's archMap for amd64)", f.ABIs)
	}
	x := func(name string) uint32 { return abiX86_64.syscalls()[name] }
	const (
		cloneNewuser = 0x10000000
		cloneVM      = 0x100
		cloneVfork   = 0x4000
		sigchld      = 17
		afUnix       = 1
		afInet       = 2
		afALG        = 38
		afVsock      = 40
		addrNoRandom = 0x0040000
		perLinux32   = 0x0008
	)
	for _, c := range []struct {
		what string
		nr   uint32
		args []uint64
		want uint32
	}{
		{"read", x("read"), nil, allow},
		{"execve", x("execve"), nil, allow},
		{"wait4", x("wait4"), nil, allow},
		{"keyctl", x("keyctl"), nil, eperm},
		{"add_key", x("add_key"), nil, eperm},
		{"bpf without CAP_BPF", x("bpf"), nil, eperm},
		{"userfaultfd", x("userfaultfd"), nil, eperm},
		{"open_by_handle_at without CAP_DAC_READ_SEARCH", x("open_by_handle_at"), nil, eperm},
		{"mount without CAP_SYS_ADMIN", x("mount"), nil, eperm},
		{"unshare without CAP_SYS_ADMIN", x("unshare"), nil, eperm},
		{"chroot with CAP_SYS_CHROOT", x("chroot"), nil, allow},
		{"clone for a process (fork)", x("clone"), []uint64{sigchld}, allow},
		{"clone as Go's ForkExec does it", x("clone"), []uint64{cloneVM | cloneVfork | sigchld}, allow},
		{"clone into a new user namespace", x("clone"), []uint64{cloneNewuser | sigchld}, eperm},
		{"clone3: ENOSYS, so that the C library falls back to clone", x("clone3"), nil, enosys},
		{"personality(PER_LINUX)", x("personality"), []uint64{0}, allow},
		{"personality(PER_LINUX32)", x("personality"), []uint64{perLinux32}, allow},
		{"personality query", x("personality"), []uint64{0xffffffff}, allow},
		{"personality(ADDR_NO_RANDOMIZE): linux64 -R", x("personality"), []uint64{addrNoRandom}, eperm},
		{"personality(PER_LINUX32|ADDR_NO_RANDOMIZE): linux32 -R", x("personality"), []uint64{perLinux32 | addrNoRandom}, eperm},
		{"personality with a high half: 64 bits compared", x("personality"), []uint64{1 << 32}, eperm},
		{"socket(AF_UNIX)", x("socket"), []uint64{afUnix}, allow},
		{"socket(AF_INET)", x("socket"), []uint64{afInet}, allow},
		{"socket(AF_ALG)", x("socket"), []uint64{afALG}, eperm},
		{"socket(AF_VSOCK)", x("socket"), []uint64{afVsock}, eperm},
		{"a call newer than the profile", 1000, nil, enosys},
		{"x32 read", abiX32.syscalls()["read"], nil, allow},
		{"x32's own rt_sigaction (512)", abiX32.syscalls()["rt_sigaction"], nil, allow},
		{"x32 keyctl", abiX32.syscalls()["keyctl"], nil, eperm},
	} {
		if got := m.call(auditX86_64, c.nr, c.args...); got != c.want {
			t.Errorf("%s (x86_64 call %#x, args %#x): %#x, want %#x", c.what, c.nr, c.args, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		want uint32
	}{{"read", allow}, {"socketcall", allow}, {"keyctl", eperm}, {"unshare", eperm}} {
		if got := m.call(auditI386, abiX86.syscalls()[c.name], 0); got != c.want {
			t.Errorf("x86 %s: %#x, want %#x", c.name, got, c.want)
		}
	}
	if got := m.call(auditAARCH64, 63); got != kill {
		t.Errorf("a call from another architecture (aarch64): %#x, want the process killed (%#x)", got, kill)
	}
	if f.Native.Default < 40 || f.Native.Allowed < 300 || !slices.Equal(f.Native.ByArgument, []string{"clone", "personality", "socket"}) {
		t.Errorf("x86_64 summary %+v: want 300 and more allowed, 40 and more refused, clone, personality and socket by argument", f.Native)
	}
}

// TestEveryCall runs Docker's program for every call number each ABI
// has, and the holes between them, against what the resolved profile
// says of each name: allowed by a rule without argument tests, ENOSYS
// for clone3 and above the profile's highest, EPERM for the rest.
func TestEveryCall(t *testing.T) {
	resolved, err := (&Profile{Name: Default}).Resolve(dockerCaps)
	if err != nil {
		t.Fatal(err)
	}
	allowed, tested := map[string]bool{}, map[string]bool{}
	for _, sc := range resolved.Syscalls {
		for _, n := range sc.Names {
			if len(sc.Args) > 0 {
				tested[n] = true
			} else if sc.Action == specs.ActAllow {
				allowed[n] = true
			}
		}
	}
	f, err := compile(resolved, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, f)
	for _, a := range []*abi{abiX86_64, abiX86, abiX32} {
		names := map[uint32]string{}
		var last uint32
		for _, sc := range resolved.Syscalls {
			for _, n := range sc.Names {
				if nr, ok := a.calls[n]; ok {
					last = max(last, nr)
				}
			}
		}
		for n, nr := range a.calls {
			names[nr] = n
		}
		audit := a.audit
		for nr := a.bit; nr < a.bit+1100; nr++ {
			name := names[nr]
			want := uint32(eperm)
			switch {
			case tested[name]:
				continue
			case nr > last:
				want = enosys
			case name == "clone3":
				want = enosys
			case allowed[name]:
				want = allow
			}
			if got := m.call(audit, nr); got != want {
				t.Errorf("%s call %#x (%s): %#x, want %#x", a.name, nr, name, got, want)
			}
		}
	}
}

// TestCapabilitiesChangeTheProfile: moby keeps or leaves out rules by the
// bounding set.
func TestCapabilitiesChangeTheProfile(t *testing.T) {
	admin := newMachine(t, dockerFilter(t, append(slices.Clone(dockerCaps), "CAP_SYS_ADMIN")))
	x := abiX86_64.syscalls()
	for _, name := range []string{"mount", "unshare", "setns", "clone3"} {
		if got := admin.call(auditX86_64, x[name]); got != allow {
			t.Errorf("with CAP_SYS_ADMIN, %s: %#x, want allowed", name, got)
		}
	}
	if got := admin.call(auditX86_64, x["clone"], 0x10000000); got != allow {
		t.Errorf("with CAP_SYS_ADMIN, clone(CLONE_NEWUSER): %#x, want allowed", got)
	}
	noChroot := newMachine(t, dockerFilter(t, slices.DeleteFunc(slices.Clone(dockerCaps), func(c string) bool { return c == "CAP_SYS_CHROOT" })))
	if got := noChroot.call(auditX86_64, x["chroot"]); got != eperm {
		t.Errorf("without CAP_SYS_CHROOT, chroot: %#x, want EPERM", got)
	}
}

// TestComparisons checks every operator, on 64-bit and 32-bit ABIs,
// against Go's own unsigned comparison, with values either side of the
// boundary in each half.
func TestComparisons(t *testing.T) {
	const v = 0x0000_0005_8000_0000
	values := []uint64{0, 1, v - 1, v, v + 1, 0x0000_0005_0000_0000, 0x0000_0004_ffff_ffff, 0x0000_0006_0000_0000, 0x8000_0000, 0xffff_ffff_ffff_ffff}
	ops := map[specs.LinuxSeccompOperator]func(a uint64) bool{
		specs.OpEqualTo:      func(a uint64) bool { return a == v },
		specs.OpNotEqual:     func(a uint64) bool { return a != v },
		specs.OpGreaterThan:  func(a uint64) bool { return a > v },
		specs.OpGreaterEqual: func(a uint64) bool { return a >= v },
		specs.OpLessThan:     func(a uint64) bool { return a < v },
		specs.OpLessEqual:    func(a uint64) bool { return a <= v },
		specs.OpMaskedEqual:  func(a uint64) bool { return a&v == 0x0000_0004_8000_0000 },
	}
	for op, want := range ops {
		p := &specs.LinuxSeccomp{
			DefaultAction: specs.ActErrno,
			Architectures: []specs.Arch{specs.ArchX86},
			Syscalls: []specs.LinuxSyscall{{Names: []string{"personality"}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: 2, Op: op, Value: v, ValueTwo: 0x0000_0004_8000_0000}}}},
		}
		f, err := compile(p, "amd64")
		if err != nil {
			t.Fatal(err)
		}
		m := newMachine(t, f)
		for _, a := range values {
			args := []uint64{0, 0, a}
			if got := m.call(auditX86_64, abiX86_64.syscalls()["personality"], args...) == allow; got != want(a) {
				t.Errorf("x86_64 %s %#x against %#x: allowed %v, want %v", op, a, uint64(v), got, want(a))
			}
			// A 32-bit ABI's argument is the low half alone.
			lo, v32 := uint64(uint32(a)), uint64(v&0xffff_ffff)
			want32 := map[specs.LinuxSeccompOperator]bool{
				specs.OpEqualTo: lo == v32, specs.OpNotEqual: lo != v32,
				specs.OpGreaterThan: lo > v32, specs.OpGreaterEqual: lo >= v32,
				specs.OpLessThan: lo < v32, specs.OpLessEqual: lo <= v32,
				specs.OpMaskedEqual: lo&v32 == 0x8000_0000,
			}[op]
			if got := m.call(auditI386, abiX86.syscalls()["personality"], 0, 0, lo) == allow; got != want32 {
				t.Errorf("x86 %s %#x against %#x: allowed %v, want %v", op, lo, v32, got, want32)
			}
		}
	}
}

// TestRules: how rules combine, as runc and libseccomp combine them.
func TestRules(t *testing.T) {
	nr := abiX86_64.syscalls()
	arg := func(i uint, op specs.LinuxSeccompOperator, v uint64) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Op: op, Value: v}
	}
	errno := uint(13)
	p := &specs.LinuxSeccomp{
		DefaultAction: specs.ActErrno,
		Syscalls: []specs.LinuxSyscall{
			// Two tests of one argument: either passes (runc).
			{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 1), arg(0, specs.OpEqualTo, 2)}},
			// Tests of two arguments: both must pass.
			{Names: []string{"socket"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{arg(0, specs.OpEqualTo, 2), arg(1, specs.OpEqualTo, 1)}},
			{Names: []string{"keyctl"}, Action: specs.ActErrno, ErrnoRet: &errno},
			{Names: []string{"ptrace"}, Action: specs.ActKillProcess},
			// A rule that does what the default does is no rule.
			{Names: []string{"read"}, Action: specs.ActErrno},
			{Names: []string{"write", "no_such_call"}, Action: specs.ActAllow},
		},
	}
	f, err := compile(p, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, f)
	for _, c := range []struct {
		what string
		nr   uint32
		args []uint64
		want uint32
	}{
		{"personality(1)", nr["personality"], []uint64{1}, allow},
		{"personality(2)", nr["personality"], []uint64{2}, allow},
		{"personality(3)", nr["personality"], []uint64{3}, eperm},
		{"socket(2, 1)", nr["socket"], []uint64{2, 1}, allow},
		{"socket(2, 2)", nr["socket"], []uint64{2, 2}, eperm},
		{"keyctl: its own errno", nr["keyctl"], nil, retErrno | 13},
		{"ptrace: killed", nr["ptrace"], nil, retKillProcess},
		{"read", nr["read"], nil, eperm},
		{"write", nr["write"], nil, allow},
		{"x32 write: x32 is not in the profile", nr["write"] | x32Bit, nil, kill},
		{"x86: not in the profile", 4, nil, kill},
	} {
		audit := uint32(auditX86_64)
		if c.what == "x86: not in the profile" {
			audit = auditI386
		}
		if got := m.call(audit, c.nr, c.args...); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.what, got, c.want)
		}
	}

	// A deny list (default allow) has no ENOSYS answer for newer calls.
	deny := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"keyctl"}, Action: specs.ActErrno}}}
	f, err = compile(deny, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	m = newMachine(t, f)
	if got := m.call(auditX86_64, 1000); got != allow {
		t.Errorf("deny list, call 1000: %#x, want allowed", got)
	}
	if got := m.call(auditX86_64, nr["keyctl"]|x32Bit); got != kill {
		t.Errorf("deny list, x32 keyctl: %#x; want killed, or x32's numbers would dodge the list", got)
	}
}

func TestCompileRefuses(t *testing.T) {
	two := []specs.LinuxSyscall{
		{Names: []string{"keyctl"}, Action: specs.ActAllow},
		{Names: []string{"keyctl"}, Action: specs.ActKillProcess},
	}
	mixed := []specs.LinuxSyscall{
		{Names: []string{"personality"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 0, Op: specs.OpEqualTo}}},
		{Names: []string{"personality"}, Action: specs.ActKillProcess},
	}
	for _, c := range []struct {
		p    specs.LinuxSeccomp
		arch string
		want string
	}{
		{specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_DENY"}, "amd64", `defaultAction: "SCMP_ACT_DENY" is not a seccomp action`},
		{specs.LinuxSeccomp{DefaultAction: specs.ActNotify}, "amd64", "seccomp agent"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno}, "riscv64", "no system call table for riscv64 (only for amd64, 386, arm64 and arm)"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: two}, "amd64", "keyctl: syscalls[0] (SCMP_ACT_ALLOW) and syscalls[1] (SCMP_ACT_KILL_PROCESS) give it two actions"},
		{specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: mixed}, "amd64", "personality: syscalls[0]"},
	} {
		_, err := compile(&c.p, c.arch)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("compile(%+v): %v; want an error with %q", c.p, err, c.want)
		}
	}
}

func TestEncode(t *testing.T) {
	f := &Filter{Program: []bpf.RawInstruction{{Op: 0x15, Jt: 1, Jf: 2, K: 0x01020304}}}
	if got, want := fmt.Sprintf("% x", f.Encode()), "15 00 01 02 04 03 02 01"; got != want {
		t.Errorf("Encode: %s, want %s (struct sock_filter, little-endian)", got, want)
	}
}
