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
	for _, op := range ops {
		w.u32(uint32(op.Kind))
		w.u64(op.Flags)
		w.u32(op.Mkdir)
		w.u32(b2u(op.Touch))
		w.u32(b2u(op.Contained))
		w.u32(uint32(int32(op.FD)))
		w.u32(uint32(int32(op.Skip)))
		w.u64(op.Keep)
		w.u32(uint32(int32(op.Last)))
		for _, s := range []string{op.Action, op.Shell, op.AltAction, op.AltShell, op.Path, op.Source, op.FSType, op.Data, op.Label, op.Text} {
			w.str(s)
		}
		w.bytes(op.Filter)
	}
	if native && !w.nul {
		binary.LittleEndian.PutUint32(w.b[at:], 1)
	}
	return w.b
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
