//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
)

// Doctor inspects the host, then tries what it found in throw-away
// sandboxes (probe), each removed as any sandbox is. What stays is what a
// first sandbox leaves anyway: the cached root filesystem, and kernel
// modules (overlay, veth, bridge) loaded on demand.
func Doctor() Report {
	var r Report
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		r.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	r.Root = os.Geteuid() == 0
	if err := UserNamespaceBlocked(); err != nil {
		r.UserNS = err.Error()
	}
	avail := Available()
	r.Namespaces = map[Namespace]string{}
	for _, n := range AllNamespaces {
		switch {
		case !slices.Contains(avail, n):
			r.Namespaces[n] = fmt.Sprintf("this kernel has no %s namespace (no /proc/self/ns/%s)", n, n)
		case !r.Root && r.UserNS != "":
			r.Namespaces[n] = "needs root or a user namespace: " + r.UserNS
		case n == NSUser && r.UserNS != "":
			r.Namespaces[n] = r.UserNS
		default:
			r.Namespaces[n] = ""
		}
	}
	r.Cgroup.Controllers = map[string]string{}
	if h, err := cgroup.Detect(); err != nil {
		r.Cgroup.Problem = err.Error()
	} else {
		r.Cgroup.Mode = h.Mode()
		for name, v := range h.Controllers() {
			r.Cgroup.Controllers[name] = v.String()
		}
		if err := h.Usable(!r.Root); err != nil {
			r.Cgroup.Problem = err.Error()
		}
	}
	if !filesystemSupported("overlay") {
		r.Overlay = "overlayfs is not in /proc/filesystems: load it with `modprobe overlay`"
	}
	if err := SeccompUnavailable(); err != nil {
		r.Seccomp = err.Error() + ": sandboxes run without Docker's default profile, and --seccomp FILE is refused"
	}
	r.Busybox = rootfs.StaticBusybox()
	r.Init = InitProgram()
	if kind, err := InitKind(); err != nil {
		r.InitProblem = err.Error()
	} else {
		r.InitKind = kind
	}
	probe(&r)
	return r
}

// UserNamespaceBlocked says which setting, if any, stops the caller from
// creating a user namespace, and how to change it.
func UserNamespaceBlocked() error {
	if v, err := readInt("/proc/sys/user/max_user_namespaces"); err == nil && v == 0 {
		return errors.New("user namespaces are disabled: user.max_user_namespaces is 0; enable them with `sudo sysctl -w user.max_user_namespaces=15000`")
	}
	if os.Geteuid() == 0 {
		return nil
	}
	if v, err := readInt("/proc/sys/kernel/unprivileged_userns_clone"); err == nil && v == 0 {
		return errors.New("unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone is 0 (a Debian setting); enable them with `sudo sysctl -w kernel.unprivileged_userns_clone=1`, or run kcna-lab with sudo")
	}
	if v, err := readInt("/proc/sys/kernel/apparmor_restrict_unprivileged_userns"); err == nil && v == 1 && !appArmorProfileActive() {
		return fmt.Errorf("AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns is 1 (Ubuntu 23.10 and later). "+
			"Install kcna-lab's profile, which allows them to kcna-lab's own programs alone, naming each by its path (again after an upgrade or a move): `kcna-lab apparmor | sudo tee %s && sudo apparmor_parser -r %s`; or run kcna-lab with sudo",
			AppArmorProfilePath, AppArmorProfilePath)
	}
	return nil
}

func readInt(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func filesystemSupported(name string) bool {
	f, err := os.Open("/proc/filesystems")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 && fields[len(fields)-1] == name {
			return true
		}
	}
	return false
}
