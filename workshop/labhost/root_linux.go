package labhost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// buildRoot assembles the lab's root in a tmpfs on cfg.Root and pivots
// into it, as a container runtime does for a container (lesson 6), but
// from the server's own /usr and /etc, read-only:
//
//	/usr /etc           the server's, read-only, nosuid, nodev
//	/bin /lib ...       as on the server (symlinks into /usr, or read-only)
//	/opt/kcna-lab/bin   kcna-lab, kcna-lab-full and kcna-lab-init, read-only
//	/opt/kcna-lab/content  the instructor's course, read-only, if any
//	/opt/kcna-lab/class    the instructor's notice and pace, read-only
//	/root               the student's persistent home
//	/tmp /var /run      fresh tmpfs, counted against the student's memory
//	/proc /sys /dev     the lab's own (its PID and network namespaces)
//
// The old root is detached at the end, so nothing of the server's
// filesystem but what is listed here can be reached, even by a process
// that escapes a chroot (lesson 3): it lands in this root.
func buildRoot(cfg *initConfig) error {
	// Nothing the lab mounts may propagate back to the server.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the lab's mounts private: %w", err)
	}
	r := cfg.Root
	steps := []func() error{
		func() error { return mountFS("tmpfs", r, unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=64m") },
		func() error { return bindIfThere("/usr", filepath.Join(r, "usr")) },
		func() error { return bindIfThere("/etc", filepath.Join(r, "etc")) },
		func() error { return topLevelLinks(r) },
		func() error { return bindProgram(cfg.Bin, r, "kcna-lab") },
		func() error { return bindProgram(cfg.Bin, r, "kcna-lab-full") },
		func() error { return bindProgram(cfg.Bin, r, "kcna-lab-init") },
		func() error { return bindContent(cfg.Content, r) },
		func() error { return bindClass(cfg.Class, r) },
		func() error { return bindRW(cfg.Home, filepath.Join(r, "root")) },
		func() error { return memoryDirs(r, cfg.TmpSize) },
		// This stage's /proc and /sys, over which the lab's own are
		// mounted: the kernel lets a user namespace mount proc or sysfs
		// only where one is already fully visible.
		func() error { return kernelDirs(r, false) },
		func() error { return devDir(filepath.Join(r, "dev")) },
		func() error { return identity(r, cfg.Hostname) },
		func() error { return pivot(r) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// topLevelLinks recreates /bin, /sbin, /lib... as the server has them:
// symlinks into /usr on a merged-/usr system, read-only binds otherwise.
func topLevelLinks(r string) error {
	for _, name := range []string{"bin", "sbin", "lib", "lib32", "lib64", "libx32"} {
		host := "/" + name
		fi, err := os.Lstat(host)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("look at %s: %w", host, err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(host)
			if err != nil {
				return fmt.Errorf("read %s: %w", host, err)
			}
			if err := os.Symlink(target, filepath.Join(r, name)); err != nil {
				return fmt.Errorf("link /%s in the lab: %w", name, err)
			}
			continue
		}
		if err := bindRO(host, filepath.Join(r, name)); err != nil {
			return err
		}
	}
	return nil
}

// bindContent shows the instructor's course, if the server has one, at
// ContentDir, read-only: its checks: run in the lab, not its files.
func bindContent(content, r string) error {
	if content == "" {
		return nil
	}
	return bindRO(content, filepath.Join(r, ContentDir))
}

// bindClass shows the class directory read-only, a directory and not
// its file: the server replaces the file by rename, which a bind of the
// file itself would not follow.
func bindClass(class, r string) error {
	if class == "" {
		return nil
	}
	dst := filepath.Join(r, "opt", "kcna-lab", "class")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", dst, err)
	}
	return cloneMount(class, dst, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOEXEC, false)
}

// bindProgram makes one of kcna-lab's programs appear in /opt/kcna-lab/bin
// (kcna-lab-init only where the server has it).
func bindProgram(bin, r, name string) error {
	if _, err := os.Stat(filepath.Join(bin, name)); errors.Is(err, os.ErrNotExist) && name != "kcna-lab" {
		return nil
	}
	dst := filepath.Join(r, "opt", "kcna-lab", "bin", name)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("make %s: %w", filepath.Dir(dst), err)
	}
	if err := os.WriteFile(dst, nil, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", dst, err)
	}
	return cloneMount(filepath.Join(bin, name), dst, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV, false)
}

// memoryDirs are /tmp, /var and /run: fresh in every lab, gone with it.
func memoryDirs(r, size string) error {
	for _, d := range []struct{ path, mode string }{{"tmp", "1777"}, {"var", "755"}, {"run", "755"}} {
		opts := fmt.Sprintf("mode=%s,size=%s", d.mode, size)
		if err := mountFS("tmpfs", filepath.Join(r, d.path), unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return err
		}
	}
	for _, d := range []string{"var/tmp", "var/lib", "var/cache", "var/log"} {
		if err := os.MkdirAll(filepath.Join(r, d), 0o755); err != nil {
			return fmt.Errorf("make /%s: %w", d, err)
		}
	}
	return os.Chmod(filepath.Join(r, "var/tmp"), 0o1777)
}

// kernelDirs mounts the lab's own views of the kernel: /proc for its PID
// namespace, /sys for its network namespace, and on cgroup v2 its own
// cgroup tree (the cgroup namespace makes the student's cgroup its root).
func kernelDirs(r string, cgroupV2 bool) error {
	const noexec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := mountFS("proc", filepath.Join(r, "proc"), noexec, ""); err != nil {
		return err
	}
	if err := mountFS("sysfs", filepath.Join(r, "sys"), noexec|unix.MS_RDONLY, ""); err != nil {
		return err
	}
	if cgroupV2 {
		return mountFS("cgroup2", filepath.Join(r, "sys", "fs", "cgroup"), noexec, "")
	}
	return nil
}

// devDir is a small /dev: the harmless device nodes, bound from the
// server's (a user namespace cannot make device nodes), and a devpts of
// the lab's own, so its terminals are not the server's.
func devDir(dev string) error {
	if err := mountFS("tmpfs", dev, unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=64k"); err != nil {
		return err
	}
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		dst := filepath.Join(dev, n)
		if err := os.WriteFile(dst, nil, 0o666); err != nil {
			return fmt.Errorf("make /dev/%s: %w", n, err)
		}
		if err := cloneMount("/dev/"+n, dst, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NOEXEC, false); err != nil {
			return err
		}
	}
	for _, d := range []string{"pts", "shm"} {
		if err := os.Mkdir(filepath.Join(dev, d), 0o755); err != nil {
			return fmt.Errorf("make /dev/%s: %w", d, err)
		}
	}
	links := map[string]string{"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return fmt.Errorf("link /dev/%s: %w", name, err)
		}
	}
	return nil
}

