//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/idmap"
)

// openVolumes makes, per volume, a detached copy of its host directory
// as kcna-lab (root, or its own user) sees it, for the init to attach;
// nil for one where the kernel has no open_tree (before 5.2) or the path
// cannot be opened, which the init then mounts by path (and reports).
//
// As root with a user namespace, root inside is uid 100000 on the host,
// a stranger to the learner's files. Each copy is then idmapped: the
// learner behind sudo is root inside, and what root writes there is
// theirs on the host. Where the kernel or filesystem cannot, a warning
// says so before the sandbox starts, and how to fix it.
func (sb *Sandbox) openVolumes(userns bool) []*os.File {
	var files []*os.File
	mapOwner := userns && os.Geteuid() == 0
	uid, gid := VolumeOwner()
	for _, v := range sb.spec.Volumes {
		f, err := openTree(v.Host)
		files = append(files, f)
		if !mapOwner {
			continue
		}
		if uid == 0 || gid == 0 {
			event.Narrate(sb.sink, fmt.Sprintf("Volume %s is not idmapped: kcna-lab runs as root itself, not under sudo, and mapping the host's root into the sandbox would let it make setuid-root files there. Root inside writes as uid %d; run kcna-lab with sudo from your own account to write as you.", v.Target, RootMapBase))
			continue
		}
		if err == nil {
			err = event.Step(sb.sink,
				fmt.Sprintf("mount_setattr(open_tree(%q), MOUNT_ATTR_IDMAP|MOUNT_ATTR_NOSUID, userns %d→%d)", v.Host, uid, RootMapBase),
				fmt.Sprintf("mount --bind -o nosuid,X-mount.idmap=u:%d:%d:1 %s TARGET  # util-linux 2.39+", uid, RootMapBase, v.Host),
				func() error { return idmap.Apply(f, uid, gid, RootMapBase) })
		}
		if err == nil {
			event.Narrate(sb.sink, fmt.Sprintf("Volume %s is idmapped: files of uid %d on the host are root's inside, and what root inside writes there belongs to uid %d on the host.", v.Target, uid, uid))
			continue
		}
		event.Warn(sb.sink, fmt.Sprintf("volume %s is not idmapped: %v. Root in the sandbox is uid %d on the host, so it may write there only if that uid may (sudo chown %d %s), and what it writes is not yours. "+
			"Fix: a directory on ext4 or xfs (btrfs needs Linux 5.15, tmpfs 6.3), or run kcna-lab as yourself, not root (rootless: root inside is you).",
			v.Host, err, RootMapBase, RootMapBase, v.Host))
	}
	return files
}

// IdmapProblem says why a volume of dir could not be idmapped here,
// trying it on a detached copy that is then dropped; nil if it could.
func IdmapProblem(dir string) error {
	f, err := openTree(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return idmap.Apply(f, 1, 1, RootMapBase)
}

// openTree is open_tree(OPEN_TREE_CLONE|AT_RECURSIVE) of host.
func openTree(host string) (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, host, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if errors.Is(err, unix.ENOSYS) {
		return nil, errors.New("this kernel has no open_tree (Linux 5.2 and later do)")
	}
	if err != nil {
		return nil, fmt.Errorf("open_tree(%s): %w", host, err)
	}
	return os.NewFile(uintptr(fd), "volume "+host), nil
}

// VolumeWriter is the host uid as which root in a sandbox with the
// default namespaces writes into a volume of dir: the caller when
// rootless (root inside is you) or without a user namespace (root is
// root); as root with one, the learner behind sudo through an idmapped
// mount, else (no sudo, or no idmapping here) the start of the mapped
// range.
func VolumeWriter(dir string) int {
	if os.Geteuid() != 0 {
		return os.Geteuid()
	}
	if !slices.Contains(DefaultIsolation(), NSUser) {
		return 0
	}
	if uid, gid := VolumeOwner(); uid > 0 && gid > 0 && IdmapProblem(dir) == nil {
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
