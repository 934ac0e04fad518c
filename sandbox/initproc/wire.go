package initproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The plan travels to the init in one binary form that both inits read:
// the native init has no JSON parser, and neither init needs more than a
// walk over fields in a known order. First the line ProtocolLine, then
// the plan's header (planWire), then the number of steps and each step
// (opWire). Numbers are little-endian; strings end in a NUL; the seccomp
// program is counted bytes, sent once and raw. The narration (Action,
// Shell, Text) stays with the parent.

// ProtocolLine opens what the parent sends: the same line of JSON, with
// the protocol version first, that every kcna-lab build has sent first,
// so that an init from any other build, older or newer, refuses plainly
// with both versions instead of misreading the rest.
var ProtocolLine = fmt.Sprintf(`{"protocol":%d}`+"\n", ProtocolVersion)

// The bits of a plan's flags word.
const (
	PlanNative uint32 = 1 << iota // Plan.Native
	PlanTty                       // Plan.Tty
	PlanHold                      // Plan.Hold
	PlanEscape                    // Plan.Escape
)

// WireField is one field of the binary form: Name is the member of the
// native init's struct plan or struct op that holds it, Type how it is
// written (u32, i32, u64, str: NUL-terminated, strs: a count and as many
// strs, bytes: a count and as many bytes).
type WireField struct{ Name, Type string }

// wireField is a WireField with how it is written and read in Go.
type wireField[T any] struct {
	WireField
	put func(*wire, *T)
	get func(*reader, *T)
}

// planWire is the plan's header, field by field, in order: the native
// init's parse_plan reads it through the KL_PLAN_WIRE macro that
// internal/gen writes from PlanWire.
var planWire = []wireField[Plan]{
	{WireField{"flags", "u32"}, func(w *wire, p *Plan) { w.u32(p.flags()) }, func(r *reader, p *Plan) { p.setFlags(r.u32()) }},
	{WireField{"args", "strs"}, func(w *wire, p *Plan) { w.strs(p.Args) }, func(r *reader, p *Plan) { p.Args = r.strs() }},
	{WireField{"env", "strs"}, func(w *wire, p *Plan) { w.strs(p.Env) }, func(r *reader, p *Plan) { p.Env = r.strs() }},
	{WireField{"root", "str"}, func(w *wire, p *Plan) { w.str(p.Root) }, func(r *reader, p *Plan) { p.Root = r.str() }},
}

// opWire is a step's binary form, field by field, in order: what the
// init carries out, none of the narration. The native init reads it
// through the KL_OP_WIRE macro that internal/gen writes from OpWire.
var opWire = []wireField[Op]{
	{WireField{"kind", "u32"}, func(w *wire, op *Op) { w.u32(uint32(op.Kind)) }, func(r *reader, op *Op) { op.Kind = OpKind(r.u32()) }},
	{WireField{"flags", "u64"}, func(w *wire, op *Op) { w.u64(op.Flags) }, func(r *reader, op *Op) { op.Flags = r.u64() }},
	{WireField{"mkdir", "u32"}, func(w *wire, op *Op) { w.u32(op.Mkdir) }, func(r *reader, op *Op) { op.Mkdir = r.u32() }},
	{WireField{"touch", "u32"}, func(w *wire, op *Op) { w.u32(b2u(op.Touch)) }, func(r *reader, op *Op) { op.Touch = r.u32() != 0 }},
	{WireField{"contained", "u32"}, func(w *wire, op *Op) { w.u32(b2u(op.Contained)) }, func(r *reader, op *Op) { op.Contained = r.u32() != 0 }},
	{WireField{"fd", "i32"}, func(w *wire, op *Op) { w.i32(op.FD) }, func(r *reader, op *Op) { op.FD = r.i32() }},
	{WireField{"skip", "i32"}, func(w *wire, op *Op) { w.i32(op.Skip) }, func(r *reader, op *Op) { op.Skip = r.i32() }},
	{WireField{"keep", "u64"}, func(w *wire, op *Op) { w.u64(op.Keep) }, func(r *reader, op *Op) { op.Keep = r.u64() }},
	{WireField{"last", "i32"}, func(w *wire, op *Op) { w.i32(op.Last) }, func(r *reader, op *Op) { op.Last = r.i32() }},
	{WireField{"path", "str"}, func(w *wire, op *Op) { w.str(op.Path) }, func(r *reader, op *Op) { op.Path = r.str() }},
	{WireField{"source", "str"}, func(w *wire, op *Op) { w.str(op.Source) }, func(r *reader, op *Op) { op.Source = r.str() }},
	{WireField{"fstype", "str"}, func(w *wire, op *Op) { w.str(op.FSType) }, func(r *reader, op *Op) { op.FSType = r.str() }},
	{WireField{"data", "str"}, func(w *wire, op *Op) { w.str(op.Data) }, func(r *reader, op *Op) { op.Data = r.str() }},
	{WireField{"label", "str"}, func(w *wire, op *Op) { w.str(op.Label) }, func(r *reader, op *Op) { op.Label = r.str() }},
	{WireField{"filter", "bytes"}, func(w *wire, op *Op) { w.bytes(op.Filter) }, func(r *reader, op *Op) { op.Filter = r.bytes() }},
}

// MaxOps bounds the number of steps either init accepts (protocol.h has
// it as MAX_OPS).
const MaxOps = 4096

// PlanWire lists the plan header's fields in the order of the binary form.
func PlanWire() []WireField { return fieldsOf(planWire) }

