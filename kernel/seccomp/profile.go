package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	moby "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The --seccomp values that name no file.
const (
	// Default is Docker's default profile, the one every container gets
	// unless told otherwise.
	Default = "default"
	// Unconfined is no filter at all (docker run --security-opt
	// seccomp=unconfined).
	Unconfined = "unconfined"
)

// Profile is a seccomp profile in Docker's JSON format, not yet resolved
// for a sandbox: Docker's default, or one read from a file.
type Profile struct {
	// Name is Default or the file's path.
	Name string
	body []byte // the file; nil for Docker's default
}

// Load reads a --seccomp value: Default (or ""), Unconfined, for which
// it returns nil, or the path of a profile file, which it checks here so
// that a mistake is reported with its line and column before any sandbox
// is built.
func Load(value string) (*Profile, error) {
	switch value {
	case "", Default:
		return &Profile{Name: Default}, nil
	case Unconfined:
		return nil, nil
	}
	body, err := os.ReadFile(value)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile: %w (--seccomp takes default, unconfined or a FILE in Docker's JSON format)", err)
	}
	if err := check(body); err != nil {
		return nil, fmt.Errorf("seccomp profile %s:%w", value, err)
	}
	return &Profile{Name: value, body: body}, nil
}

// posError is a mistake in a profile file at a byte offset; its text
// starts with "LINE:COLUMN: ", or with " " where the offset is unknown
// (-1).
type posError struct {
	body []byte
	off  int64
	msg  string
}

func (e *posError) Error() string {
	if e.off < 0 {
		return " " + e.msg
	}
	off := min(e.off, int64(len(e.body)))
	before := e.body[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := off - int64(bytes.LastIndexByte(before, '\n'))
	return fmt.Sprintf("%d:%d: %s", line, col, e.msg)
}

// check reads a profile file as moby does, but strictly, and says where
// it goes wrong: a JSON syntax error, a value of the wrong type, a field
// Docker's format does not have (moby would ignore a misspelt one
// silently), an action, operator, architecture or flag that does not
// exist.
func check(body []byte) error {
	var p moby.Seccomp
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return decodeError(body, err)
	}
	if _, err := dec.Token(); err == nil {
		return &posError{body, dec.InputOffset(), "more JSON after the profile's closing brace"}
	}
	at := positions(body)
	where := func(key string, err error) error {
		return &posError{body, at.keys[key], key + ": " + err.Error()}
	}
	if p.DefaultAction == "" && len(p.Syscalls) == 0 {
		return &posError{body, 0, "no defaultAction and no syscalls: that filters nothing (Docker would run the container unconfined); say --seccomp unconfined if that is what you want"}
	}
	if _, err := action(p.DefaultAction, p.DefaultErrnoRet); err != nil {
		return where("defaultAction", err)
	}
	if len(p.Architectures) > 0 && len(p.ArchMap) > 0 {
		return where("archMap", errors.New("a profile names its architectures in architectures or in archMap, not both"))
	}
	for _, a := range p.Architectures {
		if err := checkArch(a); err != nil {
			return where("architectures", err)
		}
	}
	for _, m := range p.ArchMap {
		for _, a := range append([]specs.Arch{m.Arch}, m.SubArches...) {
			if err := checkArch(a); err != nil {
				return where("archMap", err)
			}
		}
	}
	if _, err := filterFlags(p.Flags); err != nil {
		return where("flags", err)
	}
	if p.ListenerPath != "" {
		return where("listenerPath", errors.New("a seccomp agent takes calls from SCMP_ACT_NOTIFY rules; kcna-lab has none"))
	}
	for i, sc := range p.Syscalls {
		if err := checkSyscall(sc); err != nil {
			return &posError{body, at.syscalls[i], fmt.Sprintf("syscalls[%d]: %v", i, err)}
		}
	}
	return nil
}

