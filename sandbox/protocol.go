package sandbox

import (
	"slices"

	"github.com/kcna-lab/kcna-lab/sandbox/event"
)

// The parent and the sandbox's init talk over three inherited descriptors:
// the parent writes an initConfig on fd 3 (and the init starts only when
// it arrives, so the parent can place it in its cgroup first); the init
// writes events as JSON lines on fd 4; fd 5 is a listening unix socket
// on which the init accepts exec requests for the sandbox's lifetime.
const (
	fdConfig = 3
	fdEvents = 4
	fdExec   = 5
)

// initArg0 is argv[0] of a re-executed kcna-lab that must act as a
// sandbox's init, and escapeArg0 of one that demonstrates a chroot escape.
const (
	initArg0   = "kcna-lab-init"
	escapeArg0 = "kcna-lab-escape"
	// escapeTool is the name under which a chroot-mode sandbox finds the
	// escape program on its PATH (in escapeDir), for learners to run.
	escapeTool = "escape"
	escapeDir  = "/run/kcna"
)

// kindReady is the init's last set-up event, not forwarded: the sandbox
// is built and its command about to start.
const kindReady event.Kind = "ready"

// protocolVersion changes whenever initConfig or the events' meaning
// does, so that a kcna-lab-init left from another build refuses plainly
// instead of misreading its config.
const protocolVersion = 4

// initConfig is everything the init needs to build the sandbox from inside.
type initConfig struct {
	Protocol int      `json:"protocol"`
	Args     []string `json:"args"`
	Env      []string `json:"env"`
	Hostname string   `json:"hostname,omitempty"`
	// Root is an empty directory in the sandbox's state dir where the
	// init bind-mounts the root filesystem (Rootfs) and builds on it.
	Root     string      `json:"root"`
	Rootfs   string      `json:"rootfs"`
	RootMode RootMode    `json:"root_mode"`
	ReadOnly bool        `json:"read_only"`
	Volumes  []Volume    `json:"volumes,omitempty"`
	Isolate  []Namespace `json:"isolate"`
	Tty      bool        `json:"tty"`
	// Escape re-executes kcna-lab inside as the chroot-escape program.
	Escape bool `json:"escape,omitempty"`
	// Hold: no command; PID 1 waits to be stopped (Spec.Hold).
	Hold bool `json:"hold,omitempty"`
	// CapDrop are capability numbers to take out of the default set.
	CapDrop []uintptr `json:"cap_drop,omitempty"`
	// ResolvConf is a host file bound over /etc/resolv.conf: a sandbox
	// on a bridge names kcna-lab's DNS server in it.
	ResolvConf string `json:"resolv_conf,omitempty"`
}

func (c *initConfig) has(n Namespace) bool { return slices.Contains(c.Isolate, n) }

// execRequest asks a running sandbox's init to start a process; the
// process's stdin, stdout and stderr travel beside it as SCM_RIGHTS.
type execRequest struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Tty  bool     `json:"tty"`
}

// execReply is sent once when the process started (Started) and once when
// it ended (Result).
type execReply struct {
	Started bool    `json:"started,omitempty"`
	PID     int     `json:"pid,omitempty"`
	Error   string  `json:"error,omitempty"`
	Result  *Result `json:"result,omitempty"`
}
