//go:build linux

package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/sandbox/event"
)

// buildRoot prepares the sandbox's view of the filesystem from inside its
// mount namespace, in runc's order (libcontainer/rootfs_linux.go): make
// every mount private, bind the new root onto itself, mount /proc, /dev
// and /sys inside it *before* the switch (afterwards the host's /proc
// would be out of reach), switch root, then mask what a container must
// not read. It also sets the hostname and brings up loopback.
func buildRoot(c *Config, sink event.Sink) error {
	if c.has(NSUTS) {
		if err := event.Step(sink, fmt.Sprintf("sethostname(%q)", c.Hostname), "hostname "+c.Hostname, func() error {
			return unix.Sethostname([]byte(c.Hostname))
		}); err != nil {
			return err
		}
	}
	if c.has(NSNet) {
		if err := event.Step(sink, `ioctl(SIOCSIFFLAGS, "lo", IFF_UP)`, "ip link set lo up", loopbackUp); err != nil {
			return err
		}
	}
	if !c.has(NSMount) {
		// Without a mount namespace every mount would land on the host,
		// so only chroot is possible and nothing is mounted.
		event.Narrate(sink, "No mount namespace: nothing is mounted, so /proc inside the root is whatever the root filesystem has.")
		return switchRoot(c, sink)
	}
	root := c.Root
	steps := []struct {
		action, shell string
		fn            func() error
	}{
		{`mount("", "/", MS_REC|MS_PRIVATE)`, "mount --make-rprivate /", func() error {
			return unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
		}},
		{fmt.Sprintf("mount(%q, %q, MS_BIND|MS_REC)", c.Rootfs, root), fmt.Sprintf("mount --rbind %s %s", c.Rootfs, root), func() error {
			return unix.Mount(c.Rootfs, root, "", unix.MS_BIND|unix.MS_REC, "")
		}},
	}
	for _, s := range steps {
		if err := event.Step(sink, s.action, s.shell, s.fn); err != nil {
			return err
		}
	}
	if err := mountProc(c, sink); err != nil {
		return err
	}
	if err := mountDev(c, sink); err != nil {
		return err
	}
	if err := mountSys(c, sink); err != nil {
		return err
	}
	if c.ReadOnly {
		// A read-only root keeps the shared, cached root filesystem
		// pristine; these are where a program expects to write.
		for _, d := range scratchDirs {
			mode := "mode=755"
			if d == "/tmp" {
				mode = "mode=1777"
			}
			if err := mountIn(sink, root, d, "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, mode+",size=64m"); err != nil {
				return err
			}
		}
	}
	for i, v := range c.Volumes {
		fd := 0
		if i < len(c.VolumeFDs) {
			fd = c.VolumeFDs[i]
		}
		if err := mountVolume(root, v, fd, sink); err != nil {
			return err
		}
	}
	if c.ResolvConf != "" {
		if err := mountResolvConf(root, c.ResolvConf, sink); err != nil {
			return err
		}
	}
	if c.RootMode == RootChroot && c.ReadOnly {
		// A convenience for the lesson, not part of the isolation: the
		// sandbox runs without it when the program cannot be reached.
		if err := mountEscapeTool(root, sink); err != nil {
			event.Narrate(sink, fmt.Sprintf("The escape program is not available in this sandbox (%v): the sandbox's root user cannot reach kcna-lab-init where it is installed.", err))
		}
	}
	if c.ReadOnly {
		if err := event.Step(sink, fmt.Sprintf("mount(%q, MS_REMOUNT|MS_BIND|MS_RDONLY)", root), "mount -o remount,bind,ro "+root, func() error {
			return remountReadOnly(root)
		}); err != nil {
			return err
		}
	}
	if err := switchRoot(c, sink); err != nil {
		return err
	}
	return maskProc(sink)
}

// mountEscapeTool puts this program, read-only, at /run/kcna/escape in a
// chroot-mode sandbox, so that the chroot lesson's learners can run the
// classic escape themselves. /run is the sandbox's own tmpfs.
func mountEscapeTool(root string, sink event.Sink) error {
	target := filepath.Join(root, EscapeDir, escapeTool)
	return event.Step(sink, fmt.Sprintf("mount(readlink(\"/proc/self/exe\"), %q, MS_BIND|MS_RDONLY)", target),
		fmt.Sprintf("touch %s && mount --bind -o ro $(command -v kcna-lab-init) %s", target, target), func() error {
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(target, nil, 0o755); err != nil {
				return err
			}
			// By its path, not through the /proc/self/exe link: when this
			// program was started through that link (kcna-lab as its own
			// init), the link leads to the host's mount namespace, which a
			// bind mount may not take its source from.
			self, err := os.Readlink("/proc/self/exe")
			if err != nil {
				return err
			}
			if err := unix.Mount(self, target, "", unix.MS_BIND, ""); err != nil {
				return err
			}
			return remountReadOnly(target)
		})
}

