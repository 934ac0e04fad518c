package rootfs

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// Limits that keep a hostile or broken archive from filling the disk or
// spinning forever. A learning rootfs is a few megabytes; these are generous.
const (
	maxExtractBytes   = 2 << 30 // total size of file data, 2 GiB
	maxExtractEntries = 200000
)

// Extract unpacks a tar stream into dir, which must exist. A gzip-compressed
// stream is detected by its magic bytes (1f 8b), whatever the file is called.
//
// The archive is untrusted: Extract refuses absolute paths, paths with a ".."
// element, writes through a symlink (whether that symlink came from the
// archive or was already in dir), hardlinks that leave dir or go through a
// symlink, and entry types other than directories, regular files, symlinks
// and hardlinks. Device nodes and FIFOs are skipped, not created. Symlinks are
// created exactly as written, pointing anywhere, but are never followed while
// extracting. Files keep their permission bits except setuid and setgid, and
// belong to the extracting user, not to the uid/gid in the headers.
func Extract(r io.Reader, dir string) error {
	return ExtractWithEvents(r, dir, event.Discard)
}

// ExtractWithEvents is Extract, narrating to sink what it skipped (device
// nodes, FIFOs) so the learner knows why they are missing.
func ExtractWithEvents(r io.Reader, dir string, sink event.Sink) error {
	return extract(r, dir, sink, limits{entries: maxExtractEntries, bytes: maxExtractBytes})
}

// limits bound one extraction; tests and the fuzzer use small ones.
type limits struct {
	entries int
	bytes   int64
}

func extract(r io.Reader, dir string, sink event.Sink, lim limits) error {
	// Every file operation goes through an os.Root: the kernel (openat2 with
	// RESOLVE_BENEATH where available) then guarantees nothing lands outside
	// dir even if the checks below had a bug. The checks are still needed:
	// os.Root follows symlinks that stay inside dir, and we refuse those too.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("extract into %s: %w", dir, err)
	}
	defer root.Close()

	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("extract into %s: reading gzip header: %w", dir, err)
		}
		defer zr.Close()
		src = zr
	}

	x := &extractor{root: root, maxBytes: lim.bytes}
	tr := tar.NewReader(src)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("extract into %s: reading tar archive after %d entries: %w", dir, n, err)
		}
		if n >= lim.entries {
			return refuse(hdr.Name, "archive has more than %d entries", lim.entries)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
	if err := x.finish(); err != nil {
		return err
	}
	if len(x.skipped) > 0 {
		names := x.skipped
		more := ""
		if len(names) > 5 {
			more = fmt.Sprintf(" and %d more", len(names)-5)
			names = names[:5]
		}
		event.Narrate(sink, fmt.Sprintf("Skipped %d device node(s)/FIFO(s) from the archive (%s%s): "+
			"creating device nodes needs privileges a sandbox should not use; the sandbox sets up /dev itself.",
			len(x.skipped), strings.Join(names, ", "), more))
	}
	return nil
}

// extractor holds the state of one Extract call.
type extractor struct {
	root     *os.Root
	maxBytes int64
	total    int64
	dirs     []dirMeta // applied at the end, see finish
	skipped  []string
}

// dirMeta is a directory's mode and mtime from its header. They are applied
// after all entries: a read-only directory mode applied early would stop its
// own children from being created, and creating children changes the mtime.
type dirMeta struct {
	rel   string
	mode  os.FileMode
	mtime time.Time
}

// refuse builds the error for an entry we will not extract.
func refuse(name, format string, args ...any) error {
	return fmt.Errorf("tar entry %q: %s; refusing to extract", name, fmt.Sprintf(format, args...))
}

