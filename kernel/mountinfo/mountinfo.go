// Package mountinfo reads /proc/PID/mountinfo, the kernel's list of the
// mounts a process sees, into one record per mount. The sandbox, its
// cleanup, the cgroup and overlay packages and the lessons' checks all
// ask the kernel what is mounted; they read it here, one way.
package mountinfo

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Mount is one line of mountinfo:
//
//	ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
type Mount struct {
	Device string // MAJ:MIN of the filesystem
	Root   string // the directory of the filesystem mounted here (a bind mount's source)
	Point  string // where it is mounted
	FSType string
	Source string
	// SuperOptions are the filesystem's own options (lowerdir=... for an
	// overlay, the controllers for a v1 cgroup hierarchy).
	SuperOptions string
}

// Read parses the mountinfo file at path, e.g. /proc/self/mountinfo or
// /proc/PID/mountinfo for what a sandbox's process sees.
func Read(path string) ([]Mount, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ms, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return ms, nil
}

// ReadUnder is Under(Read(path), dir), parsing only the lines that
// name dir: a sandbox's cleanup asks what is mounted below one directory
// of its own, and need not parse every mount of the host to learn that.
func ReadUnder(path, dir string) ([]Mount, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if dir != "/" {
		// A mount at or below dir has dir, as mountinfo escapes it, in its
		// line; a line that does not is parsed for nothing.
		data = keepLines(data, []byte(escape(dir)))
	}
	ms, err := Parse(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return Under(ms, dir), nil
}

// Parse reads mountinfo lines; a line it cannot read is skipped.
func Parse(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	// An overlay's line holds every lower layer's path; the buffer grows
	// to hold it, from a size most lines fit.
	sc.Buffer(make([]byte, 0, 4<<10), 1<<20)
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		out = append(out, Mount{
			Device: f[2], Root: Unescape(f[3]), Point: Unescape(f[4]),
			FSType: g[0], Source: Unescape(g[1]), SuperOptions: Unescape(g[2]),
		})
	}
	return out, sc.Err()
}

// Under keeps the mounts at or below dir.
func Under(ms []Mount, dir string) []Mount {
	var out []Mount
	for _, m := range ms {
		if Within(dir, m.Point) {
			out = append(out, m)
		}
	}
	return out
}

// Within reports whether p is dir or below it.
func Within(dir, p string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// keepLines is the lines of data that contain sub.
func keepLines(data, sub []byte) []byte {
	var out []byte
	for line := range bytes.Lines(data) {
		if bytes.Contains(line, sub) {
			out = append(out, line...)
		}
	}
	return out
}

// escape writes p as mountinfo does: the kernel escapes a space, a tab,
// a newline and a backslash in a path as \ooo (show_mountinfo's mangle).
func escape(p string) string {
	if !strings.ContainsAny(p, " \t\n\\") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case ' ', '\t', '\n', '\\':
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Unescape undoes mountinfo's octal escapes (\040 for a space, \011 for a
// tab, \012 for a newline, \134 for a backslash).
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
