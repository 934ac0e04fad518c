package seccomp

import (
	"encoding/binary"
	"fmt"
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
	byNr := make(map[uint32]*call, len(a.syscalls()))
	for i, sc := range p.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err == nil {
			err = checkArgs(sc.Args)
		}
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		for _, name := range sc.Names {
			nr, ok := a.syscalls()[name]
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

// summary counts what the program does with each call of s's ABI.
func (c *compiler) summary(s *section) Summary {
	byNr := make(map[uint32]*call, len(s.calls))
	for _, call := range s.calls {
		byNr[call.nr] = call
	}
	sum := Summary{Calls: len(s.abi.syscalls())}
	for name, nr := range s.abi.syscalls() {
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
