package sandbox

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"

	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// Spec describes one sandbox: what to run and how it is isolated.
type Spec struct {
	// Name identifies a running sandbox for `exec` and `stop`. Empty means
	// a generated one. Host objects are named "kcna-" + Name.
	Name string
	// Args is the command and its arguments, run inside the sandbox.
	Args []string
	// Env is the command's environment; nil means a small default.
	Env []string
	// Dir is the command's working directory inside, made if missing (an
	// image's WORKDIR); "" means "/".
	Dir string
	// Isolate is the set of namespaces to create; nil means every one the
	// host allows (see Available).
	Isolate []Namespace
	// Root is how the process is confined to its root filesystem.
	Root RootMode
	// Rootfs is a directory, a .tar or .tar.gz file, or "" for the default
	// busybox root filesystem.
	Rootfs string
	// Hostname is set inside a new UTS namespace; "" means Name.
	Hostname string
	// Limits are the cgroup limits; the zero value sets none.
	Limits Limits
	// Volumes are host directories bind-mounted into the sandbox.
	Volumes []Volume
	// Stdin, Stdout and Stderr connect the command. A nil Stdout or Stderr
	// sends that stream as output events instead; a nil Stdin is empty.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Tty says Stdin/Stdout/Stderr are the learner's terminal (`shell`):
	// the sandbox takes the foreground and gives it back.
	Tty bool
	// Escape runs kcna-lab's own chroot-escape program inside instead of
	// a command from the root filesystem; Args are then its arguments
	// (paths to look for after the climb). It is the chroot lesson's demo:
	// it gets out under RootChroot and stays in under RootPivot.
	Escape bool
	// Hold starts no command: the sandbox's init holds its namespaces
	// until it is stopped, like a Kubernetes pod's pause container, and
	// `exec` starts processes in it.
	Hold bool
	// Overlay gives the sandbox a writable layer over its root filesystem
	// (overlayfs), which it loses when it ends, as a container does.
	Overlay bool
	// Layers are read-only directories stacked over the root filesystem,
	// the last on top; they imply Overlay.
	Layers []string
	// Diff, when set with Overlay or Layers, is called with the writable
	// layer's directory after the command has ended and before the layer
	// is removed: how `kcna-lab build` turns a RUN step's changes into an
	// image layer, as `docker commit` does.
	Diff func(upper string) error
	// CapDrop removes capabilities (e.g. "NET_RAW") from the default set
	// the sandbox's processes keep.
	CapDrop []string
	// Seccomp is the sandbox's system call filter: "" or "default" for
	// Docker's default profile, "unconfined" for none, or the path of a
	// profile in Docker's JSON format (package kernel/seccomp).
	Seccomp string
	// Net plugs the sandbox into a bridge (--net bridge): an address of
	// its own, a default route, DNS for NAME.kcna.local and published
	// ports. Nil leaves its network namespace with loopback only.
	Net *Net
	// Node is the orchestrator's node the sandbox is scheduled on: its
	// cgroup is made under the node's, whose limits are the node's
	// capacity. "" puts it directly under kcna-lab.
	Node string
}

// Net is how a sandbox joins a bridge network.
type Net struct {
	// Bridge and Subnet: "" and the zero prefix mean network.DefaultBridge
	// and network.DefaultSubnet.
	Bridge string
	Subnet netip.Prefix
	// Publish forwards 127.0.0.1:HostPort on the host to the sandbox.
	Publish []PortMapping
}

// PortMapping is a published port, --publish HOSTPORT:CTRPORT.
type PortMapping struct {
	HostPort      int `json:"host_port"`
	ContainerPort int `json:"container_port"`
}

// String gives the mapping back in --publish form.
func (m PortMapping) String() string { return fmt.Sprintf("%d:%d", m.HostPort, m.ContainerPort) }

// RootMapBase is where root inside a user namespace lands on the host
// when kcna-lab runs as root: 65536 IDs from here, the range most
// distributions hand the first user in /etc/subuid. A process that got
// out would be an unprivileged stranger to the host, not its root.
const RootMapBase = 100000

// RootMode is how a sandbox changes its root directory.
type RootMode = initproc.RootMode

// Root modes: RootPivot swaps the mount namespace's root with
// pivot_root(2) and detaches the old one, so nothing of the host's tree
// stays reachable; RootChroot only changes the process's root directory
// with chroot(2), which a process that may call chroot can climb out of
// (the chroot lesson shows it).
const (
	RootPivot  = initproc.RootPivot
	RootChroot = initproc.RootChroot
)

// ParseRootMode reads the --root flag.
func ParseRootMode(s string) (RootMode, error) {
	switch RootMode(s) {
	case "", RootPivot:
		return RootPivot, nil
	case RootChroot:
		return RootChroot, nil
	}
	return "", fmt.Errorf("--root %q: unknown root mode; use pivot (the default, safe) or chroot (escapable, for the chroot lesson)", s)
}

// Limits are cgroup limits (memory bytes, CPUs, pids); zero means none.
type Limits = cgroup.Limits

// Volume is a host directory mounted inside the sandbox.
type Volume = initproc.Volume

// ParseVolume reads HOST:CTR[:ro].
func ParseVolume(s string) (Volume, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Volume{}, fmt.Errorf("--volume %q: want HOST:CONTAINER or HOST:CONTAINER:ro, e.g. ./data:/data:ro", s)
	}
	v := Volume{Host: parts[0], Target: parts[1]}
	if len(parts) == 3 {
		if parts[2] != "ro" && parts[2] != "rw" {
			return Volume{}, fmt.Errorf("--volume %q: the third part must be ro or rw, not %q", s, parts[2])
		}
		v.ReadOnly = parts[2] == "ro"
	}
	if !strings.HasPrefix(v.Target, "/") {
		return Volume{}, fmt.Errorf("--volume %q: the path inside the sandbox must be absolute, e.g. /data", s)
	}
	if slices.Contains(strings.Split(v.Target, "/"), "..") {
		return Volume{}, fmt.Errorf("--volume %q: the path inside the sandbox must not contain a \"..\" element", s)
	}
	return v, nil
}

// ValidateName checks a sandbox name: ^[a-z0-9][a-z0-9-]{0,30}$, said
// in a loop, which every `run` would otherwise compile a regexp for.
func ValidateName(name string) error {
	ok := len(name) >= 1 && len(name) <= 31 && name[0] != '-'
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Errorf("sandbox name %q: use 1 to 31 lower-case letters, digits and dashes, starting with a letter or digit", name)
	}
	return nil
}

// hostID is the name of the sandbox's objects on the host; the prefix is
// what lets `kcna-lab clean` recognise them and touch nothing else.
func hostID(name string) string { return "kcna-" + name }