// OpWire lists a step's fields in the order of the binary form.
func OpWire() []WireField { return fieldsOf(opWire) }

func fieldsOf[T any](fs []wireField[T]) []WireField {
	out := make([]WireField, len(fs))
	for i, f := range fs {
		out[i] = f.WireField
	}
	return out
}

// Marshal is what the parent writes on FDConfig: ProtocolLine, then the
// plan in its binary form.
func (p *Plan) Marshal() ([]byte, error) {
	w := &wire{b: append(make([]byte, 0, p.wireSize()), ProtocolLine...)}
	for _, f := range planWire {
		f.put(w, p)
	}
	w.u32(uint32(len(p.Ops)))
	for i := range p.Ops {
		for _, f := range opWire {
			f.put(w, &p.Ops[i])
		}
	}
	if w.nul != "" {
		return nil, fmt.Errorf("%q holds a NUL byte, which no argument, variable or path can", w.nul)
	}
	return w.b, nil
}

// wireSize is about what Marshal writes, to allocate once.
func (p *Plan) wireSize() int {
	n := len(ProtocolLine) + 64 + len(p.Root)
	for _, ss := range [][]string{p.Args, p.Env} {
		for _, s := range ss {
			n += len(s) + 1
		}
	}
	for i := range p.Ops {
		op := &p.Ops[i]
		n += 64 + len(op.Path) + len(op.Source) + len(op.FSType) + len(op.Data) + len(op.Label) + len(op.Filter)
	}
	return n
}

// UnmarshalPlan reads what Marshal wrote.
func UnmarshalPlan(b []byte) (*Plan, error) {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	if string(line)+"\n" != ProtocolLine {
		return nil, protocolMismatch(line)
	}
	r := &reader{b: rest}
	p := &Plan{}
	for _, f := range planWire {
		f.get(r, p)
	}
	n := r.u32()
	if n > MaxOps {
		return nil, fmt.Errorf("a plan of %d steps; the most an init takes is %d", n, MaxOps)
	}
	p.Ops = make([]Op, n)
	for i := range p.Ops {
		for _, f := range opWire {
			f.get(r, &p.Ops[i])
		}
	}
	switch {
	case r.short:
		return nil, errors.New("the plan is cut short")
	case len(r.b) > 0:
		return nil, fmt.Errorf("%d bytes after the plan's last step", len(r.b))
	case len(p.Args) == 0 && !p.Hold:
		return nil, errors.New("the plan has no command")
	}
	return p, nil
}

// MismatchError is a plan that opens with another protocol's line, or
// with none.
type MismatchError struct{ Theirs int } // 0: not from kcna-lab

func (e *MismatchError) Error() string {
	if e.Theirs == 0 {
		return "it does not open with the protocol version: it is not from kcna-lab"
	}
	return fmt.Sprintf("it speaks protocol %d, this init %d: kcna-lab and its init are from different builds", e.Theirs, ProtocolVersion)
}

// protocolMismatch reads the version in an opening line that is not
// ProtocolLine.
func protocolMismatch(line []byte) error {
	digits, ok := strings.CutPrefix(string(line), `{"protocol":`)
	if !ok {
		return &MismatchError{}
	}
	v, _ := strconv.Atoi(digits[:len(digits)-len(strings.TrimLeft(digits, "0123456789"))])
	return &MismatchError{Theirs: v}
}

func (p *Plan) flags() uint32 {
	var f uint32
	for _, b := range []struct {
		set bool
		bit uint32
	}{{p.Native, PlanNative}, {p.Tty, PlanTty}, {p.Hold, PlanHold}, {p.Escape, PlanEscape}} {
		if b.set {
			f |= b.bit
		}
	}
	return f
}

func (p *Plan) setFlags(f uint32) {
	p.Native, p.Tty, p.Hold, p.Escape = f&PlanNative != 0, f&PlanTty != 0, f&PlanHold != 0, f&PlanEscape != 0
}

type wire struct {
	b   []byte
	nul string // a string that held a NUL byte
}

func (w *wire) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *wire) i32(v int)    { w.u32(uint32(int32(v))) }
func (w *wire) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }

func (w *wire) str(s string) {
	if strings.IndexByte(s, 0) >= 0 && w.nul == "" {
		w.nul = s
	}
	w.b = append(append(w.b, s...), 0)
}

func (w *wire) strs(ss []string) {
	w.u32(uint32(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

func (w *wire) bytes(b []byte) {
	w.u32(uint32(len(b)))
	w.b = append(w.b, b...)
}

// reader walks the binary form; past its end it reads zeros and notes
// that it was short.
type reader struct {
	b     []byte
	short bool
}

func (r *reader) take(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.short, r.b = true, nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	if v := r.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) i32() int { return int(int32(r.u32())) }

func (r *reader) u64() uint64 {
	if v := r.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *reader) str() string {
	n := bytes.IndexByte(r.b, 0)
	if n < 0 {
		r.take(-1)
		return ""
	}
	return string(r.take(n + 1)[:n])
}

func (r *reader) strs() []string {
	n := r.u32()
	if int64(n) > int64(len(r.b)) { // each string takes at least its NUL
		r.take(-1)
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = r.str()
	}
	return ss
}

func (r *reader) bytes() []byte {
	n := r.u32()
	if n == 0 {
		return nil
	}
	return bytes.Clone(r.take(int(n)))
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
