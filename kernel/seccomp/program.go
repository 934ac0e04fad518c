package seccomp

import (
	"cmp"
	"math"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
)

// Where seccomp_data keeps what the program reads: the call's number,
// the audit architecture, and six 64-bit arguments, each low half first
// on the little-endian machines kcna-lab filters.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

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
