package image

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// idMap is how the owners in a layer relate to owners on the host for a
// sandbox with the given isolation: the same (as root, no user
// namespace), shifted by sandbox.RootMapBase (as root, with one), or all
// the learner's own uid (rootless, where only that uid is mapped, to 0).
type idMap struct {
	rootless bool
	shift    int
	uid, gid int
}

// mapFor is the idMap of a sandbox isolated in ns (nil: the default).
func mapFor(ns []sandbox.Namespace) idMap {
	if ns == nil {
		ns = sandbox.DefaultIsolation()
	}
	if os.Geteuid() != 0 {
		return idMap{rootless: true, uid: os.Geteuid(), gid: os.Getegid()}
	}
	if slices.Contains(ns, sandbox.NSUser) {
		return idMap{shift: sandbox.RootMapBase}
	}
	return idMap{}
}

// key names the unpacked copies made for this map.
func (m idMap) key() string {
	switch {
	case m.rootless:
		return fmt.Sprintf("rootless%d", m.uid)
	case m.shift != 0:
		return fmt.Sprintf("userns%d", m.shift)
	}
	return "host"
}

// toImage maps a host owner to the layer's.
func (m idMap) toImage(uid, gid int) (int, int) {
	if m.rootless {
		if uid == m.uid {
			uid = 0
		}
		if gid == m.gid {
			gid = 0
		}
		return uid, gid
	}
	back := func(id int) int {
		if id >= m.shift && id < m.shift+65536 {
			return id - m.shift
		}
		return id
	}
	return back(uid), back(gid)
}

// opaqueXattr is the attribute that marks an opaque directory in a lower
// layer: overlayfs mounted by the host's root reads trusted.overlay.*; a
// rootless sandbox's, mounted in a user namespace with userxattr, reads
// user.overlay.*.
func (m idMap) opaqueXattr() string {
	if m.rootless {
		return "user.overlay.opaque"
	}
	return "trusted.overlay.opaque"
}

// Unpack makes the layer a directory an overlay can stack as a lower,
// once per layer and id map: files owned as the sandbox's root sees them,
// whiteout files turned into overlayfs's 0/0 character devices, opaque
// markers into its xattr. It unpacks into a temporary directory and
// renames it into place, so a crash never leaves half a layer.
func (s *Store) unpack(l Descriptor, m idMap, sink event.Sink) (string, error) {
	final := filepath.Join(s.Dir, "unpacked", strings.TrimPrefix(l.Digest, "sha256:")+"-"+m.key())
	if fi, err := os.Stat(final); err == nil && fi.IsDir() {
		return final, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.Dir, "unpacked"), ".unpack-*")
	if err != nil {
		return "", err
	}
	defer func() { _ = removeTree(tmp) }()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	short := ShortDigest(l.Digest)
	err = event.Step(sink, fmt.Sprintf("gunzip | untar(%s) -> %s", short, final),
		fmt.Sprintf("mkdir %s && tar -xzf %s -C %s", final, s.BlobPath(l.Digest), final),
		func() error { return s.extract(l, tmp, m) })
	if err != nil {
		return "", fmt.Errorf("unpack layer %s: %w", l.Digest, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		if fi, serr := os.Stat(final); serr == nil && fi.IsDir() {
			return final, nil // another run unpacked it first
		}
		return "", err
	}
	return final, nil
}

