package sandbox

import "slices"

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
)

// initConfig is everything the init needs to build the sandbox from inside.
type initConfig struct {
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
