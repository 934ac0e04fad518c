// Package overlay builds a layered root filesystem the way a container
// runtime builds one from an image: read-only lower layers (the image's
// layers), a writable upper layer (the container's), a work directory the
// kernel needs for atomic copy-up, and the merged view the sandbox uses as
// its root. It also reads back what the kernel did — which files were
// added, copied up, deleted (whiteouts) or replaced (opaque directories),
// and which layer a file in the merged view comes from — from the layer
// directories on disk, so the TUI and lesson checks show the kernel's own
// facts rather than kcna-lab's bookkeeping.
package overlay

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Spec describes an overlay to mount.
type Spec struct {
	// Lower are the read-only layers, top-most first: the order of
	// overlayfs's lowerdir option, the reverse of a Dockerfile's.
	Lower []string
	// Dir is a directory Mount creates to hold upper, work and merged. It
	// must not exist yet; its parent must. Put it under kcna-lab's state
	// dir so that `kcna-lab clean` may remove it after a crash.
	Dir string
	// UID and GID own the upper layer's root and the work dir. The merged
	// root takes its owner from the upper root, so a sandbox whose root
	// is a mapped host user (e.g. 100000) can write there only when it
	// owns it. Zero leaves them root's.
	UID, GID int
}

// FS is an overlay's layers on disk.
type FS struct {
	Lower  []string // read-only layers, top-most first
	Dir    string   // holds Upper, Work and Merged
	Upper  string   // the writable layer: every change lands here
	Work   string   // overlayfs's scratch space, same filesystem as Upper
	Merged string   // the mount point: the union a sandbox sees
}

// Open describes an overlay that Mount built in dir, mounted or not, for
// inspection (`kcna-lab layers NAME`, lesson checks). It does not touch
// the disk; Changes and Origin report a missing upper layer.
func Open(dir string, lower []string) *FS {
	dir = filepath.Clean(dir)
	l := make([]string, len(lower))
	for i, p := range lower {
		l[i] = filepath.Clean(p)
	}
	return &FS{
		Lower:  l,
		Dir:    dir,
		Upper:  filepath.Join(dir, "upper"),
		Work:   filepath.Join(dir, "work"),
		Merged: filepath.Join(dir, "merged"),
	}
}

// ChangeKind says what happened to a path in the writable layer.
type ChangeKind string

// The kinds of change overlayfs records in the upper layer.
const (
	// Added: a new file or directory that no visible lower layer has.
	Added ChangeKind = "added"
	// CopiedUp: the path exists in a lower layer too; writing to it, or
	// changing its mode or owner, copied it up first. Directories above a
	// copied-up file are copied up with it.
	CopiedUp ChangeKind = "copied-up"
	// Whiteout: a character device 0/0 that hides a deleted lower file.
	Whiteout ChangeKind = "whiteout"
	// Opaque: a directory marked with the xattr overlay.opaque="y", which
	// hides everything lower layers have below it: a lower directory was
	// removed and one of the same name created again.
	Opaque ChangeKind = "opaque"
)

// Change is one entry of the upper layer.
type Change struct {
	// Path is absolute inside the root filesystem, e.g. /etc/motd.
	Path string
	Kind ChangeKind
	// Layer is the index in Lower of the top-most layer that has Path
	// beneath the change: what was copied up, deleted or hidden. It is -1
	// when no visible lower layer has it (always, for Added).
	Layer int
}

// Upper is Origin.Layer for a file that comes from the writable layer.
const Upper = -1

// Origin is where a file in the merged view lives on disk.
type Origin struct {
	// Layer is Upper or an index into Lower.
	Layer int
	// Path is the file on the host, inside that layer.
	Path string
}

// String names the layer: "upper" or "lower N".
func (o Origin) String() string {
	if o.Layer == Upper {
		return "upper"
	}
	return fmt.Sprintf("lower %d", o.Layer)
}

// maxLayers is the kernel's limit on lower layers (OVL_MAX_STACK).
const maxLayers = 500

// build checks a Spec and lays out the FS it describes.
func (s Spec) build() (*FS, error) {
	if len(s.Lower) == 0 {
		return nil, fmt.Errorf("overlay: no lower layer: an image has at least one")
	}
	if len(s.Lower) > maxLayers {
		return nil, fmt.Errorf("overlay: %d lower layers; the kernel stacks at most %d", len(s.Lower), maxLayers)
	}
	if s.Dir == "" {
		return nil, fmt.Errorf("overlay: no Dir to hold upper, work and merged")
	}
	dir, err := absPath("overlay dir", s.Dir)
	if err != nil {
		return nil, err
	}
	lower := make([]string, len(s.Lower))
	for i, l := range s.Lower {
		if lower[i], err = absPath(fmt.Sprintf("lower layer %d", i), l); err != nil {
			return nil, err
		}
		// The kernel refuses overlapping layers (ELOOP) without saying
		// which; say it here.
		if within(dir, lower[i]) || within(lower[i], dir) {
			return nil, fmt.Errorf("overlay: lower layer %d %s and overlay dir %s overlap: a layer may not contain another", i, lower[i], dir)
		}
	}
	f := Open(dir, lower)
	return f, nil
}

// absPath makes p absolute and refuses characters that overlayfs's option
// syntax gives a meaning: ',' separates options, ':' separates lower layers
// and '\' escapes them. Escaping would work for the kernel, but the shell
// command shown to the learner would then not be the one that ran.
func absPath(role, p string) (string, error) {
	if i := strings.IndexAny(p, `,:\`); i >= 0 {
		return "", fmt.Errorf("overlay: %s %q contains %q, which overlayfs mount options reserve (',' separates options, ':' separates lower layers); use a path without it", role, p, p[i:i+1])
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("overlay: %s %q: %w", role, p, err)
	}
	return abs, nil
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}
