package sandbox

import (
	"io"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// NetworkPlugin connects a sandbox's network namespace to a network, as a
// CNI plugin does for a container runtime: the runtime creates the
// namespace, the plugin is handed it (here the init's PID, before the
// command starts) and plugs it in. Package plugin/network is the plugin
// for --net bridge; it registers itself when imported.
//
// The indirection keeps the network's code (netlink, a DNS server) out of
// every program that imports package sandbox, the sandbox's own small
// init above all, whose start-up time is paid by every sandbox.
type NetworkPlugin interface {
	// Attach plugs the network namespace of pid into n, journaling in j
	// what it creates on the host before it creates it.
	Attach(n Net, name string, pid int, j *journal.Journal, sink event.Sink) (*Attachment, error)
	// Prune removes what crashed runs left that no journal owns (a
	// bridge with no sandbox on it).
	Prune(sink event.Sink) error
}

// Attachment is a sandbox's place on a network.
type Attachment struct {
	Bridge string
	IP     netip.Addr
	// ResolvConf, if set, is mounted over the sandbox's /etc/resolv.conf.
	ResolvConf []byte
	// Closers end what serves the sandbox from this process (its DNS
	// server, published ports) and take it off the network, in order.
	Closers []io.Closer
}

// plugins holds the one network plugin. It is written once, by the
// plugin package's init, and only read afterwards (the database/sql
// driver pattern).
var plugins struct {
	once   sync.Once
	plugin NetworkPlugin
}

// RegisterNetwork makes p the plugin for Spec.Net. Only the first call
// counts.
func RegisterNetwork(p NetworkPlugin) {
	plugins.once.Do(func() { plugins.plugin = p })
}

func networkPlugin() NetworkPlugin { return plugins.plugin }

// InitSpawner is a network plugin that networks rootless sandboxes. A
// sandbox's network namespace is owned by its user namespace; an
// unprivileged user's process holds no capability over a sibling user
// namespace, so no one process could move a veth from the bridge's
// namespace into a rootless sandbox's. The plugin therefore keeps the
// bridge in a namespace of a long-lived holder of its own, and the init
// of a rootless sandbox on that network is cloned by the holder: its user
// namespace is then a child of the holder's, which has every capability
// over it.
type InitSpawner interface {
	// SpawnInit starts cmd (its Path, Args, Env, files and SysProcAttr,
	// with the user namespace maps given as this process sees them) from
	// the plugin's holder, and returns the running init.
	SpawnInit(cmd *exec.Cmd, sink event.Sink) (InitProcess, error)
}

// InitProcess is a sandbox's running init that is not this process's
// child.
type InitProcess interface {
	Pid() int
	Signal(sig os.Signal) error
	// Wait waits for the init to end and returns its wait status; an
	// error means the status could not be learned.
	Wait() (syscall.WaitStatus, error)
}
