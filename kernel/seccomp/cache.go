//go:build linux

package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/internal/atomicfile"
)

// Compiled is a profile resolved and compiled for one sandbox: the
// program, and what a call the profile does not name gets.
type Compiled struct {
	Filter *Filter
	// DefaultAction and DefaultErrnoRet are the resolved profile's.
	DefaultAction   specs.LinuxSeccompAction
	DefaultErrnoRet *uint
	// Cached is true when the program came from the cache.
	Cached bool
}

// cacheFormat changes whenever what a cache file holds does.
const cacheFormat = "kcna-lab seccomp cache 2"

// CompileCached is Resolve and Compile, through a cache in dir: both take
// most of a millisecond for Docker's profile, paid by every sandbox
// start, for a result that only changes with what they read. The key is
// all of it: the profile (Docker's default, built into the program; only
// it is cached), the bounding set, the architecture, the kernel's
// release (moby keeps rules by kernel version) and the running program
// itself (device, inode, size and mtime of the executable running, so
// that a new build, with perhaps another compiler, never reads an old
// program, nor an old build still running writes under the new one's key). A
// file is used only if it is this user's, writable by no one else, names
// the key and holds the digest of what it holds; anything else is
// compiled afresh and the file replaced, atomically. A cache that cannot
// be written costs only the time; with dir "" there is none.
func (p *Profile) CompileCached(bounding []string, dir string) (*Compiled, error) {
	if p.body != nil || dir == "" {
		// A profile file of the learner's is compiled every time: it is
		// usually small, and its cache would leave a file per path.
		return p.compile(bounding)
	}
	prog, err := runningProgram()
	if err != nil {
		return p.compile(bounding)
	}
	return p.compileCachedAs(prog, bounding, dir)
}

// program is the running program as the cache tells builds apart: its
// name, and its executable's stat.
type program struct {
	name string
	st   unix.Stat_t
}

// compileCachedAs is CompileCached for the program prog.
func (p *Profile) compileCachedAs(prog program, bounding []string, dir string) (*Compiled, error) {
	key, err := cacheKey(p, bounding, prog)
	if err != nil {
		return p.compile(bounding)
	}
	file := filepath.Join(dir, "seccomp-"+slot(p, bounding, prog)+".json")
	if c, ok := readCache(file, key); ok {
		return c, nil
	}
	c, err := p.compile(bounding)
	if err != nil {
		return nil, err
	}
	_ = writeCache(file, key, c) // the cache only saves time
	return c, nil
}

// compile resolves and compiles without the cache.
func (p *Profile) compile(bounding []string) (*Compiled, error) {
	resolved, err := p.Resolve(bounding)
	if err != nil {
		return nil, err
	}
	f, err := Compile(resolved)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", p.Name, err)
	}
	return &Compiled{Filter: f, DefaultAction: resolved.DefaultAction, DefaultErrnoRet: resolved.DefaultErrnoRet}, nil
}

// cacheKey digests everything Resolve and Compile depend on.
func cacheKey(p *Profile, bounding []string, prog program) (string, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "", err
	}
	// Only Docker's profile is cached, built into the program: the
	// program's identity stands for its bytes.
	h := sha256.New()
	st := prog.st
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%d:%d:%d:%d.%d",
		cacheFormat, p.Name, strings.Join(bounding, ","), runtime.GOARCH, unix.ByteSliceToString(uts.Release[:]),
		st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// runningProgram is the program this process runs. Its stat is not by
// the path os.Executable gives: when a new build has replaced the file
// there, that is the new one, while /proc/self/exe still opens the
// running one.
func runningProgram() (program, error) {
	var prog program
	fd, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return prog, err
	}
	defer unix.Close(fd)
	if err := unix.Fstat(fd, &prog.st); err != nil {
		return prog, err
	}
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return prog, err
	}
	prog.name = filepath.Base(strings.TrimSuffix(exe, " (deleted)"))
	return prog, nil
}

