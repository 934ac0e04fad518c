package seccomp

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// Filter is a profile compiled for this machine: the program the
// sandbox's init loads, and a summary of it for the learner.
type Filter struct {
	Program []bpf.RawInstruction
	// Flags are the SECCOMP_FILTER_FLAG_* bits the profile asks for.
	Flags uint32
	// ABIs the program covers, the native one first (x86_64, x86, x32);
	// a call from any other is killed.
	ABIs []string
	// Native is what the program does with the calls the native ABI has.
	Native Summary
}

// Summary counts what a filter does with each call an ABI has (by
// kcna-lab's table of them), called with arguments it does not test.
type Summary struct {
	Calls   int // calls in the table
	Allowed int // allowed whatever their arguments
	// ByArgument are the calls whose rules test their arguments, such as
	// personality and clone in Docker's profile.
	ByArgument []string
	// Default get the profile's default action (EPERM in Docker's).
	Default int
	// Newer are numbered above every call the profile names: they fail
	// with ENOSYS, as if the kernel lacked them.
	Newer int
	// Other get another action of the profile's, such as clone3's ENOSYS
	// in Docker's.
	Other []string
}

// The kernel's return values (SECCOMP_RET_*) and errno values the
// program uses; kernel ABI, the same everywhere.
const (
	retKillThread  = 0x00000000
	retKillProcess = 0x80000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000

	errnoEPERM  = 1
	errnoENOSYS = 38
	// maxErrno is the highest errno the kernel passes on (MAX_ERRNO).
	maxErrno = 4095
)

// Where seccomp_data keeps what the program reads: the call's number,
// the audit architecture, and six 64-bit arguments, each low half first
// on the little-endian machines kcna-lab filters.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

// Compile writes the BPF program for a profile resolved for this machine
// (Profile.Resolve).
func Compile(p *specs.LinuxSeccomp) (*Filter, error) { return compile(p, runtime.GOARCH) }