// switchRoot makes c.Root the process's "/", by pivot_root or chroot.
func switchRoot(c *Config, sink event.Sink) error {
	dir := c.Root
	chdir := func() error { return unix.Chdir(c.Root) }
	if !c.has(NSMount) {
		// Nothing was mounted at Root; go to the root filesystem itself.
		dir = c.Rootfs
		chdir = func() error { return unix.Chdir(c.Rootfs) }
	}
	if err := event.Step(sink, fmt.Sprintf("chdir(%q)", dir), "cd "+dir, chdir); err != nil {
		return err
	}
	if c.RootMode == RootChroot {
		if err := event.Step(sink, `chroot(".")`, "chroot .", func() error { return unix.Chroot(".") }); err != nil {
			return err
		}
		return unix.Chdir("/")
	}
	// pivot_root(".", ".") stacks the old root on top of the new one at the
	// same place, so it needs no writable directory to put the old root
	// in; unmounting "." then removes the old root and leaves the new.
	steps := []struct {
		action, shell string
		fn            func() error
	}{
		{`pivot_root(".", ".")`, "pivot_root . .  # the old root now sits on top of the new one", func() error {
			return unix.PivotRoot(".", ".")
		}},
		{`mount("", ".", MS_SLAVE|MS_REC)`, "mount --make-rslave .", func() error {
			return unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, "")
		}},
		{`umount2(".", MNT_DETACH)`, "umount -l .  # detach the host's tree: nothing of it stays reachable", func() error {
			return unix.Unmount(".", unix.MNT_DETACH)
		}},
		{`chdir("/")`, "cd /", func() error { return unix.Chdir("/") }},
	}
	for _, s := range steps {
		if err := event.Step(sink, s.action, s.shell, s.fn); err != nil {
			return err
		}
	}
	return nil
}