// terminals mounts the lab's own devpts (its terminals are not the
// server's) and /dev/shm, from inside the lab's namespaces.
func terminals(dev string) error {
	if err := mountFS("devpts", filepath.Join(dev, "pts"), unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	return mountFS("tmpfs", filepath.Join(dev, "shm"), unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=64m")
}

// identity gives the lab its own /etc/passwd, group, hostname and hosts,
// bound over the server's read-only /etc: the student is root here.
func identity(r, hostname string) error {
	own := filepath.Join(r, ".kcna-lab", "etc")
	if err := os.MkdirAll(own, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", own, err)
	}
	files := map[string]string{
		"passwd":   "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
		"group":    "root:x:0:\nnogroup:x:65534:\n",
		"hostname": hostname + "\n",
		"hosts":    "127.0.0.1\tlocalhost\n127.0.1.1\t" + hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n",
	}
	for name, content := range files {
		src := filepath.Join(own, name)
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write the lab's /etc/%s: %w", name, err)
		}
		dst := filepath.Join(r, "etc", name)
		if _, err := os.Stat(dst); err != nil {
			continue // the server has none; the lab does without
		}
		if err := cloneMount(src, dst, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, false); err != nil {
			return err
		}
	}
	return nil
}

// pivot makes r the root and detaches the old one, as runc does: with
// pivot_root(".", ".") the old root is stacked under the new and
// unmounted at once, with no directory needed for it.
func pivot(r string) error {
	if err := unix.Chdir(r); err != nil {
		return fmt.Errorf("chdir %s: %w", r, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root into the lab: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the server's root: %w", err)
	}
	return unix.Chdir("/")
}

func mountFS(fstype, target string, flags uintptr, data string) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", target, err)
	}
	if err := unix.Mount(fstype, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount -t %s %s: %w", fstype, target, err)
	}
	return nil
}

// bindIfThere is bindRO for a directory a minimal server (a test VM's
// initramfs) may lack: the lab then has it empty.
func bindIfThere(src, dst string) error {
	if _, err := os.Stat(src); errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dst, 0o755)
	}
	return bindRO(src, dst)
}

// bindRO binds a server directory (with what is mounted below it)
// read-only, without setuid programs or device nodes.
func bindRO(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", dst, err)
	}
	return cloneMount(src, dst, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, true)
}

func bindRW(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("make %s: %w", dst, err)
	}
	return cloneMount(src, dst, unix.MOUNT_ATTR_NOSUID|unix.MOUNT_ATTR_NODEV, false)
}

// cloneMount binds src on dst with attrs set. The new mount API changes
// only the attributes asked for, so the locked flags a user namespace
// inherits from the server's mounts stay as they are.
func cloneMount(src, dst string, attrs uint64, recursive bool) error {
	flags := uint(unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC)
	var setFlags uint = unix.AT_EMPTY_PATH
	if recursive {
		flags |= unix.AT_RECURSIVE
		setFlags |= unix.AT_RECURSIVE
	}
	fd, err := unix.OpenTree(unix.AT_FDCWD, src, flags)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", src, err)
	}
	defer unix.Close(fd)
	if err := unix.MountSetattr(fd, "", setFlags, &unix.MountAttr{Attr_set: attrs}); err != nil {
		return fmt.Errorf("mount_setattr %s: %w", src, err)
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount --bind %s %s: %w", src, dst, err)
	}
	return nil
}
