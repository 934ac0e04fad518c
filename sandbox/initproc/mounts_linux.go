//go:build linux

package initproc

import (
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// rootOps are the steps that prepare the sandbox's view of the
// filesystem from inside its mount namespace, in runc's order
// (libcontainer/rootfs_linux.go): make every mount private, bind the new
// root onto itself, mount /proc, /dev and /sys inside it *before* the
// switch (afterwards the host's /proc would be out of reach), switch
// root, then mask what a container must not read. First the hostname and
// loopback.
func rootOps(c *Config) []Op {
	var ops []Op
	if c.has(NSUTS) {
		ops = append(ops, Op{Kind: OpHostname, Data: c.Hostname, Action: fmt.Sprintf("sethostname(%q)", c.Hostname), Shell: "hostname " + c.Hostname})
	}
	if c.has(NSNet) {
		ops = append(ops, Op{Kind: OpLoopback, Action: `ioctl(SIOCSIFFLAGS, "lo", IFF_UP)`, Shell: "ip link set lo up"})
	}
	if !c.has(NSMount) {
		// Without a mount namespace every mount would land on the host,
		// so only chroot is possible and nothing is mounted.
		ops = append(ops, narrate("No mount namespace: nothing is mounted, so /proc inside the root is whatever the root filesystem has."))
		return append(ops, switchRoot(c)...)
	}
	root := c.Root
	ops = append(ops,
		Op{Kind: OpMount, Path: "/", Flags: unix.MS_REC | unix.MS_PRIVATE, Action: `mount("", "/", MS_REC|MS_PRIVATE)`, Shell: "mount --make-rprivate /"})
	if c.Overlay != "" {
		// Rootless: the overlay is mounted here, in the user namespace
		// (Linux 5.11+), where its owner is root; the host would refuse
		// the unprivileged parent.
		ops = append(ops, Op{Kind: OpMount, Source: "overlay", Path: root, FSType: "overlay", Data: c.Overlay,
			Action: fmt.Sprintf("mount(\"overlay\", %q, \"overlay\", 0, %q)", root, c.Overlay), Shell: fmt.Sprintf("mount -t overlay overlay -o %s %s", c.Overlay, root)})
	} else {
		ops = append(ops, Op{Kind: OpMount, Source: c.Rootfs, Path: root, Flags: unix.MS_BIND | unix.MS_REC,
			Action: fmt.Sprintf("mount(%q, %q, MS_BIND|MS_REC)", c.Rootfs, root), Shell: fmt.Sprintf("mount --rbind %s %s", c.Rootfs, root)})
	}
	ops = append(ops, procOps(c)...)
	ops = append(ops, devOps(c)...)
	ops = append(ops, sysOps(c)...)
	if c.ReadOnly {
		// A read-only root keeps the shared, cached root filesystem
		// pristine; these are where a program expects to write.
		for _, d := range scratchDirs {
			mode := "mode=755"
			if d == "/tmp" {
				mode = "mode=1777"
			}
			ops = append(ops, mountIn(root, d, "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, mode+",size=64m"))
		}
	}
	for i, v := range c.Volumes {
		fd := 0
		if i < len(c.VolumeFDs) {
			fd = c.VolumeFDs[i]
		}
		ops = append(ops, volumeOps(root, v, fd)...)
	}
	if c.ResolvConf != "" {
		ops = append(ops, resolvConfOps(root, c.ResolvConf)...)
	}
	if c.RootMode == RootChroot && c.ReadOnly {
		// A convenience for the lesson, not part of the isolation: the
		// sandbox runs without it when the program cannot be reached.
		target := filepath.Join(root, EscapeDir, escapeTool)
		ops = append(ops, Op{Kind: OpEscapeTool, Path: target,
			Action: fmt.Sprintf("mount(readlink(\"/proc/self/exe\"), %q, MS_BIND|MS_RDONLY)", target),
			Shell:  fmt.Sprintf("touch %s && mount --bind -o ro $(command -v kcna-lab-init) %s", target, target)})
	}
	if c.ReadOnly {
		ops = append(ops, Op{Kind: OpRemountRO, Path: root, Action: fmt.Sprintf("mount(%q, MS_REMOUNT|MS_BIND|MS_RDONLY)", root), Shell: "mount -o remount,bind,ro " + root})
	}
	ops = append(ops, switchRoot(c)...)
	return append(ops, maskOps()...)
}

func narrate(text string) Op { return Op{Kind: OpNarrate, Text: text} }

// switchRoot makes c.Root the process's "/", by pivot_root or chroot.
func switchRoot(c *Config) []Op {
	dir := c.Root
	if !c.has(NSMount) {
		// Nothing was mounted at Root; go to the root filesystem itself.
		dir = c.Rootfs
	}
	ops := []Op{{Kind: OpChdir, Path: dir, Action: fmt.Sprintf("chdir(%q)", dir), Shell: "cd " + dir}}
	if c.RootMode == RootChroot {
		return append(ops, Op{Kind: OpChroot, Action: `chroot(".")`, Shell: "chroot ."})
	}
	// pivot_root(".", ".") stacks the old root on top of the new one at the
	// same place, so it needs no writable directory to put the old root
	// in; unmounting "." then removes the old root and leaves the new.
	return append(ops,
		Op{Kind: OpPivot, Action: `pivot_root(".", ".")`, Shell: "pivot_root . .  # the old root now sits on top of the new one"},
		Op{Kind: OpMount, Path: ".", Flags: unix.MS_SLAVE | unix.MS_REC, Action: `mount("", ".", MS_SLAVE|MS_REC)`, Shell: "mount --make-rslave ."},
		Op{Kind: OpUmount, Path: ".", Flags: unix.MNT_DETACH, Action: `umount2(".", MNT_DETACH)`, Shell: "umount -l .  # detach the host's tree: nothing of it stays reachable"},
		Op{Kind: OpChdir, Path: "/", Action: `chdir("/")`, Shell: "cd /"},
	)
}

func procOps(c *Config) []Op {
	if c.has(NSPid) {
		return []Op{mountIn(c.Root, "/proc", "proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")}
	}
	// A new proc instance shows the PID namespace of its mounter; without
	// one the honest view is the host's own /proc.
	target := filepath.Join(c.Root, "proc")
	return []Op{{Kind: OpMount, Source: "/proc", Path: target, Flags: unix.MS_BIND | unix.MS_REC, Mkdir: 0o555,
		Action: fmt.Sprintf("mount(\"/proc\", %q, MS_BIND|MS_REC)", target), Shell: "mount --rbind /proc " + target}}
}

// devices are bind-mounted from the host: a user namespace may not mknod.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

func devOps(c *Config) []Op {
	root := c.Root
	ops := []Op{mountIn(root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k")}
	dev := filepath.Join(root, "dev")
	for _, d := range devices {
		target := filepath.Join(dev, d)
		ops = append(ops, Op{Kind: OpMount, Source: "/dev/" + d, Path: target, Flags: unix.MS_BIND, Touch: true,
			Action: fmt.Sprintf("mount(\"/dev/%s\", %q, MS_BIND)", d, target), Shell: fmt.Sprintf("touch %s && mount --bind /dev/%s %s", target, d, target)})
	}
	ops = append(ops,
		mountIn(root, "/dev/pts", "devpts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"),
		mountIn(root, "/dev/shm", "shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k"))
	if c.has(NSIPC) {
		ops = append(ops, mountIn(root, "/dev/mqueue", "mqueue", "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""))
	}
	links := [][2]string{{"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}}
	for _, l := range links {
		ops = append(ops, Op{Kind: OpSymlink, Source: l[0], Path: filepath.Join(dev, l[1]), Label: "/dev/" + l[1]})
	}
	return ops
}

func sysOps(c *Config) []Op {
	if !c.has(NSNet) {
		// The kernel lets a user namespace mount sysfs only together with
		// its own network namespace; without one /sys stays empty.
		return []Op{narrate("No network namespace: /sys is left empty inside (sysfs shows the network namespace of whoever mounts it).")}
	}
	return []Op{mountIn(c.Root, "/sys", "sysfs", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_RDONLY, "")}
}

// mountIn mounts a filesystem at dir inside root, creating the directory.
func mountIn(root, dir, source, fstype string, flags uint64, data string) Op {
	target := filepath.Join(root, dir)
	opts := mountOptions(flags, data)
	shell := fmt.Sprintf("mount -t %s %s %s", fstype, source, target)
	if opts != "" {
		shell = fmt.Sprintf("mount -t %s -o %s %s %s", fstype, opts, source, target)
	}
	return Op{Kind: OpMount, Source: source, Path: target, FSType: fstype, Flags: flags, Data: data, Mkdir: 0o755,
		Action: fmt.Sprintf("mount(%q, %q, %q, %s)", source, target, fstype, opts), Shell: shell}
}

func mountOptions(flags uint64, data string) string {
	var o []string
	for _, f := range []struct {
		bit  uint64
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

// volumeOps bind a host directory at v.Target. With fd, a detached copy
// of the directory's mount tree that the parent made with
// open_tree(OPEN_TREE_CLONE), it is attached with move_mount: the
// sandbox's root, an unprivileged user on the host, never has to walk the
// host path, so a volume under a 0700 home works. Without one (a kernel
// before 5.2), it is bound by path.
func volumeOps(root string, v Volume, fd int) []Op {
	target := filepath.Join(root, filepath.Clean("/"+v.Target))
	op := Op{Kind: OpMount, Source: v.Host, Path: target, Flags: unix.MS_BIND | unix.MS_REC, Mkdir: 0o755,
		Contained: true, Label: "volume " + v.Target,
		Action: fmt.Sprintf("mount(%q, %q, MS_BIND|MS_REC)", v.Host, target), Shell: fmt.Sprintf("mount --rbind %s %s", v.Host, target)}
	if fd > 0 {
		op.Kind, op.FD, op.Source, op.Flags = OpMoveMount, fd, "", 0
		op.Action = fmt.Sprintf("move_mount(open_tree(%q, OPEN_TREE_CLONE|AT_RECURSIVE), %q)", v.Host, target)
	}
	ops := []Op{op}
	if v.ReadOnly {
		ops = append(ops, Op{Kind: OpRemountRO, Path: target, Action: fmt.Sprintf("mount(%q, MS_REMOUNT|MS_BIND|MS_RDONLY)", target), Shell: "mount -o remount,bind,ro " + target})
	}
	return ops
}

// resolvConfOps bind the sandbox's resolver file over its
// /etc/resolv.conf, read-only, as Docker does. A root filesystem without
// that file keeps its own: the mount point is not made in a learner's
// directory, and `nslookup NAME 127.0.0.11` still reaches the server.
func resolvConfOps(root, source string) []Op {
	target := filepath.Join(root, "/etc/resolv.conf")
	return []Op{
		{Kind: OpIfFile, Path: target, Contained: true, Label: "resolv.conf", Skip: 2,
			Text: "This root filesystem has no /etc/resolv.conf to mount the resolver file over; ask the DNS server directly: nslookup NAME 127.0.0.11."},
		{Kind: OpMount, Source: source, Path: target, Flags: unix.MS_BIND, Action: fmt.Sprintf("mount(%q, %q, MS_BIND)", source, target), Shell: fmt.Sprintf("mount --bind %s %s", source, target)},
		{Kind: OpRemountRO, Path: target, Action: fmt.Sprintf("mount(%q, MS_REMOUNT|MS_BIND|MS_RDONLY)", target), Shell: "mount -o remount,bind,ro " + target},
	}
}

// maskOps hide what runc hides (paths.go), once the root is switched.
func maskOps() []Op {
	var ops []Op
	for _, p := range maskedPaths {
		ops = append(ops, Op{Kind: OpMask, Path: p,
			Action: fmt.Sprintf("mount(\"tmpfs\", %q, MS_RDONLY)", p), Shell: "mount -t tmpfs -o ro tmpfs " + p,
			AltAction: fmt.Sprintf("mount(\"/dev/null\", %q, MS_BIND)", p), AltShell: "mount --bind /dev/null " + p})
	}
	for _, p := range readonlyPaths {
		ops = append(ops, Op{Kind: OpReadonly, Path: p,
			Action: fmt.Sprintf("mount(%q, %q, MS_BIND) + remount MS_RDONLY", p, p), Shell: fmt.Sprintf("mount --bind %s %s && mount -o remount,bind,ro %s", p, p, p)})
	}
	return ops
}
