package image

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Layer is a layer written to the store.
type Layer struct {
	// Digest is the sha256 of the gzip blob: what the manifest names and
	// a registry stores. DiffID is the sha256 of the tar inside: what
	// the config's rootfs lists.
	Digest, DiffID string
	Size           int64
	// Entries counts the tar's entries; Whiteouts are the paths the layer
	// deletes from the layers below, Opaque the directories it empties.
	Entries           int
	Whiteouts, Opaque []string
}

// Descriptor is the layer's entry in a manifest.
func (l Layer) Descriptor() Descriptor {
	return Descriptor{MediaType: MediaLayer, Digest: l.Digest, Size: l.Size}
}

// The OCI layer format's names for deletions: a file ".wh.NAME" deletes
// NAME from the layers below; ".wh..wh..opq" in a directory hides
// everything they have in it.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// layerWriter streams a tar through gzip into a temporary file in the
// layout's blob directory, hashing the tar and the gzip as they pass.
type layerWriter struct {
	s           *Store
	f           *os.File
	tarSum      hash.Hash
	blobSum     hash.Hash
	size        int64
	gz          *gzip.Writer
	tw          *tar.Writer
	owner       func(uid, gid int) (int, int)
	links       map[[2]uint64]string
	layer       Layer
	committed   bool
	dirsWritten map[string]bool
}

// newLayer starts a layer; owner maps a file's host owner to the owner
// recorded in the layer.
func (s *Store) newLayer(owner func(uid, gid int) (int, int)) (*layerWriter, error) {
	f, err := os.CreateTemp(filepath.Join(s.Layout(), "blobs", "sha256"), ".layer-*")
	if err != nil {
		return nil, fmt.Errorf("start a layer: %w", err)
	}
	w := &layerWriter{s: s, f: f, tarSum: sha256.New(), blobSum: sha256.New(), owner: owner, links: map[[2]uint64]string{}, dirsWritten: map[string]bool{}}
	// gzip with no name and no time in its header: the same tar always
	// gives the same blob, and so the same digest.
	w.gz, _ = gzip.NewWriterLevel(io.MultiWriter(f, w.blobSum, countWriter{&w.size}), gzip.DefaultCompression)
	w.tw = tar.NewWriter(io.MultiWriter(w.gz, w.tarSum))
	return w, nil
}

type countWriter struct{ n *int64 }

func (c countWriter) Write(p []byte) (int, error) { *c.n += int64(len(p)); return len(p), nil }

// commit closes the tar and the gzip and moves the blob into the layout
// under its digest.
func (w *layerWriter) commit() (Layer, error) {
	err := w.tw.Close()
	if err == nil {
		err = w.gz.Close()
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		w.discard()
		return Layer{}, fmt.Errorf("write the layer: %w", err)
	}
	w.layer.Digest = "sha256:" + hex.EncodeToString(w.blobSum.Sum(nil))
	w.layer.DiffID = "sha256:" + hex.EncodeToString(w.tarSum.Sum(nil))
	w.layer.Size = w.size
	if err := w.s.putBlobFile(w.f.Name(), w.layer.Digest); err != nil {
		w.discard()
		return Layer{}, fmt.Errorf("store the layer: %w", err)
	}
	w.committed = true
	return w.layer, nil
}

// discard removes an uncommitted layer's temporary file.
func (w *layerWriter) discard() {
	if !w.committed {
		_ = w.f.Close()
		_ = os.Remove(w.f.Name())
	}
}

// addTree adds every file under root (not root itself) to the layer,
// named below prefix. With overlay true, root is an overlayfs upper
// layer: its 0/0 character devices become whiteout files and its opaque
// directories get the opaque marker, as the OCI layer format says.
func (w *layerWriter) addTree(root, prefix string, overlay bool) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		return w.addFile(p, path.Join(prefix, filepath.ToSlash(rel)), overlay)
	})
}

// addParents adds directory entries for the parents of name that this
// layer has not written yet: 0755, root's, at time 0.
func (w *layerWriter) addParents(name string) error {
	var dirs []string
	for d := path.Dir(name); d != "." && d != "/" && d != ""; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	for _, d := range dirs {
		if w.dirsWritten[d] {
			continue
		}
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}
		if err := w.write(hdr, nil); err != nil {
			return err
		}
	}
	return nil
}

// addFile adds the file at host path p as name.
func (w *layerWriter) addFile(p, name string, overlay bool) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if overlay && st != nil && fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0 {
		wh := path.Join(path.Dir(name), whiteoutPrefix+path.Base(name))
		w.layer.Whiteouts = append(w.layer.Whiteouts, "/"+name)
		return w.write(&tar.Header{Typeflag: tar.TypeReg, Name: wh, Mode: 0o600, ModTime: fi.ModTime()}, nil)
	}
	if fi.Mode()&fs.ModeSocket != 0 {
		return nil // a socket is a live endpoint, not content
	}
	var link string
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	hdr.Name = name
	hdr.Uname, hdr.Gname = "", ""
	// No access or change times: they differ on every read, and a layer
	// must hash the same for the same content.
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if st != nil {
		hdr.Uid, hdr.Gid = w.owner(int(st.Uid), int(st.Gid))
		if fi.Mode().IsRegular() && st.Nlink > 1 {
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := w.links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				return w.write(hdr, nil)
			}
			w.links[key] = name
		}
	}
	if fi.IsDir() {
		hdr.Name += "/"
		if err := w.write(hdr, nil); err != nil {
			return err
		}
		if overlay && isOpaque(p) {
			w.layer.Opaque = append(w.layer.Opaque, "/"+name)
			return w.write(&tar.Header{Typeflag: tar.TypeReg, Name: path.Join(name, opaqueMarker), Mode: 0o600, ModTime: fi.ModTime()}, nil)
		}
		return nil
	}
	if !fi.Mode().IsRegular() {
		return w.write(hdr, nil)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return w.write(hdr, f)
}

// write adds one entry.
func (w *layerWriter) write(hdr *tar.Header, body io.Reader) error {
	if err := w.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("tar %s: %w", hdr.Name, err)
	}
	if body != nil {
		n, err := io.Copy(w.tw, body)
		if err != nil {
			return fmt.Errorf("tar %s: %w", hdr.Name, err)
		}
		if n != hdr.Size {
			return fmt.Errorf("tar %s: the file changed size while it was read (%d bytes, then %d)", hdr.Name, hdr.Size, n)
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		w.dirsWritten[strings.TrimSuffix(hdr.Name, "/")] = true
	}
	w.layer.Entries++
	return nil
}

// isOpaque reports overlayfs's mark on a directory that hides the layers
// below it: trusted.overlay.opaque, or user.overlay.opaque on a mount
// made in a user namespace. Only "y" means opaque.
func isOpaque(p string) bool {
	buf := make([]byte, 2)
	for _, attr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Lgetxattr(p, attr, buf); err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// treeDigest hashes what a directory tree holds: each path, mode, owner,
// symlink target and file content, in lexical order. It is the content
// digest of COPY's sources in the build cache key.
func treeDigest(root string, withContent bool) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s\x00%o\x00", rel, fi.Mode())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00", t)
		case fi.Mode().IsRegular() && withContent:
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			fmt.Fprintf(h, "%d\x00%d\x00", fi.Size(), fi.ModTime().UnixNano())
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
