//go:build linux

package overlay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Changes lists every entry of the upper layer, a directory before its
// contents and names in byte order, with what it is relative to the lower
// layers beneath it. Reading the layers while mounted is safe; only
// writing to them behind overlayfs's back is not.
func (f *FS) Changes() ([]Change, error) {
	roots, err := f.roots()
	if err != nil {
		return nil, err
	}
	var out []Change
	if err := walk("/", roots, &out); err != nil {
		return nil, fmt.Errorf("overlay changes in %s: %w", f.Upper, err)
	}
	return out, nil
}

// Origin says which layer the merged view's file at p (absolute inside the
// root) comes from, resolving it as overlayfs does: the upper layer first,
// then each lower layer until a whiteout or an opaque directory stops the
// search. Symlinks are followed in the directories leading to p, not in
// its last element. A path the merged view does not show is an error
// matching fs.ErrNotExist.
func (f *FS) Origin(p string) (Origin, error) {
	roots, err := f.roots()
	if err != nil {
		return Origin{}, err
	}
	hits, err := resolve(p, roots)
	if err != nil {
		return Origin{}, fmt.Errorf("overlay origin of %s: %w", p, err)
	}
	return Origin{Layer: hits[0].layer, Path: hits[0].path}, nil
}

// hit is a path found in one layer.
type hit struct {
	layer int    // Upper or an index into Lower
	path  string // on the host
	mode  uint32 // st_mode
}

func (h hit) isDir() bool { return h.mode&unix.S_IFMT == unix.S_IFDIR }

// roots is the root directory of every layer, upper first.
func (f *FS) roots() ([]hit, error) {
	layers := append([]string{f.Upper}, f.Lower...)
	stack := make([]hit, len(layers))
	for i, l := range layers {
		var st unix.Stat_t
		if err := unix.Stat(l, &st); err != nil {
			return nil, fmt.Errorf("overlay layer %s: %w", l, err)
		}
		stack[i] = hit{layer: i - 1, path: l, mode: st.Mode}
		if !stack[i].isDir() {
			return nil, fmt.Errorf("overlay layer %s is not a directory", l)
		}
	}
	return stack, nil
}

// walk appends the changes in the upper directory stack[0] (at dir inside
// the root) and below it. The rest of stack are the lower directories
// merged with it.
func walk(dir string, stack []hit, out *[]Change) error {
	entries, err := os.ReadDir(stack[0].path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		upper := filepath.Join(stack[0].path, name)
		var st unix.Stat_t
		if err := unix.Lstat(upper, &st); err != nil {
			return err
		}
		below, err := lookup(stack[1:], name)
		if err != nil {
			return err
		}
		c := Change{Path: path.Join(dir, name), Kind: Added, Layer: -1}
		if len(below) > 0 {
			c.Layer = below[0].layer
		}
		switch {
		case isWhiteout(&st):
			c.Kind = Whiteout
		case st.Mode&unix.S_IFMT == unix.S_IFDIR && isOpaque(upper):
			c.Kind = Opaque
		case len(below) > 0 && below[0].mode&unix.S_IFMT == st.Mode&unix.S_IFMT:
			c.Kind = CopiedUp
		}
		*out = append(*out, c)
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			merged, err := lookup(stack, name)
			if err != nil {
				return err
			}
			if err := walk(c.Path, merged, out); err != nil {
				return err
			}
		}
	}
	return nil
}

// resolve finds p in the merged view of roots, following symlinks in its
// directories (absolute ones from the merged root, as inside a sandbox).
// It returns the layers that make up what p names: one for a file, the
// merged stack for a directory, top-most first.
func resolve(p string, roots []hit) ([]hit, error) {
	todo := strings.Split(p, "/")
	trail := [][]hit{roots} // the directories walked through, for ".."
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(trail) > 1 {
				trail = trail[:len(trail)-1]
			}
			continue
		}
		hits, err := lookup(trail[len(trail)-1], name)
		if err != nil {
			return nil, err
		}
		if len(hits) == 0 {
			return nil, fs.ErrNotExist
		}
		if rest := strings.Trim(strings.Join(todo, "/"), "/"); rest != "" {
			top := hits[0]
			if top.mode&unix.S_IFMT == unix.S_IFLNK {
				if links++; links > 40 {
					return nil, unix.ELOOP
				}
				target, err := os.Readlink(top.path)
				if err != nil {
					return nil, err
				}
				if strings.HasPrefix(target, "/") {
					trail = trail[:1]
				}
				todo = append(strings.Split(target, "/"), todo...)
				continue
			}
			if !top.isDir() {
				return nil, unix.ENOTDIR
			}
		}
		trail = append(trail, hits)
	}
	return trail[len(trail)-1], nil
}

// lookup finds name in a directory merged from stack (top-most first) the
// way overlayfs does: the top-most entry wins; directories below a
// directory merge with it until an opaque one; a whiteout, or a
// non-directory, ends the search. No hits means the merged view has no
// such name.
func lookup(stack []hit, name string) ([]hit, error) {
	var out []hit
	for _, d := range stack {
		p := filepath.Join(d.path, name)
		var st unix.Stat_t
		err := unix.Lstat(p, &st)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("lstat %s: %w", p, err)
		}
		if isWhiteout(&st) {
			break
		}
		h := hit{layer: d.layer, path: p, mode: st.Mode}
		if !h.isDir() {
			if len(out) == 0 {
				out = append(out, h)
			}
			break
		}
		out = append(out, h)
		if isOpaque(p) {
			break
		}
	}
	return out, nil
}

// isWhiteout reports overlayfs's mark for a deleted file: a character
// device with device number 0/0.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// isOpaque reports a directory that hides the layers below it. The xattr
// is trusted.overlay.opaque, or user.overlay.opaque on a mount made with
// userxattr (unprivileged, in a user namespace). Only "y" means opaque:
// newer kernels use "x" for a directory that merely holds xattr whiteouts.
// Reading trusted.* needs CAP_SYS_ADMIN; without it the kernel answers as
// if there were no such xattr.
func isOpaque(p string) bool {
	buf := make([]byte, 2)
	for _, attr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Lgetxattr(p, attr, buf); err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}