func (x *extractor) entry(hdr *tar.Header, body io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // PAX global metadata, not a file
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return refuse(hdr.Name, "%v", err)
	}
	switch hdr.Typeflag {
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		x.skipped = append(x.skipped, hdr.Name)
		return nil
	case tar.TypeDir, tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse, tar.TypeSymlink, tar.TypeLink:
	default:
		return refuse(hdr.Name, "unsupported entry type %q (only directories, regular files, symlinks and hardlinks are extracted)", string(hdr.Typeflag))
	}
	if rel == "" {
		// The archive's "./": dir itself, which the caller owns. Nothing to create.
		if hdr.Typeflag == tar.TypeDir {
			return nil
		}
		return refuse(hdr.Name, "names the target directory itself but is not a directory")
	}
	if err := x.parents(hdr.Name, rel); err != nil {
		return err
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.dir(hdr, rel)
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return refuse(hdr.Name, "symlink has an empty target")
		}
		if err := x.clear(hdr.Name, rel); err != nil {
			return err
		}
		// The target is stored verbatim, even if absolute or outside dir:
		// inside the sandbox it resolves against the new root. We never
		// follow it here.
		if err := x.root.Symlink(hdr.Linkname, rel); err != nil {
			return fmt.Errorf("tar entry %q: creating symlink: %w", hdr.Name, err)
		}
		return nil
	case tar.TypeLink:
		return x.hardlink(hdr, rel)
	default:
		return x.file(hdr, rel, body)
	}
}

// cleanName turns an archive path into a slash-separated path relative to
// the target, or explains why it must not be extracted. "" is the target itself.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("path is absolute")
	}
	if strings.ContainsRune(name, 0) {
		return "", errors.New("path contains a NUL byte")
	}
	var parts []string
	for _, p := range strings.Split(name, "/") {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", errors.New("path escapes the root (contains ..)")
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "/"), nil
}

// parents makes sure every directory above rel is a real directory inside
// the target (creating missing ones, as tar does) and none is a symlink:
// writing through a symlink is how archives escape the directory they are
// unpacked into ("evil -> /etc" followed by "evil/passwd").
func (x *extractor) parents(name, rel string) error {
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		fi, err := x.root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := x.root.Mkdir(p, 0o755); err != nil {
				return fmt.Errorf("tar entry %q: creating parent directory %q: %w", name, p, err)
			}
		case err != nil:
			return fmt.Errorf("tar entry %q: checking parent %q: %w", name, p, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return refuse(name, "parent %q is a symlink and writing through it could escape the root", p)
		case !fi.IsDir():
			return refuse(name, "parent %q is not a directory", p)
		}
	}
	return nil
}

// clear removes what is at rel so a file, symlink or hardlink can be created
// there, as tar does when an archive repeats a name. It never removes a
// directory: that would silently drop earlier entries.
func (x *extractor) clear(name, rel string) error {
	fi, err := x.root.Lstat(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tar entry %q: %w", name, err)
	}
	if fi.IsDir() {
		return refuse(name, "a directory with this name already exists")
	}
	// Remove does not follow a symlink: it removes the link itself.
	if err := x.root.Remove(rel); err != nil {
		return fmt.Errorf("tar entry %q: replacing existing file: %w", name, err)
	}
	return nil
}

func (x *extractor) dir(hdr *tar.Header, rel string) error {
	fi, err := x.root.Lstat(rel)
	switch {
	case err == nil && fi.IsDir():
		// Already there (created as a parent or repeated): just record the mode.
	case err == nil:
		// A file or symlink is in the way. Removing it never follows it.
		if err := x.root.Remove(rel); err != nil {
			return fmt.Errorf("tar entry %q: replacing existing file with a directory: %w", hdr.Name, err)
		}
		fallthrough
	case errors.Is(err, fs.ErrNotExist):
		// 0755 while extracting so children can be created; the header's
		// mode is applied in finish.
		if err := x.root.Mkdir(rel, 0o755); err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
	default:
		return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
	}
	x.dirs = append(x.dirs, dirMeta{rel: rel, mode: headerMode(hdr), mtime: hdr.ModTime})
	return nil
}

