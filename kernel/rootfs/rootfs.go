// Package rootfs provides the private root filesystem a sandbox pivots
// into: a small busybox tree built once and cached, a directory the learner
// names, or a tar archive (an exported container image layer) unpacked safely.
//
// Every filesystem step is reported as an event so the learner can see that
// a container's "image" is nothing more than a directory tree.
package rootfs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// layoutName names the cached default rootfs. Bump the suffix whenever the
// layout or contents change, so old caches are not reused.
const layoutName = "rootfs-v2"

// staleAfter is how old an abandoned build directory (from a crash) must be
// before Default deletes it; a real build takes seconds.
const staleAfter = time.Hour

// Default returns the default root filesystem, building it once into
// cacheDir (e.g. ~/.cache/kcna-lab) as cacheDir/rootfs-v2.
//
// It is built in a temporary directory next to it and renamed into place,
// so a crash never leaves a half-built rootfs, and two concurrent builds do
// not corrupt each other: whichever rename comes second finds the rootfs
// there and keeps it.
//
// uid/gid: every file is chowned to these (the caller maps them to root
// inside a user namespace); -1 leaves that id alone.
func Default(cacheDir string, uid, gid int, sink event.Sink) (string, error) {
	abs, err := filepath.Abs(cacheDir)
	if err != nil {
		return "", fmt.Errorf("default rootfs: cache directory %q: %w", cacheDir, err)
	}
	final := filepath.Join(abs, layoutName)
	if fi, err := os.Stat(final); err == nil && fi.IsDir() {
		event.Narrate(sink, fmt.Sprintf("Reusing the root filesystem built earlier at %s (delete it to rebuild).", final))
		if err := fixOwner(final, uid, gid, sink); err != nil {
			return "", err
		}
		return final, nil
	}

	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", fmt.Errorf("default rootfs: creating cache directory: %w", err)
	}
	removeStaleBuilds(abs)
	tmp, err := os.MkdirTemp(abs, "."+layoutName+"-*.tmp")
	if err != nil {
		return "", fmt.Errorf("default rootfs: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			_ = os.RemoveAll(tmp)
		}
	}()

	event.Narrate(sink, fmt.Sprintf("Building the default root filesystem in %s; it is renamed to %s only once complete.", tmp, final))
	if err := build(tmp, sink); err != nil {
		return "", fmt.Errorf("default rootfs: %w", err)
	}
	if err := chownTree(tmp, uid, gid, sink); err != nil {
		return "", fmt.Errorf("default rootfs: %w", err)
	}

	lost := false
	err = event.Step(sink, fmt.Sprintf("rename(%q, %q)", tmp, final), fmt.Sprintf("mv %s %s", tmp, final), func() error {
		err := os.Rename(tmp, final)
		if err != nil {
			// rename(2) onto a non-empty directory fails (ENOTEMPTY or
			// EEXIST): another build finished first. Its result is as good
			// as ours, and replacing it could break a sandbox using it.
			if fi, serr := os.Stat(final); serr == nil && fi.IsDir() {
				lost = true
				return nil
			}
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("default rootfs: %w", err)
	}
	if lost {
		event.Narrate(sink, "Another build finished first; using its root filesystem.")
		if err := fixOwner(final, uid, gid, sink); err != nil {
			return "", err
		}
		return final, nil
	}
	keep = true
	return final, nil
}

// build creates the default rootfs in the empty directory dir: the host's
// static busybox if there is one, else host programs and their libraries.
func build(dir string, sink event.Sink) error {
	bb, err := findStaticBusybox()
	if err != nil {
		event.Narrate(sink, fmt.Sprintf("%v. Copying host programs and the shared libraries they need instead.", err))
		if err := skeleton(dir, "kcna-lab host-binaries rootfs", sink); err != nil {
			return err
		}
		return buildFromHost(dir, sink)
	}
	if err := skeleton(dir, "kcna-lab busybox rootfs", sink); err != nil {
		return err
	}
	return buildFromBusybox(dir, bb, sink)
}

// skeletonDirs are created with mode 0755 (tmp gets 1777 below).
var skeletonDirs = []string{"bin", "etc", "root", "tmp", "proc", "sys", "dev", "run", "var", "var/tmp", "usr"}

// skeletonLinks merge /sbin and /usr/bin into /bin, as modern distributions
// do, so "#!/usr/bin/env" scripts and /sbin/ip both work.
var skeletonLinks = [][2]string{
	{"bin", "sbin"},
	{"../bin", "usr/bin"},
	{"../bin", "usr/sbin"},
	// Tools that read /etc/mtab (mount, df) see the sandbox's own mounts.
	{"../proc/self/mounts", "etc/mtab"},
}

// skeleton creates the directories and /etc files every rootfs needs.
// osName goes into /etc/os-release, so `cat /etc/os-release` inside the
// sandbox shows the learner which rootfs they are in.
func skeleton(dir, osName string, sink event.Sink) error {
	var links []string
	for _, l := range skeletonLinks {
		links = append(links, fmt.Sprintf("ln -s %s %s", l[0], l[1]))
	}
	err := event.Step(sink,
		fmt.Sprintf("mkdir(%s, 0755) and symlink(sbin, usr/bin, usr/sbin, etc/mtab) in %s", strings.Join(skeletonDirs, ", "), dir),
		fmt.Sprintf("cd %s && mkdir -p %s && chmod 1777 tmp var/tmp && %s", dir, strings.Join(skeletonDirs, " "), strings.Join(links, " && ")),
		func() error {
			if err := os.Chmod(dir, 0o755); err != nil { // MkdirTemp made it 0700
				return err
			}
			for _, d := range skeletonDirs {
				p := filepath.Join(dir, d)
				mode := os.FileMode(0o755)
				if d == "tmp" || d == "var/tmp" {
					// World-writable with the sticky bit: anyone may create
					// files, only the owner may delete them.
					mode = 0o777 | os.ModeSticky
				}
				if err := os.Mkdir(p, 0o700); err != nil {
					return err
				}
				// Chmod, not Mkdir's mode, which the umask would reduce.
				if err := os.Chmod(p, mode); err != nil {
					return err
				}
			}
			for _, l := range skeletonLinks {
				if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("creating rootfs directories: %w", err)
	}

	files := []struct{ name, content string }{
		{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"},
		{"etc/group", "root:x:0:\nnogroup:x:65534:\n"},
		{"etc/hostname", "kcna-lab\n"},
		{"etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
		// The mount point for the resolver file of a sandbox on a bridge
		// (--net bridge); without one, there is no DNS server to name.
		{"etc/resolv.conf", "# No resolver: this sandbox has no network but loopback.\n"},
		{"etc/os-release", fmt.Sprintf("NAME=%q\nPRETTY_NAME=%q\nID=kcna-lab\nVERSION_ID=%q\n",
			osName, osName, strings.TrimPrefix(layoutName, "rootfs-"))},
	}
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = f.name
	}
	err = event.Step(sink,
		fmt.Sprintf("write(%s)", strings.Join(names, ", ")),
		fmt.Sprintf("cd %s && echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd && echo kcna-lab > etc/hostname ...", dir),
		func() error {
			for _, f := range files {
				if err := writeFile(filepath.Join(dir, f.name), []byte(f.content), 0o644); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("writing /etc files: %w", err)
	}
	return nil
}

// chownTree gives every file under dir, dir included, to uid:gid without
// following symlinks. -1 leaves an id unchanged; -1, -1 does nothing.
func chownTree(dir string, uid, gid int, sink event.Sink) error {
	if uid == -1 && gid == -1 {
		return nil
	}
	id := func(n int) string {
		if n == -1 {
			return ""
		}
		return strconv.Itoa(n)
	}
	err := event.Step(sink,
		fmt.Sprintf("lchown(every file under %q, %d, %d)", dir, uid, gid),
		fmt.Sprintf("chown -hR %s:%s %s", id(uid), id(gid), dir),
		func() error {
			return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				return os.Lchown(p, uid, gid)
			})
		})
	if err != nil {
		return fmt.Errorf("chown rootfs to %d:%d (needs root or CAP_CHOWN): %w", uid, gid, err)
	}
	return nil
}

// fixOwner re-chowns a cached rootfs built for other ids, e.g. by an
// earlier run with a different subordinate uid range.
func fixOwner(dir string, uid, gid int, sink event.Sink) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("default rootfs: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (uid == -1 || int(st.Uid) == uid) && (gid == -1 || int(st.Gid) == gid) {
		return nil
	}
	event.Narrate(sink, fmt.Sprintf("The cached rootfs belongs to %d:%d; handing it to %d:%d.", st.Uid, st.Gid, uid, gid))
	if err := chownTree(dir, uid, gid, sink); err != nil {
		return fmt.Errorf("default rootfs: %w", err)
	}
	return nil
}

// removeStaleBuilds deletes build directories left by crashed runs. Best
// effort: failing to clean up must not stop a new build.
func removeStaleBuilds(cacheDir string) {
	matches, _ := filepath.Glob(filepath.Join(cacheDir, "."+layoutName+"-*.tmp"))
	for _, m := range matches {
		if fi, err := os.Lstat(m); err == nil && fi.IsDir() && time.Since(fi.ModTime()) > staleAfter {
			_ = os.RemoveAll(m)
		}
	}
}

// Prepare turns a --rootfs argument into a directory to pivot into:
//   - "" builds or reuses the default rootfs (see Default);
//   - a directory is used as it is (it must exist);
//   - FILE.tar, FILE.tar.gz or FILE.tgz is extracted (see Extract) into dst,
//     a fresh empty directory the caller made, whose files are then chowned
//     to uid:gid like the default rootfs.
func Prepare(arg, cacheDir, dst string, uid, gid int, sink event.Sink) (string, error) {
	if arg == "" {
		return Default(cacheDir, uid, gid, sink)
	}
	fi, err := os.Stat(arg)
	if err != nil {
		return "", fmt.Errorf("--rootfs %s: %w", arg, err)
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return "", fmt.Errorf("--rootfs %s: %w", arg, err)
	}
	if fi.IsDir() {
		event.Narrate(sink, fmt.Sprintf("Using the directory %s as the root filesystem, unchanged.", abs))
		if _, err := os.Lstat(filepath.Join(abs, "bin", "sh")); err != nil {
			event.Narrate(sink, fmt.Sprintf("Note: %s has no /bin/sh, so shell commands will not run in it.", abs))
		}
		return abs, nil
	}
	if !fi.Mode().IsRegular() || !isTarName(arg) {
		return "", fmt.Errorf("--rootfs %s: not a directory or a .tar, .tar.gz or .tgz archive", arg)
	}

	if dst == "" {
		return "", fmt.Errorf("--rootfs %s: no directory to extract the archive into", arg)
	}
	if err := checkEmptyDir(dst); err != nil {
		return "", fmt.Errorf("--rootfs %s: extraction target: %w", arg, err)
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("--rootfs %s: %w", arg, err)
	}
	defer f.Close()
	event.Narrate(sink, fmt.Sprintf("Unpacking %s into %s: a container image is just a tar archive of a directory tree.", abs, dst))
	err = event.Step(sink, fmt.Sprintf("extract(%q -> %q)", abs, dst),
		fmt.Sprintf("tar -xf %s -C %s --no-same-owner", abs, dst),
		func() error { return ExtractWithEvents(f, dst, sink) })
	if err != nil {
		return "", fmt.Errorf("--rootfs %s: %w", arg, err)
	}
	if err := chownTree(dst, uid, gid, sink); err != nil {
		return "", fmt.Errorf("--rootfs %s: %w", arg, err)
	}
	return filepath.Abs(dst)
}

func isTarName(name string) bool {
	for _, suf := range []string{".tar", ".tar.gz", ".tgz"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

func checkEmptyDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s is not empty", dir)
	}
	return nil
}