// extract reads the layer's blob, checking its digest, into dir.
func (s *Store) extract(l Descriptor, dir string, m idMap) error {
	f, err := os.Open(s.BlobPath(l.Digest))
	if err != nil {
		return err
	}
	defer f.Close()
	sum := sha256.New()
	gz, err := gzip.NewReader(io.TeeReader(f, sum))
	if err != nil {
		return fmt.Errorf("not a gzip stream: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	x := &extractor{root: root, m: m}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	// Read to the end so that the digest covers the whole blob.
	if _, err := io.Copy(io.Discard, io.TeeReader(f, sum)); err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(sum.Sum(nil)); got != l.Digest {
		return fmt.Errorf("the blob hashes to %s, not %s: it is corrupt", got, l.Digest)
	}
	return x.finish()
}

// extractor writes tar entries under root, which keeps every path inside.
type extractor struct {
	root *os.Root
	m    idMap
	dirs []*tar.Header // modes and times, set last: a 0555 dir must still be filled
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
	if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
		return fmt.Errorf("tar entry %q points outside the layer", hdr.Name)
	}
	if name == "." {
		return nil
	}
	dir, base := path.Split(name)
	if dir != "" {
		if err := x.root.MkdirAll(strings.TrimSuffix(dir, "/"), 0o755); err != nil {
			return err
		}
	}
	switch {
	case base == opaqueMarker:
		return x.setOpaque(strings.TrimSuffix(dir, "/"))
	case strings.HasPrefix(base, whiteoutPrefix):
		return x.whiteout(dir + strings.TrimPrefix(base, whiteoutPrefix))
	}
	mode := fs.FileMode(hdr.Mode) & fs.ModePerm
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := x.root.MkdirAll(name, 0o755); err != nil {
			return err
		}
		h := *hdr
		h.Name = name
		x.dirs = append(x.dirs, &h)
		return x.chown(name, hdr)
	case tar.TypeReg:
		_ = x.root.RemoveAll(name)
		f, err := x.root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, r); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := x.chown(name, hdr); err != nil {
			return err
		}
		// After chown, which clears set-user-ID bits.
		if err := x.root.Chmod(name, mode|setBits(hdr.Mode)); err != nil {
			return err
		}
		return x.root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	case tar.TypeSymlink:
		_ = x.root.RemoveAll(name)
		if err := x.root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		return x.chown(name, hdr)
	case tar.TypeLink:
		target := path.Clean(strings.TrimPrefix(hdr.Linkname, "./"))
		if path.IsAbs(target) || strings.HasPrefix(target, "../") {
			return fmt.Errorf("hard link %q points outside the layer", hdr.Name)
		}
		_ = x.root.RemoveAll(name)
		return x.root.Link(target, name)
	case tar.TypeFifo:
		return x.mknod(name, unix.S_IFIFO|uint32(mode), 0)
	}
	return nil // devices: a container gets its /dev from the runtime, not its image
}

// setBits turns the tar mode's set-ID and sticky bits into Go's.
func setBits(m int64) fs.FileMode {
	var out fs.FileMode
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}

// whiteout replaces a ".wh.NAME" entry with what overlayfs reads as a
// deletion: a character device 0/0 called NAME. Unprivileged users may
// make this one device (Linux 5.8+).
func (x *extractor) whiteout(name string) error {
	_ = x.root.RemoveAll(name)
	return x.mknod(name, unix.S_IFCHR, 0)
}

func (x *extractor) mknod(name string, mode uint32, dev int) error {
	d, err := x.root.Open(path.Dir(name))
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Mknodat(int(d.Fd()), path.Base(name), mode, dev); err != nil {
		return fmt.Errorf("mknod %s: %w", name, err)
	}
	if x.m.rootless {
		return nil
	}
	uid, gid := x.m.shift, x.m.shift
	return unix.Fchownat(int(d.Fd()), path.Base(name), uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

// setOpaque marks dir opaque for overlayfs.
func (x *extractor) setOpaque(dir string) error {
	if dir == "" {
		dir = "."
	}
	d, err := x.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Fsetxattr(int(d.Fd()), x.m.opaqueXattr(), []byte("y"), 0); err != nil {
		return fmt.Errorf("mark %s opaque (setxattr %s): %w", dir, x.m.opaqueXattr(), err)
	}
	return nil
}

// chown gives the file its owner as the sandbox's root sees it; rootless,
// every file stays the learner's, which is root inside.
func (x *extractor) chown(name string, hdr *tar.Header) error {
	if x.m.rootless {
		return nil
	}
	return x.root.Lchown(name, hdr.Uid+x.m.shift, hdr.Gid+x.m.shift)
}

// finish sets directories' modes and times, deepest first.
func (x *extractor) finish() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		h := x.dirs[i]
		if err := x.root.Chmod(h.Name, fs.FileMode(h.Mode)&fs.ModePerm|setBits(h.Mode)); err != nil {
			return err
		}
		if err := x.root.Chtimes(h.Name, time.Time{}, h.ModTime); err != nil {
			return err
		}
	}
	return nil
}

// removeTree deletes dir even where a 0555 directory would stop it.
func removeTree(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// ShortDigest is a digest cut to 12 hex digits, as docker prints them.
func ShortDigest(d string) string {
	hexs := strings.TrimPrefix(d, "sha256:")
	if len(hexs) > 12 {
		hexs = hexs[:12]
	}
	return hexs
}
