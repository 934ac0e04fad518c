package initproc

import (
	"encoding/binary"
	"encoding/json"
	"strings"
)

// NativeMagic opens the plan's binary form, which the native init reads
// (initproc/native/native.c, parse_plan) because it has no JSON parser.
const NativeMagic = "KLN" // with its NUL, four bytes

// Marshal is what the parent writes on FDConfig: the config as one line
// of JSON, for the Go init, then the command and the plan in the native
// init's binary form.
func (c *Config) Marshal() ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	return append(b, c.nativeForm()...), nil
}

// nativeForm lays out the command and the plan in little-endian fields,
// NUL-terminated strings and, for a seccomp program, counted bytes. A
// string with a NUL of its own cannot be carried so; the plan then says
// it is not for the native init.
func (c *Config) nativeForm() []byte {
	w := &wire{}
	native := c.Plan != nil && c.Plan.Native
	w.str(NativeMagic)
	w.u32(ProtocolVersion)
	at := len(w.b)
	w.u32(0) // native, set below
	w.strs(c.Args)
	w.strs(c.Env)
	var ops []Op
	if c.Plan != nil {
		w.str(c.Plan.Root)
		ops = c.Plan.Ops
	} else {
		w.str("")
	}
	w.u32(uint32(len(ops)))
	for i := range ops {
		for _, f := range opWire {
			f.put(w, &ops[i])
		}
	}
	if native && !w.nul {
		binary.LittleEndian.PutUint32(w.b[at:], 1)
	}
	return w.b
}

// WireField is one field of a step's binary form: Name is the member of
// the native init's struct op that holds it, Type how it is written (u32,
// i32, u64, str: NUL-terminated, bytes: counted).
type WireField struct{ Name, Type string }

// opWire is a step's binary form, field by field, in order: nativeForm
// writes it, and the native init's parse_plan reads it through the
// KL_OP_WIRE macro that internal/gen writes from OpWire.
var opWire = []struct {
	WireField
	put func(*wire, *Op)
}{
	{WireField{"kind", "u32"}, func(w *wire, op *Op) { w.u32(uint32(op.Kind)) }},
	{WireField{"flags", "u64"}, func(w *wire, op *Op) { w.u64(op.Flags) }},
	{WireField{"mkdir", "u32"}, func(w *wire, op *Op) { w.u32(op.Mkdir) }},
	{WireField{"touch", "u32"}, func(w *wire, op *Op) { w.u32(b2u(op.Touch)) }},
	{WireField{"contained", "u32"}, func(w *wire, op *Op) { w.u32(b2u(op.Contained)) }},
	{WireField{"fd", "i32"}, func(w *wire, op *Op) { w.u32(uint32(int32(op.FD))) }},
	{WireField{"skip", "i32"}, func(w *wire, op *Op) { w.u32(uint32(int32(op.Skip))) }},
	{WireField{"keep", "u64"}, func(w *wire, op *Op) { w.u64(op.Keep) }},
	{WireField{"last", "i32"}, func(w *wire, op *Op) { w.u32(uint32(int32(op.Last))) }},
	{WireField{"action", "str"}, func(w *wire, op *Op) { w.str(op.Action) }},
	{WireField{"shell", "str"}, func(w *wire, op *Op) { w.str(op.Shell) }},
	{WireField{"alt_action", "str"}, func(w *wire, op *Op) { w.str(op.AltAction) }},
	{WireField{"alt_shell", "str"}, func(w *wire, op *Op) { w.str(op.AltShell) }},
	{WireField{"path", "str"}, func(w *wire, op *Op) { w.str(op.Path) }},
	{WireField{"source", "str"}, func(w *wire, op *Op) { w.str(op.Source) }},
	{WireField{"fstype", "str"}, func(w *wire, op *Op) { w.str(op.FSType) }},
	{WireField{"data", "str"}, func(w *wire, op *Op) { w.str(op.Data) }},
	{WireField{"label", "str"}, func(w *wire, op *Op) { w.str(op.Label) }},
	{WireField{"text", "str"}, func(w *wire, op *Op) { w.str(op.Text) }},
	{WireField{"filter", "bytes"}, func(w *wire, op *Op) { w.bytes(op.Filter) }},
}

// OpWire lists a step's fields in the order of its binary form.
func OpWire() []WireField {
	fs := make([]WireField, len(opWire))
	for i, f := range opWire {
		fs[i] = f.WireField
	}
	return fs
}

type wire struct {
	b   []byte
	nul bool // a string held a NUL byte
}

func (w *wire) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *wire) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }

func (w *wire) str(s string) {
	if strings.IndexByte(s, 0) >= 0 {
		w.nul = true
	}
	w.b = append(append(w.b, s...), 0)
}

// bytes is a length, then as many bytes, which may hold NULs.
func (w *wire) bytes(b []byte) {
	w.u32(uint32(len(b)))
	w.b = append(w.b, b...)
}

func (w *wire) strs(ss []string) {
	w.u32(uint32(len(ss)))
	for _, s := range ss {
		w.str(s)
	}
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
