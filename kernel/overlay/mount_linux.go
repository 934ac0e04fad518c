//go:build linux

package overlay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/kernel/mountinfo"
)

// Mount creates spec.Dir with upper, work and merged inside it and mounts
// the overlay on merged, emitting each step with its shell equivalent.
// With a journal, Dir and the mount are recorded before they are made, so
// the journal's rollback (or `kcna-lab clean` after a crash) undoes them;
// j may be nil for a caller that undoes with Remove. On failure, Mount
// removes what it made itself.
func Mount(spec Spec, j *journal.Journal, sink event.Sink) (*FS, error) {
	if sink == nil {
		sink = event.Discard
	}
	f, err := Prepare(spec, j, sink)
	if err != nil {
		return nil, err
	}
	err = record(j, journal.Entry{Kind: journal.Mount, Path: f.Merged, Shell: "umount " + shellQuote(f.Merged)})
	if err == nil {
		err = f.mount(sink)
	}
	if err != nil {
		// Nothing is mounted (the mount is the last step), so Dir holds
		// only the empty directories made above.
		_ = f.removeDir(sink)
		return nil, err
	}
	return f, nil
}

// Prepare is Mount without the mount: the layers' directories, for a
// process that mounts the overlay itself, as a rootless sandbox's init
// does inside its user namespace (Options gives it the mount's data).
func Prepare(spec Spec, j *journal.Journal, sink event.Sink) (*FS, error) {
	if sink == nil {
		sink = event.Discard
	}
	f, err := spec.build()
	if err != nil {
		return nil, err
	}
	for i, l := range f.Lower {
		fi, err := os.Stat(l)
		if err != nil {
			return nil, fmt.Errorf("overlay: lower layer %d: %w", i, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("overlay: lower layer %d %s is not a directory", i, l)
		}
	}
	// Refuse an existing Dir before it is journaled: a rollback deletes
	// whatever the journal names, and this one would not be ours.
	if _, err := os.Lstat(f.Dir); err == nil {
		return nil, fmt.Errorf("overlay dir %s already exists; Mount makes a fresh one", f.Dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("overlay dir %s: %w", f.Dir, err)
	}
	if err := record(j, journal.Entry{Kind: journal.Dir, Path: f.Dir, Shell: "rm -rf " + shellQuote(f.Dir)}); err != nil {
		return nil, err
	}
	if err := f.makeDirs(spec.UID, spec.GID, sink); err != nil {
		return nil, err
	}
	return f, nil
}

// Options is the overlay's mount data, with extra options after it.
func (f *FS) Options(extra ...string) string {
	rest := append([]string{"upperdir=" + f.Upper, "workdir=" + f.Work}, plainDiff()...)
	return "lowerdir=" + strings.Join(f.Lower, ":") + "," + strings.Join(append(rest, extra...), ",")
}

// Unmount unmounts the merged view and leaves the layers on disk, so the
// upper layer can still be inspected, as `docker diff` can on a stopped
// container. Not mounted is success. A mount still in use (a process's
// working directory inside it) is detached lazily: it goes once unused.
func (f *FS) Unmount(sink event.Sink) error {
	if sink == nil {
		sink = event.Discard
	}
	mounted, err := isMountPoint(f.Merged)
	if err != nil || !mounted {
		return err
	}
	q := shellQuote(f.Merged)
	err = event.Step(sink, fmt.Sprintf("umount2(%q, 0)", f.Merged), "umount "+q, func() error {
		return unix.Unmount(f.Merged, 0)
	})
	if errors.Is(err, unix.EBUSY) {
		err = event.Step(sink, fmt.Sprintf("umount2(%q, MNT_DETACH)", f.Merged), "umount -l "+q+"  # still in use: detach now, free when unused", func() error {
			return unix.Unmount(f.Merged, unix.MNT_DETACH)
		})
	}
	if err != nil {
		return fmt.Errorf("unmount overlay %s: %w", f.Merged, err)
	}
	return nil
}

// Remove unmounts the overlay if it is mounted and deletes Dir with the
// writable layer in it: what removing a container does. The lower layers
// are not touched.
func (f *FS) Remove(sink event.Sink) error {
	if sink == nil {
		sink = event.Discard
	}
	if err := f.Unmount(sink); err != nil {
		return err
	}
	return f.removeDir(sink)
}

// makeDirs creates Dir and the three directories overlayfs is given.
// Modes are set with chmod, not left to the umask: the merged root takes
// upper's mode, and a sandbox's "/" must be 0755 whatever the umask.
func (f *FS) makeDirs(uid, gid int, sink event.Sink) error {
	mkdir := func(dir string, mode os.FileMode) error {
		return event.Step(sink, fmt.Sprintf("mkdir(%q, %#o)", dir, mode), fmt.Sprintf("mkdir -m %o %s", mode, shellQuote(dir)), func() error {
			if err := os.Mkdir(dir, mode); err != nil {
				return err
			}
			return os.Chmod(dir, mode)
		})
	}
	// 0711: a user-namespaced sandbox root (an unprivileged host uid)
	// must be able to pass through to merged, but not list the layers.
	if err := mkdir(f.Dir, 0o711); err != nil {
		return fmt.Errorf("create overlay dir %s: %w", f.Dir, err)
	}
	err := mkdir(f.Upper, 0o755)
	if err == nil {
		err = mkdir(f.Work, 0o700)
	}
	if err == nil {
		err = mkdir(f.Merged, 0o755)
	}
	if err == nil && (uid != 0 || gid != 0) {
		err = event.Step(sink, fmt.Sprintf("chown(%q, %d, %d); chown(%q, %d, %d)", f.Upper, uid, gid, f.Work, uid, gid),
			fmt.Sprintf("chown %d:%d %s %s", uid, gid, shellQuote(f.Upper), shellQuote(f.Work)), func() error {
				if err := os.Chown(f.Upper, uid, gid); err != nil {
					return err
				}
				return os.Chown(f.Work, uid, gid)
			})
	}
	if err != nil {
		_ = f.removeDir(sink)
		return fmt.Errorf("create overlay layers in %s: %w", f.Dir, err)
	}
	return nil
}

// mount mounts the overlay on Merged with mount(2) when the options fit
// in the one page the kernel copies for it, otherwise layer by layer with
// the new mount API.
func (f *FS) mount(sink event.Sink) error {
	rest := append([]string{"upperdir=" + f.Upper, "workdir=" + f.Work}, plainDiff()...)
	data := f.Options()
	if len(data) < os.Getpagesize() {
		err := event.Step(sink, fmt.Sprintf("mount(\"overlay\", %q, \"overlay\", 0, %q)", f.Merged, data),
			"mount -t overlay overlay -o "+shellQuote(data)+" "+shellQuote(f.Merged), func() error {
				return unix.Mount("overlay", f.Merged, "overlay", 0, data)
			})
		if err != nil {
			return fmt.Errorf("mount overlay on %s: %w%s", f.Merged, err, hint(err))
		}
		return nil
	}
	// A longer string does not fit the one page mount(2) copies in.
	// Docker and containerd shorten it with relative paths after a
	// chdir, which a multi-threaded Go process cannot do safely; instead
	// fsconfig() takes one layer per call with "lowerdir+" (Linux 6.8+),
	// each value at most 255 bytes.
	opts := make([]string, 0, len(f.Lower)+len(rest))
	for _, l := range f.Lower {
		opts = append(opts, "lowerdir+="+l)
	}
	opts = append(opts, rest...)
	for _, o := range opts {
		if _, v, _ := strings.Cut(o, "="); len(v) > 255 {
			return fmt.Errorf("mount overlay on %s: %d lower layers make a %d-byte option string, more than mount(2) takes (%d), and fsconfig() takes paths of at most 255 bytes, not %s", f.Merged, len(f.Lower), len(data), os.Getpagesize(), v)
		}
	}
	// mount(8) from util-linux 2.39+ passes each option through fsconfig()
	// too, so the shell line does the same.
	err := event.Step(sink, fmt.Sprintf("fsopen(\"overlay\"); fsconfig(\"lowerdir+\") ×%d; fsconfig(\"upperdir\", \"workdir\"); fsmount(); move_mount(%q)", len(f.Lower), f.Merged),
		"mount -t overlay overlay -o "+shellQuote(strings.Join(opts, ","))+" "+shellQuote(f.Merged), func() error {
			return fsMount(f.Merged, opts)
		})
	if err != nil {
		return fmt.Errorf("mount overlay on %s: %d lower layers are too many for one mount(2) option string (%d bytes, limit %d), so they were passed one by one with fsconfig(\"lowerdir+\"), which needs Linux 6.8+: %w", f.Merged, len(f.Lower), len(data), os.Getpagesize(), err)
	}
	return nil
}

// plainDiff returns the options that keep the upper layer a plain diff
// that Changes and Origin can read, as an image layer is: redirect_dir
// would record a renamed lower directory as an xattr pointing into a
// lower layer, and metacopy would copy up only the metadata of a chmod'd
// file and leave its data below. Both are off unless the kernel was built
// or loaded with them on, so they are named only then, or when the module
// is not loaded yet and its defaults cannot be read.
func plainDiff() []string {
	const params = "/sys/module/overlay/parameters/"
	_, err := os.Stat(params)
	unknown := err != nil
	var opts []string
	for _, p := range []string{"redirect_dir", "metacopy"} {
		b, err := os.ReadFile(params + p)
		switch {
		case unknown:
			opts = append(opts, p+"=off")
		case err != nil:
			// An older kernel without the feature would refuse the option.
		case strings.TrimSpace(string(b)) != "N":
			opts = append(opts, p+"=off")
		}
	}
	return opts
}

// fsMount mounts an overlay through the new mount API. On failure it adds
// the kernel's own explanation, which it queues on the context fd.
func fsMount(target string, opts []string) (err error) {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fd)
	defer func() {
		if err != nil {
			if msg := fsLog(fd); msg != "" {
				err = fmt.Errorf("%w (kernel: %s)", err, msg)
			}
		}
	}()
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		if err := unix.FsconfigSetString(fd, k, v); err != nil {
			return fmt.Errorf("fsconfig %s: %w", k, err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fmt.Errorf("fsconfig create: %w", err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("fsmount: %w", err)
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount: %w", err)
	}
	return nil
}

// fsLog reads the messages the kernel left on an fs context fd.
func fsLog(fd int) string {
	var msgs []string
	buf := make([]byte, 1024)
	for range 16 {
		n, err := unix.Read(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	return strings.Join(msgs, "; ")
}

// hint says where to look after a terse mount(2) error.
func hint(err error) string {
	switch {
	case errors.Is(err, unix.EINVAL):
		return " (the kernel logs why: dmesg | grep overlayfs)"
	case errors.Is(err, unix.EPERM):
		return " (mounting overlayfs needs CAP_SYS_ADMIN, and this host may not allow it inside a user namespace)"
	case errors.Is(err, unix.ENODEV):
		return " (this kernel has no overlayfs: modprobe overlay)"
	}
	return ""
}

// removeDir deletes Dir, but never through a mount: whatever is mounted
// below (the overlay itself, or something mounted into it) would be
// deleted with it.
func (f *FS) removeDir(sink event.Sink) error {
	mounts, err := mountsUnder(f.Dir)
	if err != nil {
		return err
	}
	if len(mounts) > 0 {
		return fmt.Errorf("refusing to remove %s: %s is still mounted there", f.Dir, mounts[0].Point)
	}
	err = event.Step(sink, fmt.Sprintf("unlinkat/rmdir everything in %q", f.Dir), "rm -rf "+shellQuote(f.Dir), func() error {
		return RemoveAll(f.Dir)
	})
	if err != nil {
		return fmt.Errorf("remove overlay dir %s: %w", f.Dir, err)
	}
	return nil
}

func record(j *journal.Journal, e journal.Entry) error {
	if j == nil {
		return nil
	}
	return j.Record(e)
}

// mountsUnder lists the mounts at or below dir, from the kernel.
func mountsUnder(dir string) ([]mountinfo.Mount, error) {
	ms, err := mountinfo.Read("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	return mountinfo.Under(ms, dir), nil
}

func isMountPoint(p string) (bool, error) {
	mounts, err := mountsUnder(p)
	if err != nil {
		return false, err
	}
	for _, m := range mounts {
		if m.Point == p {
			return true, nil
		}
	}
	return false, nil
}

// shellQuote quotes s for the shell command shown to the learner, only
// when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=+,:@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// RemoveAll is os.RemoveAll for a directory that holds an overlay's
// layers. overlayfs makes workdir/work with mode 000; root removes it
// regardless, but a rootless owner must first allow itself to list it,
// and so every directory below, which it owns.
func RemoveAll(dir string) error {
	err := os.RemoveAll(dir)
	if !errors.Is(err, fs.ErrPermission) {
		return err
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if d != nil && d.IsDir() {
			_ = os.Chmod(p, 0o700) // before WalkDir reads it
		}
		return nil
	})
	return os.RemoveAll(dir)
}
