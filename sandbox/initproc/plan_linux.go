//go:build linux

package initproc

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// BuildPlan is the parent's half of building a sandbox: every step the
// init will take, in order, for the config c, and the command. The parent
// calls it last, once c is complete, and sends the plan.
func BuildPlan(c *Config) (*Plan, error) {
	ops := rootOps(c)
	if c.Dir != "" {
		ops = append(ops, Op{Kind: OpChdir, Path: c.Dir, Mkdir: 0o755, Action: fmt.Sprintf("mkdir(%q); chdir(%q)", c.Dir, c.Dir), Shell: fmt.Sprintf("mkdir -p %s && cd %s", c.Dir, c.Dir)})
	}
	if c.has(NSCgroup) {
		// Unshared by the init, after the parent moved it into its
		// cgroup, so that the sandbox's cgroup is the root of its view.
		ops = append(ops, Op{Kind: OpUnshare, Flags: unix.CLONE_NEWCGROUP, Action: "unshare(CLONE_NEWCGROUP)", Shell: "unshare --cgroup"})
	}
	if c.has(NSTime) {
		op, err := timeNSOp()
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
	}
	if !c.has(NSUser) && !slices.Contains(c.CapDrop, unix.CAP_MKNOD) {
		// Root here is the host's root. CAP_MKNOD would let it make a node
		// for a host disk in its writable /dev; Docker refuses opening one
		// with its device cgroup, which kcna-lab does not set up. In a
		// user namespace the kernel refuses device nodes by itself.
		ops = append(ops, narrate("No user namespace, so root in here is the host's root: CAP_MKNOD is dropped too, or it could create a node for a host disk (Docker keeps it and forbids the device with its device cgroup instead)."))
	}
	caps, err := capOps(c.dropped())
	if err != nil {
		return nil, err
	}
	ops = append(ops, caps...)
	ops = append(ops, Op{Kind: OpNoNewPrivs, Action: "prctl(PR_SET_NO_NEW_PRIVS, 1)", Shell: "setpriv --no-new-privs"})
	if c.Seccomp != nil {
		ops = append(ops, seccompOp(c.Seccomp))
	}
	p := &Plan{Root: c.Root, Ops: ops, Args: c.Args, Env: c.Env, Tty: c.Tty, Hold: c.Hold, Escape: c.Escape}
	p.Native = !c.Tty && !c.Hold && !c.Escape && !p.has(OpEscapeTool)
	return p, nil
}

// timeNSOp creates a time namespace for the sandbox's processes and sets
// its clocks back so that uptime inside starts near zero, like a freshly
// booted machine. The clocks are read here, in the parent, which shares
// its time namespace with the init until this step: the init only writes
// the offsets, and uptime inside starts at one second plus the few
// milliseconds until then.
func timeNSOp() (Op, error) {
	var boot, mono unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot); err != nil {
		return Op{}, fmt.Errorf("read CLOCK_BOOTTIME: %w", err)
	}
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono); err != nil {
		return Op{}, fmt.Errorf("read CLOCK_MONOTONIC: %w", err)
	}
	b, m := -(boot.Sec - 1), -(mono.Sec - 1)
	return Op{Kind: OpTimeNS, Data: fmt.Sprintf("boottime %d 0\nmonotonic %d 0\n", b, m),
		Action: "unshare(CLONE_NEWTIME)", Shell: "unshare --time",
		AltAction: "write /proc/self/timens_offsets", AltShell: fmt.Sprintf("unshare --time --boottime %d --monotonic %d", b, m)}, nil
}