// checkSyscall checks one rule of a profile file.
func checkSyscall(sc *moby.Syscall) error {
	if sc == nil {
		return errors.New("null; a rule is an object with names and an action")
	}
	name := sc.Name //nolint:staticcheck // old profiles still say "name", which moby reads too
	switch {
	case name != "" && len(sc.Names) > 0:
		return errors.New(`both "name" and "names"; use names`)
	case name == "" && len(sc.Names) == 0:
		return errors.New(`no "names": which system calls does the rule apply to?`)
	}
	if _, err := action(sc.Action, sc.ErrnoRet); err != nil {
		return fmt.Errorf("action: %w", err)
	}
	return checkArgs(sc.Args)
}

// checkArch refuses an architecture libseccomp does not know.
func checkArch(a specs.Arch) error {
	known := []specs.Arch{
		specs.ArchX86, specs.ArchX86_64, specs.ArchX32, specs.ArchARM, specs.ArchAARCH64,
		specs.ArchMIPS, specs.ArchMIPS64, specs.ArchMIPS64N32, specs.ArchMIPSEL, specs.ArchMIPSEL64, specs.ArchMIPSEL64N32,
		specs.ArchPPC, specs.ArchPPC64, specs.ArchPPC64LE, specs.ArchS390, specs.ArchS390X,
		specs.ArchPARISC, specs.ArchPARISC64, specs.ArchRISCV64, specs.ArchLOONGARCH64, specs.ArchM68K, specs.ArchSH, specs.ArchSHEB,
	}
	if !slices.Contains(known, a) {
		return fmt.Errorf("%q is not an architecture; names look like SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_AARCH64", a)
	}
	return nil
}

// decodeError says where the JSON decoder stopped, and why, in a
// learner's words.
func decodeError(body []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset is just past the character that is wrong.
		return &posError{body, syn.Offset - 1, "not valid JSON: " + syn.Error()}
	case errors.As(err, &typ):
		return &posError{body, valueStart(body, typ.Offset), fmt.Sprintf("%s: a JSON %s where Docker's format wants %s", jsonPath(typ.Field), typ.Value, typ.Type)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return &posError{body, int64(bytes.Index(body, []byte(field))), "field " + field + " is not in Docker's seccomp format (defaultAction, defaultErrnoRet, architectures, archMap, flags, syscalls; a rule: names, action, errnoRet, args, comment, includes, excludes)"}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &posError{body, int64(len(body)), "the profile ends too early: " + err.Error()}
	}
	return &posError{body, -1, err.Error()} // a minKernel moby could not read says so
}

// valueStart goes back from just past a JSON value to where it starts.
func valueStart(body []byte, end int64) int64 {
	i := min(end, int64(len(body))) - 1
	if i > 0 && body[i] == '"' {
		for i--; i > 0 && (body[i] != '"' || body[i-1] == '\\'); i-- {
		}
		return i
	}
	for i >= 0 && strings.IndexByte(" \t\r\n:,[{", body[i]) < 0 {
		i--
	}
	return i + 1
}

// jsonPath is a decoder's field path without the Go types embedded on
// the way ("syscalls.LinuxSyscall.args" is "syscalls.args").
func jsonPath(field string) string {
	parts := strings.Split(field, ".")
	return strings.Join(slices.DeleteFunc(parts, func(p string) bool { return p != "" && p[0] >= 'A' && p[0] <= 'Z' }), ".")
}

// offsets are where a profile file's top-level keys and its rules start.
type offsets struct {
	keys     map[string]int64
	syscalls []int64
}

// positions finds them, in a file that already decoded: the decoder's
// offset before each token, moved past separators to the token itself.
func positions(body []byte) offsets {
	at := offsets{keys: map[string]int64{}}
	dec := json.NewDecoder(bytes.NewReader(body))
	start := func() int64 {
		off := dec.InputOffset()
		for off < int64(len(body)) && strings.IndexByte(" \t\r\n,:", body[off]) >= 0 {
			off++
		}
		return off
	}
	if _, err := dec.Token(); err != nil { // {
		return at
	}
	for dec.More() {
		off := start()
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return at
		}
		at.keys[key] = off
		if key != "syscalls" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return at
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			continue // null
		}
		for dec.More() {
			at.syscalls = append(at.syscalls, start())
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return at
			}
		}
		if _, err := dec.Token(); err != nil { // ]
			return at
		}
	}
	return at
}