func (x *extractor) file(hdr *tar.Header, rel string, body io.Reader) error {
	if hdr.Size < 0 {
		return refuse(hdr.Name, "negative size %d", hdr.Size)
	}
	x.total += hdr.Size
	if x.total > x.maxBytes {
		return refuse(hdr.Name, "archive holds more than %s of file data", sizeString(x.maxBytes))
	}
	if err := x.clear(hdr.Name, rel); err != nil {
		return err
	}
	// O_EXCL|O_NOFOLLOW: if anything appeared at rel since clear, fail
	// rather than write through it.
	f, err := x.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
	}
	_, err = io.Copy(f, body)
	if err == nil {
		// fchmod on the open descriptor: exact mode regardless of umask.
		err = f.Chmod(headerMode(hdr))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("tar entry %q: writing file: %w", hdr.Name, err)
	}
	if !hdr.ModTime.IsZero() {
		// Best effort: a wrong mtime does not make the rootfs unusable.
		_ = x.root.Chtimes(rel, hdr.ModTime, hdr.ModTime)
	}
	return nil
}

func (x *extractor) hardlink(hdr *tar.Header, rel string) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil {
		return refuse(hdr.Name, "hardlink target %q: %v", hdr.Linkname, err)
	}
	if target == "" {
		return refuse(hdr.Name, "hardlink target %q is the target directory itself", hdr.Linkname)
	}
	if target == rel {
		return refuse(hdr.Name, "hardlink points to itself")
	}
	// Every component of the target, the last one included, must be a real
	// directory or file: a hardlink through a symlink would link a file
	// from wherever the symlink points, possibly outside the root.
	parts := strings.Split(target, "/")
	for i := 1; i <= len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		fi, err := x.root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return refuse(hdr.Name, "hardlink target %q does not exist (it must come earlier in the archive)", hdr.Linkname)
		case err != nil:
			return fmt.Errorf("tar entry %q: checking hardlink target %q: %w", hdr.Name, hdr.Linkname, err)
		case fi.Mode()&fs.ModeSymlink != 0:
			return refuse(hdr.Name, "hardlink target %q goes through symlink %q", hdr.Linkname, p)
		case i < len(parts) && !fi.IsDir():
			return refuse(hdr.Name, "hardlink target %q: %q is not a directory", hdr.Linkname, p)
		case i == len(parts) && !fi.Mode().IsRegular():
			return refuse(hdr.Name, "hardlink target %q is not a regular file", hdr.Linkname)
		}
	}
	if err := x.clear(hdr.Name, rel); err != nil {
		return err
	}
	if err := x.root.Link(target, rel); err != nil {
		return fmt.Errorf("tar entry %q: creating hardlink to %q: %w", hdr.Name, hdr.Linkname, err)
	}
	return nil
}

// finish applies directory modes and mtimes, deepest (latest) first.
func (x *extractor) finish() error {
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		fi, err := x.root.Lstat(d.rel)
		if err != nil || !fi.IsDir() {
			continue // replaced by a later entry
		}
		if err := x.root.Chmod(d.rel, d.mode); err != nil {
			return fmt.Errorf("tar entry %q: setting directory mode: %w", d.rel, err)
		}
		if !d.mtime.IsZero() {
			_ = x.root.Chtimes(d.rel, d.mtime, d.mtime)
		}
	}
	return nil
}

// headerMode keeps an entry's permission bits and sticky bit but drops
// setuid and setgid. The files belong to whoever extracts them, often root
// on the host, so a setuid binary from an untrusted image would hand every
// local user a way to run code as root. A learning tool has no need for that.
func headerMode(hdr *tar.Header) os.FileMode {
	m := os.FileMode(hdr.Mode & 0o777)
	if hdr.Mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// sizeString formats a limit for an error message: "2 GiB", "1 MiB".
func sizeString(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
