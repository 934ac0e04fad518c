package seccomp

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// asm writes a classic BPF program with labels in place of jump offsets,
// which it works out at the end. A conditional jump reaches at most 255
// instructions ahead; the compiler keeps those short and uses goTo, whose
// reach is unlimited, for the long ones. Instructions are encoded as they
// are written (x/net/bpf's Assemble), so that a program of a thousand
// costs no thousand allocations.
type asm struct {
	insns  []bpf.RawInstruction
	labels []int // label → instruction index, -1 until bound
	jumps  []jumpRef
}

// label names an instruction that is not written yet.
type label int

// next as a jump's target goes on to the following instruction.
const next label = -1

type jumpRef struct {
	at      int // the jump's index
	yes, no label
	long    bool // an unconditional jump (ja) to yes
}

func (a *asm) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

// bind puts l at the next instruction.
func (a *asm) bind(l label) { a.labels[l] = len(a.insns) }

// emit encodes i; the instructions the compiler writes always encode.
func (a *asm) emit(i bpf.Instruction) {
	raw, err := i.Assemble()
	if err != nil {
		panic("seccomp: an instruction that does not encode: " + err.Error())
	}
	a.insns = append(a.insns, raw)
}

// load puts the 32-bit word at off in seccomp_data into the accumulator.
func (a *asm) load(off uint32) { a.emit(bpf.LoadAbsolute{Off: off, Size: 4}) }

func (a *asm) ret(v uint32) { a.emit(bpf.RetConstant{Val: v}) }

// jump goes to yes when the accumulator passes test against val, else to
// no. Only the kernel's own tests, which encode without swapping the
// targets: equal, greater, greater-or-equal, and bits set.
func (a *asm) jump(test bpf.JumpTest, val uint32, yes, no label) {
	switch test {
	case bpf.JumpEqual, bpf.JumpGreaterThan, bpf.JumpGreaterOrEqual, bpf.JumpBitsSet:
	default:
		panic(fmt.Sprintf("seccomp: jump test %v is not one the kernel has", test))
	}
	a.jumps = append(a.jumps, jumpRef{at: len(a.insns), yes: yes, no: no})
	a.emit(bpf.JumpIf{Cond: test, Val: val})
}

// goTo jumps to l however far it is.
func (a *asm) goTo(l label) {
	a.jumps = append(a.jumps, jumpRef{at: len(a.insns), yes: l, long: true})
	a.emit(bpf.Jump{})
}

// assemble resolves the labels and returns the program.
func (a *asm) assemble() ([]bpf.RawInstruction, error) {
	for _, j := range a.jumps {
		yes, err := a.skip(j.at, j.yes)
		if err != nil {
			return nil, err
		}
		if j.long {
			a.insns[j.at].K = uint32(yes)
			continue
		}
		no, err := a.skip(j.at, j.no)
		if err != nil {
			return nil, err
		}
		if yes > 255 || no > 255 {
			return nil, fmt.Errorf("instruction %d: a conditional jump of %d or %d instructions is beyond BPF's 255", j.at, yes, no)
		}
		a.insns[j.at].Jt, a.insns[j.at].Jf = uint8(yes), uint8(no)
	}
	return a.insns, nil
}

// skip is how many instructions a jump at index at passes over to reach l.
func (a *asm) skip(at int, l label) (int, error) {
	if l == next {
		return 0, nil
	}
	to := a.labels[l]
	if to <= at {
		return 0, fmt.Errorf("instruction %d: jump to an unbound or earlier label", at)
	}
	return to - at - 1, nil
}
