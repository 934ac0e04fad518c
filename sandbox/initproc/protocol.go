package initproc

import (
	"slices"

	"github.com/kcna-lab/kcna-lab/event"
)

// The parent and the sandbox's init talk over three inherited descriptors:
// the parent writes the Plan on FDConfig, in the one binary form both
// inits read (wire.go), and closes it (the init starts only when it
// arrives, so the parent can place it in its cgroup first); the init
// writes Reports on FDEvents, a line each (report.go), which the parent
// turns into events from its own copy of the plan; FDExec is a listening
// unix socket on which the init accepts exec requests for the sandbox's
// lifetime.
const (
	FDConfig = 3
	FDEvents = 4
	FDExec   = 5
)

// Arg0 is argv[0] of a program that must act as a sandbox's init, and
// escapeArg0 of one that demonstrates a chroot escape: one binary plays
// every role, told apart by the name it is started under.
const (
	Arg0       = "kcna-lab-init"
	escapeArg0 = "kcna-lab-escape"
	// escapeTool is the name under which a chroot-mode sandbox finds the
	// escape program on its PATH (in EscapeDir), for learners to run.
	escapeTool = "escape"
	// EscapeDir is where a chroot-mode sandbox finds the escape program;
	// the parent adds it to the default PATH.
	EscapeDir = "/run/kcna"
	// KindArg, as argv[1], asks an init program which init it carries:
	// it prints "native" or "go" and exits.
	KindArg = "--init-kind"
	// ResumeArg is argv[1] when the native init hands a running sandbox
	// over to the Go init (argv[2] is the command's pid).
	ResumeArg = "resume"
)

// ExitFailed is the init's exit status when it could not build the
// sandbox; the parent then reports the failed step, not a command status.
const ExitFailed = 125

// ProtocolVersion changes whenever the plan's binary form or the
// reports' form or meaning does, so that a kcna-lab-init left from
// another build refuses plainly instead of misreading its plan.
//
// This file, plan.go's step numbers, wire.go's layout and report.go's
// lines are the one source of what the native init hard-codes: `go
// generate` writes them into native/protocol.h (internal/gen), and a test
// fails when that header is stale.
//
//go:generate go run ./internal/gen -o native/protocol.h
const ProtocolVersion = 11

// firstReportProtocol is the first protocol whose inits send Reports; a
// parent of an earlier one reads only events in JSON.
const firstReportProtocol = 11

// Config is what the parent knows of the sandbox it builds: BuildPlan
// turns it into the Plan, the steps and the command, which is all the
// init is sent.
type Config struct {
	Args     []string
	Env      []string
	Hostname string
	// Dir is the command's working directory, made if it is missing (an
	// image's WORKDIR, as runc makes the process's cwd); "" means "/".
	Dir string
	// Root is an empty directory in the sandbox's state dir where the
	// init bind-mounts the root filesystem (Rootfs) and builds on it.
	Root   string
	Rootfs string
	// Overlay, when set, is the mount data of an overlay the init mounts
	// at Root itself instead of binding Rootfs: a rootless sandbox's
	// writable layer, which only a user namespace's root may mount.
	Overlay  string
	RootMode RootMode
	ReadOnly bool
	Volumes  []Volume
	// VolumeFDs are, per volume, the descriptor (from FDConfig's
	// numbering, after the fixed ones) of a detached copy of its host
	// directory made with open_tree by the parent, or 0 to mount by path.
	VolumeFDs []int
	Isolate   []Namespace
	Tty       bool
	// Escape re-executes the init program inside as the chroot-escape
	// program.
	Escape bool
	// Hold: no command; PID 1 waits to be stopped (sandbox.Spec.Hold).
	Hold bool
	// CapDrop are capability numbers to take out of the default set.
	CapDrop []uintptr
	// ResolvConf is a host file bound over /etc/resolv.conf: a sandbox
	// on a bridge names kcna-lab's DNS server in it.
	ResolvConf string
	// Seccomp is the filter BuildPlan loads last; nil for none.
	Seccomp *SeccompFilter
}

// SeccompFilter is a sandbox's seccomp program, compiled by the parent
// (package kernel/seccomp) so that the init only loads it: compiling
// needs the profile, moby's resolver and syscall tables, which would make
// kcna-lab-init large.
type SeccompFilter struct {
	// Program is struct sock_filter records, 8 bytes each, little-endian:
	// code (16 bits), jt, jf, k (32 bits).
	Program []byte
	// Flags are the SECCOMP_FILTER_FLAG_* bits the profile asks for.
	Flags uint32
	// Shell is the step's shell equivalent, e.g. `docker run
	// --security-opt seccomp=default.json`.
	Shell string
}

func (c *Config) has(n Namespace) bool { return slices.Contains(c.Isolate, n) }

// ExecRequest asks a running sandbox's init to start a process; the
// process's stdin, stdout and stderr travel beside it as SCM_RIGHTS.
type ExecRequest struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	// Tty: stdin is a pseudo-terminal of the request's own, to become
	// the process's controlling terminal (never the learner's terminal
	// itself, which already controls their session).
	Tty bool `json:"tty"`
}

// ExecReply is sent once when the process started (Started) and once when
// it ended (Result).
type ExecReply struct {
	Started bool          `json:"started,omitempty"`
	PID     int           `json:"pid,omitempty"`
	Error   string        `json:"error,omitempty"`
	Result  *event.Result `json:"result,omitempty"`
}

// RootMode is how a sandbox changes its root directory.
type RootMode string

// Root modes.
const (
	// RootPivot swaps the mount namespace's root with pivot_root(2) and
	// detaches the old one, so nothing of the host's tree stays reachable.
	RootPivot RootMode = "pivot"
	// RootChroot only changes the process's root directory with chroot(2).
	// The host's tree is still mounted behind it, which is why a process
	// that may call chroot can climb out: the chroot lesson shows it.
	RootChroot RootMode = "chroot"
)

// Volume is a host directory mounted inside the sandbox.
type Volume struct {
	Host, Target string
	ReadOnly     bool
}