// runPlan carries out the plan on the calling thread, which must be the
// one that forks the sandbox's processes: capabilities, no_new_privs and
// the namespaces for children are per thread.
func runPlan(p *Plan, rep *reporter) error {
	for i := 0; i < len(p.Ops); i++ {
		op := &p.Ops[i]
		if op.Contained {
			if err := contained(p.Root, op.Path); err != nil {
				return fmt.Errorf("%s: %w", op.Label, err)
			}
		}
		var err error
		switch op.Kind {
		case OpNarrate:
			rep.narrate(i)
		case OpIfFile:
			if fi, lerr := os.Lstat(op.Path); lerr != nil || !fi.Mode().IsRegular() {
				rep.narrate(i)
				i += op.Skip
			}
		case OpSymlink:
			if err := os.Symlink(op.Source, op.Path); err != nil {
				return fmt.Errorf("symlink %s: %w", op.Label, err)
			}
		case OpMask:
			fi, serr := os.Stat(op.Path)
			switch {
			case serr != nil: // not on this kernel, or /sys not mounted
			case fi.IsDir():
				err = rep.step(i, PartMain, func() error {
					return unix.Mount("tmpfs", op.Path, "tmpfs", unix.MS_RDONLY, "size=0")
				})
			default:
				err = rep.step(i, PartAlt, func() error {
					return unix.Mount("/dev/null", op.Path, "", unix.MS_BIND, "")
				})
			}
		case OpReadonly:
			if _, serr := os.Stat(op.Path); serr == nil {
				err = rep.step(i, PartMain, func() error {
					if err := unix.Mount(op.Path, op.Path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
						return err
					}
					return remountReadOnly(op.Path)
				})
			}
		case OpTimeNS:
			err = newTimeNamespace(rep, i, op)
		case OpEscapeTool:
			if eerr := rep.step(i, PartMain, func() error { return mountEscapeTool(op.Path) }); eerr != nil {
				rep.say(fmt.Sprintf("The escape program is not available in this sandbox (%v): the sandbox's root user cannot reach kcna-lab-init where it is installed.", eerr))
			}
		default:
			err = rep.step(i, PartMain, func() error { return step(op) })
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// step is one plain system call of the plan.
func step(op *Op) error {
	switch op.Kind {
	case OpHostname:
		return unix.Sethostname([]byte(op.Data))
	case OpLoopback:
		return loopbackUp()
	case OpMount, OpMoveMount:
		if op.Mkdir != 0 {
			if err := os.MkdirAll(op.Path, os.FileMode(op.Mkdir)); err != nil {
				return err
			}
		}
		if op.Touch {
			if err := os.WriteFile(op.Path, nil, 0o666); err != nil {
				return err
			}
		}
		if op.Kind == OpMoveMount {
			return unix.MoveMount(op.FD, "", unix.AT_FDCWD, op.Path, unix.MOVE_MOUNT_F_EMPTY_PATH)
		}
		return unix.Mount(op.Source, op.Path, op.FSType, uintptr(op.Flags), op.Data)
	case OpRemountRO:
		return remountReadOnly(op.Path)
	case OpChdir:
		if op.Mkdir != 0 {
			if err := os.MkdirAll(op.Path, os.FileMode(op.Mkdir)); err != nil {
				return err
			}
		}
		return unix.Chdir(op.Path)
	case OpChroot:
		if err := unix.Chroot("."); err != nil {
			return err
		}
		return unix.Chdir("/")
	case OpPivot:
		return unix.PivotRoot(".", ".")
	case OpUmount:
		return unix.Unmount(op.Path, int(op.Flags))
	case OpUnshare:
		return unix.Unshare(int(op.Flags))
	case OpBounding:
		return dropBounding(op.Keep, op.Last)
	case OpCapset:
		return capset(op.Keep)
	case OpNoNewPrivs:
		return unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	case OpSeccomp:
		return loadSeccomp(op)
	}
	return fmt.Errorf("step %d is unknown to this init: rebuild kcna-lab and kcna-lab-init together (`make build`)", op.Kind)
}

// contained refuses a path under root that passes through a symlink in
// the root filesystem: a rootfs could otherwise point /data at /etc and
// have the host's directory mounted over the host's /etc.
func contained(root, path string) error {
	rel, ok := strings.CutPrefix(path, root)
	if !ok {
		return fmt.Errorf("%s is outside the sandbox's root %s", path, root)
	}
	cur := root
	for _, part := range strings.Split(rel, "/") {
		if part == "" {
			continue
		}
		cur += "/" + part
		fi, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("%s is a symlink inside the root filesystem; refusing to mount through it", strings.TrimPrefix(cur, root))
		}
	}
	return nil
}

// newTimeNamespace creates the time namespace the sandbox's processes
// start in, and sets its clocks back with the offsets the plan carries
// (timeNSOp). Offsets can be written only before any process enters the
// namespace.
func newTimeNamespace(rep *reporter, i int, op *Op) error {
	if err := rep.step(i, PartMain, func() error { return unix.Unshare(unix.CLONE_NEWTIME) }); err != nil {
		return err
	}
	return rep.step(i, PartAlt, func() error {
		return os.WriteFile("/proc/self/timens_offsets", []byte(op.Data), 0)
	})
}

// mountEscapeTool puts this program, read-only, at target (/run/kcna/escape
// in a chroot-mode sandbox), so that the chroot lesson's learners can run
// the classic escape themselves. /run is the sandbox's own tmpfs.
func mountEscapeTool(target string) error {
	if err := os.MkdirAll(target[:strings.LastIndex(target, "/")], 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(target, nil, 0o755); err != nil {
		return err
	}
	// By its path, not through the /proc/self/exe link: when this program
	// was started through that link (kcna-lab as its own init), the link
	// leads to the host's mount namespace, which a bind mount may not take
	// its source from.
	self, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return err
	}
	if err := unix.Mount(self, target, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return remountReadOnly(target)
}

// remountReadOnly makes a bind mount read-only, keeping the flags it has:
// inside a user namespace the kernel refuses a remount that would clear
// flags (nosuid, nodev, atime) locked by the mount's original owner.
func remountReadOnly(path string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return err
	}
	// statfs's ST_* flags and mount's MS_* agree on these bits. Not
	// relatime, whose ST_ bit is MS_BIND's: a remount keeps atime flags
	// it is not given anyway.
	keep := uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME)
	return unix.Mount("", path, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|keep, "")
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