// slot names a profile and bounding set's file, for each program: one
// per pair and program name, whatever the build or kernel, so that new
// builds replace it rather than add. The program's name keeps kcna-lab
// and kcna-lab-full, which alternate as a learner moves between the CLI
// and the course, from replacing each other's file at every turn.
func slot(p *Profile, bounding []string, prog program) string {
	s := sha256.Sum256([]byte(prog.name + "\x00" + p.Name + "\x00" + strings.Join(bounding, ",")))
	return hex.EncodeToString(s[:8])
}

// A cache file is two lines, a JSON line and the program: the key it
// answers, the SHA-256 of the rest, what the learner is told (a
// cacheMeta), then the program as the kernel's sock_filter array
// (Filter.Encode). Binary, not JSON, for the program: decoding its
// thousand-odd instructions from JSON costs more than compiling them.
type cacheMeta struct {
	Flags           uint32
	ABIs            []string
	Native          Summary
	DefaultAction   specs.LinuxSeccompAction
	DefaultErrnoRet *uint
}

// readCache returns the Compiled in file if it is trustworthy and for key.
func readCache(file, key string) (*Compiled, bool) {
	f, err := os.OpenFile(file, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil || int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 || st.Mode&syscall.S_IFMT != syscall.S_IFREG || st.Size > 1<<20 {
		return nil, false // someone else's, writable by others, or no cache file
	}
	b := make([]byte, st.Size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, false
	}
	gotKey, rest, _ := bytes.Cut(b, []byte("\n"))
	sum, payload, _ := bytes.Cut(rest, []byte("\n"))
	digest := sha256.Sum256(payload)
	if string(gotKey) != key || string(sum) != hex.EncodeToString(digest[:]) {
		return nil, false
	}
	meta, prog, _ := bytes.Cut(payload, []byte("\n"))
	var m cacheMeta
	if err := json.Unmarshal(meta, &m); err != nil || len(prog)%8 != 0 {
		return nil, false
	}
	c := &Compiled{
		Filter:        &Filter{Program: decode(prog), Flags: m.Flags, ABIs: m.ABIs, Native: m.Native},
		DefaultAction: m.DefaultAction, DefaultErrnoRet: m.DefaultErrnoRet, Cached: true,
	}
	if !plausible(c.Filter) {
		return nil, false
	}
	return c, true
}

// decode is Filter.Encode backwards.
func decode(b []byte) []bpf.RawInstruction {
	out := make([]bpf.RawInstruction, len(b)/8)
	for i := range out {
		ins := b[8*i : 8*i+8]
		out[i] = bpf.RawInstruction{Op: binary.LittleEndian.Uint16(ins), Jt: ins[2], Jf: ins[3], K: binary.LittleEndian.Uint32(ins[4:])}
	}
	return out
}

// plausible checks the shape of a cached program as the kernel would:
// 1 to BPF_MAXINSNS instructions, the last a return.
func plausible(f *Filter) bool {
	n := len(f.Program)
	const bpfRet = 0x06
	return n > 0 && n <= 4096 && f.Program[n-1].Op&0x07 == bpfRet && len(f.ABIs) > 0
}

// writeCache writes c for key into file, atomically, readable by its
// owner only.
func writeCache(file, key string, c *Compiled) error {
	f := c.Filter
	meta, err := json.Marshal(cacheMeta{Flags: f.Flags, ABIs: f.ABIs, Native: f.Native, DefaultAction: c.DefaultAction, DefaultErrnoRet: c.DefaultErrnoRet})
	if err != nil {
		return err
	}
	payload := append(append(meta, '\n'), f.Encode()...)
	sum := sha256.Sum256(payload)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%s\n", key, hex.EncodeToString(sum[:]))
	b.Write(payload)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return atomicfile.WriteFile(file, b.Bytes(), 0o600)
}