func mountProc(c *Config, sink event.Sink) error {
	if c.has(NSPid) {
		return mountIn(sink, c.Root, "/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	// A new proc instance shows the PID namespace of its mounter; without
	// one the honest view is the host's own /proc.
	target := filepath.Join(c.Root, "proc")
	return event.Step(sink, fmt.Sprintf("mount(\"/proc\", %q, MS_BIND|MS_REC)", target), "mount --rbind /proc "+target, func() error {
		if err := os.MkdirAll(target, 0o555); err != nil {
			return err
		}
		return unix.Mount("/proc", target, "", unix.MS_BIND|unix.MS_REC, "")
	})
}

// devices are bind-mounted from the host: a user namespace may not mknod.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

func mountDev(c *Config, sink event.Sink) error {
	root := c.Root
	if err := mountIn(sink, root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	dev := filepath.Join(root, "dev")
	for _, d := range devices {
		target := filepath.Join(dev, d)
		if err := event.Step(sink, fmt.Sprintf("mount(\"/dev/%s\", %q, MS_BIND)", d, target), fmt.Sprintf("touch %s && mount --bind /dev/%s %s", target, d, target), func() error {
			if err := os.WriteFile(target, nil, 0o666); err != nil {
				return err
			}
			return unix.Mount("/dev/"+d, target, "", unix.MS_BIND, "")
		}); err != nil {
			return err
		}
	}
	if err := mountIn(sink, root, "/dev/pts", "devpts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"); err != nil {
		return err
	}
	if err := mountIn(sink, root, "/dev/shm", "shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"); err != nil {
		return err
	}
	if c.has(NSIPC) {
		if err := mountIn(sink, root, "/dev/mqueue", "mqueue", "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
			return err
		}
	}
	links := [][2]string{{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}}
	for _, l := range links {
		if err := os.Symlink(l[0], filepath.Join(dev, l[1])); err != nil {
			return fmt.Errorf("symlink /dev/%s: %w", l[1], err)
		}
	}
	return nil
}

func mountSys(c *Config, sink event.Sink) error {
	if !c.has(NSNet) {
		// The kernel lets a user namespace mount sysfs only together with
		// its own network namespace; without one /sys stays empty.
		event.Narrate(sink, "No network namespace: /sys is left empty inside (sysfs shows the network namespace of whoever mounts it).")
		return nil
	}
	return mountIn(sink, c.Root, "/sys", "sysfs", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "")
}

// mountIn mounts a filesystem at dir inside root, creating the directory.
func mountIn(sink event.Sink, root, dir, source, fstype string, flags uintptr, data string) error {
	target := filepath.Join(root, dir)
	opts := mountOptions(flags, data)
	shell := fmt.Sprintf("mount -t %s %s %s", fstype, source, target)
	if opts != "" {
		shell = fmt.Sprintf("mount -t %s -o %s %s %s", fstype, opts, source, target)
	}
	return event.Step(sink, fmt.Sprintf("mount(%q, %q, %q, %s)", source, target, fstype, opts), shell, func() error {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		return unix.Mount(source, target, fstype, flags, data)
	})
}

func mountOptions(flags uintptr, data string) string {
	var o []string
	for _, f := range []struct {
		bit  uintptr
		name string
	}{{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"}, {unix.MS_NOEXEC, "noexec"}, {unix.MS_STRICTATIME, "strictatime"}} {
		if flags&f.bit != 0 {
			o = append(o, f.name)
		}
	}
	if data != "" {
		o = append(o, data)
	}
	return strings.Join(o, ",")
}

// mountVolume binds a host directory at v.Target. With fd, a detached
// copy of the directory's mount tree that the parent made with
// open_tree(OPEN_TREE_CLONE), it is attached with move_mount: the
// sandbox's root, an unprivileged user on the host, never has to walk the
// host path, so a volume under a 0700 home works. Without one (a kernel
// before 5.2), it is bound by path.
func mountVolume(root string, v Volume, fd int, sink event.Sink) error {
	target, err := inRoot(root, v.Target)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.Target, err)
	}
	action := fmt.Sprintf("mount(%q, %q, MS_BIND|MS_REC)", v.Host, target)
	attach := func() error { return unix.Mount(v.Host, target, "", unix.MS_BIND|unix.MS_REC, "") }
	if fd > 0 {
		action = fmt.Sprintf("move_mount(open_tree(%q, OPEN_TREE_CLONE|AT_RECURSIVE), %q)", v.Host, target)
		attach = func() error {
			return unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
		}
	}
	if err := event.Step(sink, action, fmt.Sprintf("mount --rbind %s %s", v.Host, target), func() error {
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		return attach()
	}); err != nil {
		return err
	}
	if !v.ReadOnly {
		return nil
	}
	return event.Step(sink, fmt.Sprintf("mount(%q, MS_REMOUNT|MS_BIND|MS_RDONLY)", target), "mount -o remount,bind,ro "+target, func() error {
		return remountReadOnly(target)
	})
}

// mountResolvConf binds the sandbox's resolver file over its
// /etc/resolv.conf, read-only, as Docker does. A root filesystem without
// that file keeps its own: the mount point is not made in a learner's
// directory, and `nslookup NAME 127.0.0.11` still reaches the server.
func mountResolvConf(root, source string, sink event.Sink) error {
	target, err := inRoot(root, "/etc/resolv.conf")
	if err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	if fi, err := os.Lstat(target); err != nil || !fi.Mode().IsRegular() {
		event.Narrate(sink, "This root filesystem has no /etc/resolv.conf to mount the resolver file over; ask the DNS server directly: nslookup NAME 127.0.0.11.")
		return nil
	}
	if err := event.Step(sink, fmt.Sprintf("mount(%q, %q, MS_BIND)", source, target), fmt.Sprintf("mount --bind %s %s", source, target), func() error {
		return unix.Mount(source, target, "", unix.MS_BIND, "")
	}); err != nil {
		return err
	}
	return event.Step(sink, fmt.Sprintf("mount(%q, MS_REMOUNT|MS_BIND|MS_RDONLY)", target), "mount -o remount,bind,ro "+target, func() error {
		return remountReadOnly(target)
	})
}

// inRoot joins a path inside the sandbox to its root, refusing one that
// would pass through a symlink in the root filesystem: a rootfs could
// otherwise point /data at /etc and have the host's directory mounted
// over the host's /etc.
func inRoot(root, p string) (string, error) {
	cur := root
	for _, part := range strings.Split(filepath.Clean("/"+p), "/") {
		if part == "" {
			continue
		}
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return "", fmt.Errorf("%s is a symlink inside the root filesystem; refusing to mount through it", strings.TrimPrefix(cur, root))
		}
	}
	return cur, nil
}

// remountReadOnly makes a bind mount read-only, keeping the flags it has:
// inside a user namespace the kernel refuses a remount that would clear
// flags (nosuid, nodev, atime) locked by the mount's original owner.
func remountReadOnly(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return err
	}
	keep := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME)
	return unix.Mount("", path, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|keep, "")
}

func maskProc(sink event.Sink) error {
	for _, p := range maskedPaths {
		fi, err := os.Stat(p)
		if err != nil {
			continue // not on this kernel, or /sys not mounted
		}
		if fi.IsDir() {
			err = event.Step(sink, fmt.Sprintf("mount(\"tmpfs\", %q, MS_RDONLY)", p), "mount -t tmpfs -o ro tmpfs "+p, func() error {
				return unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
			})
		} else {
			err = event.Step(sink, fmt.Sprintf("mount(\"/dev/null\", %q, MS_BIND)", p), "mount --bind /dev/null "+p, func() error {
				return unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
			})
		}
		if err != nil {
			return err
		}
	}
	for _, p := range readonlyPaths {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := event.Step(sink, fmt.Sprintf("mount(%q, %q, MS_BIND) + remount MS_RDONLY", p, p), fmt.Sprintf("mount --bind %s %s && mount -o remount,bind,ro %s", p, p, p), func() error {
			if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return err
			}
			return remountReadOnly(p)
		}); err != nil {
			return err
		}
	}
	return nil
}

// loopbackUp sets IFF_UP on "lo": a new network namespace starts with
// loopback down.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}