func compile(p *specs.LinuxSeccomp, goarch string) (*Filter, error) {
	def, err := action(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	flags, err := filterFlags(p.Flags)
	if err != nil {
		return nil, err
	}
	abis, err := abisFor(p.Architectures, goarch)
	if err != nil {
		return nil, err
	}
	sections := make([]*section, len(abis))
	for i, a := range abis {
		if sections[i], err = gather(p, a, def); err != nil {
			return nil, err
		}
	}
	c := &compiler{def: def, stub: stubbed(p.DefaultAction, def)}
	c.dispatch(sections)
	prog, err := c.assemble()
	if err != nil {
		return nil, fmt.Errorf("assemble the seccomp program: %w", err)
	}
	// The kernel's limit, BPF_MAXINSNS.
	if len(prog) > 4096 {
		return nil, fmt.Errorf("the profile needs %d BPF instructions; the kernel takes at most 4096", len(prog))
	}
	f := &Filter{Program: prog, Flags: flags, Native: c.summary(sections[0])}
	for _, s := range sections {
		f.ABIs = append(f.ABIs, strings.ToLower(strings.TrimPrefix(string(s.abi.name), "SCMP_ARCH_")))
	}
	return f, nil
}

// Encode lays the program out as the kernel's struct sock_filter array,
// little-endian: code (16 bits), jt, jf, k (32 bits). This is what
// initproc carries to the init.
func (f *Filter) Encode() []byte {
	b := make([]byte, 0, 8*len(f.Program))
	for _, ins := range f.Program {
		b = binary.LittleEndian.AppendUint16(b, ins.Op)
		b = append(b, ins.Jt, ins.Jf)
		b = binary.LittleEndian.AppendUint32(b, ins.K)
	}
	return b
}

// section is one ABI's rules, merged per call.
type section struct {
	abi   *abi
	calls []*call // in the order the profile first names them
	// last is the highest number among the calls the profile names, for
	// the -ENOSYS answer to newer ones.
	last  uint32
	entry label // where the program's part for this ABI starts
}

// call is what the profile says about one system call.
type call struct {
	name string
	nr   uint32
	// always is the rule without argument tests, if any (hasAlways).
	always    rule
	hasAlways bool
	// cases are the rules that test arguments, in the profile's order:
	// the first whose tests all pass decides.
	cases []rule
}

type rule struct {
	action uint32
	conds  []specs.LinuxSeccompArg
	// index and name are where the rule is in the profile, and its
	// action as the profile says it: for errors.
	index int
	name  specs.LinuxSeccompAction
}

func (r rule) from() string { return fmt.Sprintf("syscalls[%d] (%s)", r.index, r.name) }

// gather merges the profile's rules for one ABI as libseccomp, which
// runc uses, does: names the ABI lacks are skipped, a rule that does
// what the default does is no rule, and several tests of one argument
// in a rule are alternatives rather than all required (runc's reading).
func gather(p *specs.LinuxSeccomp, a *abi, def uint32) (*section, error) {
	s := &section{abi: a}
	byNr := make(map[uint32]*call, len(a.calls))
	for i, sc := range p.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err == nil {
			err = checkArgs(sc.Args)
		}
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		for _, name := range sc.Names {
			nr, ok := a.calls[name]
			if !ok {
				continue // another architecture's call, or newer than kcna-lab's table
			}
			s.last = max(s.last, nr)
			if act == def {
				continue
			}
			c := byNr[nr]
			if c == nil {
				c = &call{name: name, nr: nr}
				byNr[nr] = c
				s.calls = append(s.calls, c)
			}
			if err := c.add(rule{action: act, conds: sc.Args, index: i, name: sc.Action}); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range s.calls {
		if err := c.settle(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (c *call) add(r rule) error {
	if len(r.conds) == 0 {
		if c.hasAlways && c.always.action != r.action {
			return fmt.Errorf("%s: %s and %s give it two actions; a call without argument tests can have only one", c.name, c.always.from(), r.from())
		}
		c.always, c.hasAlways = r, true
		return nil
	}
	for _, conds := range alternatives(r.conds) {
		r.conds = conds
		c.cases = append(c.cases, r)
	}
	return nil
}

// settle drops argument rules that a rule without tests makes moot, and
// refuses a mix whose meaning would hang on how they are merged.
func (c *call) settle() error {
	if !c.hasAlways {
		return nil
	}
	for _, r := range c.cases {
		if r.action != c.always.action {
			return fmt.Errorf("%s: %s tests its arguments and %s does not, with another action; give the call one rule without tests, or only rules with them", c.name, r.from(), c.always.from())
		}
	}
	c.cases = nil
	return nil
}

// alternatives splits a rule's tests as runc does: all must pass, unless
// one argument is tested more than once, and then each test alone is a
// rule of its own.
func alternatives(conds []specs.LinuxSeccompArg) [][]specs.LinuxSeccompArg {
	seen := map[uint]bool{}
	for _, c := range conds {
		if seen[c.Index] {
			out := make([][]specs.LinuxSeccompArg, len(conds))
			for i, c := range conds {
				out[i] = []specs.LinuxSeccompArg{c}
			}
			return out
		}
		seen[c.Index] = true
	}
	return [][]specs.LinuxSeccompArg{conds}
}

// compiler writes the program: which ABI is calling, then that ABI's
// rules.
type compiler struct {
	asm
	def  uint32
	stub bool // answer calls newer than the profile with ENOSYS
}

// dispatch checks the architecture first: a call from an ABI the filter
// does not cover is killed, as libseccomp's filters kill it (runc's too),
// so that no rule can be dodged by calling through another ABI's numbers.
func (c *compiler) dispatch(sections []*section) {
	var x32 *section
	for _, s := range sections {
		s.entry = c.newLabel()
		if s.abi == abiX32 {
			x32 = s // shares x86_64's audit architecture
		}
	}
	c.load(offArch)
	for _, s := range sections {
		if s == x32 {
			continue
		}
		other := c.newLabel()
		c.jump(bpf.JumpEqual, s.abi.audit, next, other)
		c.goTo(s.entry)
		c.bind(other)
	}
	c.ret(retKillProcess)

	for _, s := range sections {
		if s == x32 {
			continue
		}
		c.bind(s.entry)
		c.load(offNr)
		if s.abi == abiX86_64 {
			c.splitX32(x32)
		}
		c.rules(s)
	}
	if x32 != nil {
		c.bind(x32.entry)
		c.rules(x32)
	}
}

// splitX32 sends a call with x32's bit to x32's rules, or kills it when
// the profile does not cover x32: x86_64 and x32 share one audit
// architecture, so the number is all that tells them apart.
func (c *compiler) splitX32(x32 *section) {
	native := c.newLabel()
	c.jump(bpf.JumpBitsSet, x32Bit, next, native)
	if x32 == nil {
		c.ret(retKillProcess)
	} else {
		c.goTo(x32.entry)
	}
	c.bind(native)
}

// rules is one ABI's part, with the call's number in the accumulator.
func (c *compiler) rules(s *section) {
	if c.stub && s.last > 0 {
		known := c.newLabel()
		c.jump(bpf.JumpGreaterThan, s.last, next, known)
		c.ret(retErrno | errnoENOSYS)
		c.bind(known)
	}
	var plain []*call
	for _, call := range s.calls {
		if call.hasAlways {
			plain = append(plain, call)
			continue
		}
		c.cases(call, s.abi.wide)
	}
	c.plain(plain)
}

// cases tests a call's arguments, rule by rule; the accumulator holds
// the call's number before and, when the call is another, after.
func (c *compiler) cases(call *call, wide bool) {
	body, other := c.newLabel(), c.newLabel()
	c.jump(bpf.JumpEqual, call.nr, body, next)
	c.goTo(other)
	c.bind(body)
	for _, r := range call.cases {
		fail := c.newLabel()
		for _, cond := range r.conds {
			c.test(cond, wide, fail)
		}
		c.ret(r.action)
		c.bind(fail)
	}
	c.ret(c.def)
	c.bind(other)
}

// plain returns each action for its calls, which need no argument test,
// by a binary search: the numbers are cut into runs that get one answer
// (every number the profile does not name gets the default), and each
// step halves the runs. A call costs a few comparisons, not one per
// allowed call, which matters when the filter is loaded too: the kernel
// runs it once per call number to learn which calls it may let through
// without running it again (its action cache).
func (c *compiler) plain(calls []*call) {
	calls = slices.SortedFunc(slices.Values(calls), func(a, b *call) int { return cmp.Compare(a.nr, b.nr) })
	runs := []run{{0, c.def}}
	add := func(from, action uint32) {
		last := &runs[len(runs)-1]
		switch {
		case last.action == action:
		case last.from == from: // the run ended before it began
			runs = runs[:len(runs)-1]
			if len(runs) == 0 || runs[len(runs)-1].action != action {
				runs = append(runs, run{from, action})
			}
		default:
			runs = append(runs, run{from, action})
		}
	}
	for _, call := range calls {
		add(call.nr, call.always.action)
		if call.nr < math.MaxUint32 {
			add(call.nr+1, c.def)
		}
	}
	c.search(runs)
}

// run is a range of call numbers, from its start to the next run's, that
// get one action.
type run struct {
	from, action uint32
}

func (c *compiler) search(runs []run) {
	if len(runs) == 1 {
		c.ret(runs[0].action)
		return
	}
	mid := len(runs) / 2
	upper, lower := c.newLabel(), c.newLabel()
	c.jump(bpf.JumpGreaterOrEqual, runs[mid].from, next, lower)
	c.goTo(upper)
	c.bind(lower)
	c.search(runs[:mid])
	c.bind(upper)
	c.search(runs[mid:])
}

// test falls through when the argument passes cond and jumps to fail
// when it does not. Comparisons are unsigned, on 64 bits for a wide ABI:
// the high halves decide unless they are equal.
func (c *compiler) test(cond specs.LinuxSeccompArg, wide bool, fail label) {
	lo := uint32(offArgs + 8*cond.Index)
	type half struct {
		off        uint32
		val, other uint32
	}
	halves := []half{{lo, uint32(cond.Value), uint32(cond.ValueTwo)}}
	if wide {
		halves = []half{{lo + 4, uint32(cond.Value >> 32), uint32(cond.ValueTwo >> 32)}, halves[0]}
	}
	pass := c.newLabel()
	for i, h := range halves {
		last := i == len(halves)-1
		c.load(h.off)
		switch cond.Op {
		case specs.OpEqualTo:
			c.jump(bpf.JumpEqual, h.val, next, fail)
		case specs.OpNotEqual:
			if last {
				c.jump(bpf.JumpEqual, h.val, fail, next)
			} else {
				c.jump(bpf.JumpEqual, h.val, next, pass)
			}
		case specs.OpMaskedEqual:
			// Value is the mask, ValueTwo what the masked bits must be.
			c.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: h.val})
			c.jump(bpf.JumpEqual, h.other, next, fail)
		case specs.OpGreaterThan, specs.OpGreaterEqual:
			if !last {
				c.jump(bpf.JumpGreaterThan, h.val, pass, next)
				c.jump(bpf.JumpEqual, h.val, next, fail)
			} else if cond.Op == specs.OpGreaterThan {
				c.jump(bpf.JumpGreaterThan, h.val, next, fail)
			} else {
				c.jump(bpf.JumpGreaterOrEqual, h.val, next, fail)
			}
		case specs.OpLessThan, specs.OpLessEqual:
			if !last {
				c.jump(bpf.JumpGreaterThan, h.val, fail, next)
				c.jump(bpf.JumpEqual, h.val, next, pass)
			} else if cond.Op == specs.OpLessThan {
				c.jump(bpf.JumpGreaterOrEqual, h.val, fail, next)
			} else {
				c.jump(bpf.JumpGreaterThan, h.val, fail, next)
			}
		}
	}
	c.bind(pass)
}

// summary counts what the program does with each call of s's ABI.
func (c *compiler) summary(s *section) Summary {
	byNr := make(map[uint32]*call, len(s.calls))
	for _, call := range s.calls {
		byNr[call.nr] = call
	}
	sum := Summary{Calls: len(s.abi.calls)}
	for name, nr := range s.abi.calls {
		call := byNr[nr]
		switch {
		case c.stub && nr > s.last:
			sum.Newer++
		case call == nil:
			sum.Default++
		case !call.hasAlways:
			sum.ByArgument = append(sum.ByArgument, name)
		case call.always.action == retAllow:
			sum.Allowed++
		default:
			sum.Other = append(sum.Other, name)
		}
	}
	slices.Sort(sum.ByArgument)
	slices.Sort(sum.Other)
	return sum
}

// stubbed says whether calls newer than the profile get ENOSYS: runc
// adds that answer so that a program can tell "this kernel lacks the
// call" (and fall back) from "the profile refuses it", unless the default
// lets calls through or is ENOSYS already.
func stubbed(name specs.LinuxSeccompAction, def uint32) bool {
	return name != specs.ActAllow && name != specs.ActLog && def != retErrno|errnoENOSYS
}

// action is the kernel's return value for a profile's action, as runc
// and libseccomp map them: SCMP_ACT_KILL kills the thread, an errno
// defaults to EPERM.
func action(name specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(errnoEPERM)
	if errnoRet != nil {
		if *errnoRet > maxErrno {
			return 0, fmt.Errorf("errnoRet %d: the kernel passes on errno values up to %d", *errnoRet, maxErrno)
		}
		data = uint32(*errnoRet)
	}
	switch name {
	case specs.ActAllow:
		return retAllow, nil
	case specs.ActErrno:
		return retErrno | data, nil
	case specs.ActKill, specs.ActKillThread:
		return retKillThread, nil
	case specs.ActKillProcess:
		return retKillProcess, nil
	case specs.ActTrap:
		return retTrap, nil
	case specs.ActTrace:
		return retTrace | data, nil
	case specs.ActLog:
		return retLog, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("%s hands the call to a seccomp agent listening on listenerPath; kcna-lab has none", name)
	case "":
		return 0, fmt.Errorf("no action; use one of %s", actionNames)
	}
	return 0, fmt.Errorf("%q is not a seccomp action; use one of %s", name, actionNames)
}

const actionNames = "SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD (or SCMP_ACT_KILL), SCMP_ACT_TRAP, SCMP_ACT_TRACE, SCMP_ACT_LOG"

// checkArgs refuses argument tests the kernel cannot make.
func checkArgs(args []specs.LinuxSeccompArg) error {
	for _, a := range args {
		if a.Index > 5 {
			return fmt.Errorf("args index %d: a system call has six arguments, 0 to 5", a.Index)
		}
		switch a.Op {
		case specs.OpEqualTo, specs.OpNotEqual, specs.OpGreaterThan, specs.OpGreaterEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpMaskedEqual:
		default:
			return fmt.Errorf("args op %q is not a comparison; use one of SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_GT, SCMP_CMP_GE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_MASKED_EQ", a.Op)
		}
	}
	return nil
}

// flagTsync, which runtime-spec does not name, applies the filter to
// every thread of the process.
const flagTsync specs.LinuxSeccompFlag = "SECCOMP_FILTER_FLAG_TSYNC"

// filterFlags are the seccomp() flags a profile asks for, by value.
func filterFlags(flags []specs.LinuxSeccompFlag) (uint32, error) {
	known := map[specs.LinuxSeccompFlag]uint32{
		flagTsync:                       1, // the Go init synchronises its threads anyway
		specs.LinuxSeccompFlagLog:       2,
		specs.LinuxSeccompFlagSpecAllow: 4,
	}
	var out uint32
	for _, f := range flags {
		v, ok := known[f]
		if !ok {
			return 0, fmt.Errorf("flags: %q is not one kcna-lab can pass to seccomp(2); it knows %s, %s and %s", f, flagTsync, specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow)
		}
		out |= v
	}
	return out, nil
}
