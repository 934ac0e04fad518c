//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/sandbox/event"
	"github.com/kcna-lab/kcna-lab/sandbox/idmap"
)

// openVolumes makes, per volume, a detached copy of its host directory
// as kcna-lab (root, or its own user) sees it, for the init to attach;
// nil for one where the kernel has no open_tree (before 5.2), which the
// init then mounts by path.
//
// As root with a user namespace, root inside is uid 100000 on the host,
// a stranger to the learner's files. Each copy is then idmapped: the
// invoking user (the one behind sudo) is root inside, and what root
// writes there is theirs on the host. Where the kernel or filesystem
// cannot, a warning says so before the sandbox starts, and how to fix it.
func (sb *Sandbox) openVolumes(userns bool) []*os.File {
	var files []*os.File
	mapOwner := userns && os.Geteuid() == 0
	uid, gid := VolumeOwner()
	for _, v := range sb.spec.Volumes {
		f := openTree(v.Host)
		files = append(files, f)
		if !mapOwner {
			continue
		}
		err := errNoOpenTree
		if f != nil {
			err = event.Step(sb.sink,
				fmt.Sprintf("mount_setattr(open_tree(%q), MOUNT_ATTR_IDMAP, userns %d→%d)", v.Host, uid, RootMapBase),
				fmt.Sprintf("mount --bind -o X-mount.idmap=u:%d:%d:1 %s TARGET  # util-linux 2.39+", uid, RootMapBase, v.Host),
				func() error { return idmap.Apply(f, uid, gid, RootMapBase) })
		}
		if err == nil {
			event.Narrate(sb.sink, fmt.Sprintf("Volume %s is idmapped: files of uid %d on the host are root's inside, and what root inside writes there belongs to uid %d on the host.", v.Target, uid, uid))
			continue
		}
		event.Warn(sb.sink, fmt.Sprintf("volume %s is not idmapped: %v. Root in the sandbox is uid %d on the host, so it may write there only if that uid may (sudo chown %d %s), and what it writes is not yours. "+
			"Fix: a directory on ext4, xfs or btrfs (tmpfs needs Linux 6.3), or run kcna-lab as yourself, not root (rootless: root inside is you).",
			v.Host, err, RootMapBase, RootMapBase, v.Host))
	}
	return files
}

// IdmapProblem says why a volume of dir would not be idmapped when
// kcna-lab runs as root with a user namespace, trying it on a detached
// copy that is then dropped; nil if it would be.
func IdmapProblem(dir string) error {
	f := openTree(dir)
	if f == nil {
		return errNoOpenTree
	}
	defer f.Close()
	return idmap.Apply(f, 0, 0, RootMapBase)
}

var errNoOpenTree = fmt.Errorf("this kernel has no open_tree (Linux 5.2 and later do)")

// openTree is open_tree(OPEN_TREE_CLONE|AT_RECURSIVE) of host, or nil.
func openTree(host string) *os.File {
	fd, err := unix.OpenTree(unix.AT_FDCWD, host, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "volume "+host)
}

// VolumeWriter is the host uid as which root in a sandbox with the
// default namespaces writes into a volume of dir: the caller when
// rootless (root inside is you) or without a user namespace (root is
// root); as root with one, the volume's owner through an idmapped mount,
// else the start of the mapped range.
func VolumeWriter(dir string) int {
	if os.Geteuid() != 0 {
		return os.Geteuid()
	}
	if !slices.Contains(DefaultIsolation(), NSUser) {
		return 0
	}
	if IdmapProblem(dir) == nil {
		uid, _ := VolumeOwner()
		return uid
	}
	return RootMapBase
}

// VolumeOwner is whom a volume's files belong to: the learner behind
// sudo, else the caller.
func VolumeOwner() (uid, gid int) {
	uid, gid = os.Geteuid(), os.Getegid()
	if uid != 0 {
		return uid, gid
	}
	if u, err := strconv.Atoi(os.Getenv("SUDO_UID")); err == nil && u > 0 {
		uid = u
		if g, err := strconv.Atoi(os.Getenv("SUDO_GID")); err == nil {
			gid = g
		}
	}
	return uid, gid
}
