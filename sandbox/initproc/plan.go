package initproc

import "fmt"

// Plan is how a sandbox is built from inside, step by step, as data, and
// what it then runs: the parent writes it once (BuildPlan) and sends it,
// and the init carries it out. Two inits can: this package's, in Go, and
// the native one compiled into kcna-lab-init (package initproc/native),
// which starts in a fraction of the time because no Go runtime has to
// start first. One list means one order of mount steps and one
// narration, whichever init runs it: the narration stays with the
// parent, which words the init's reports from its own copy (Plan.Event).
type Plan struct {
	// Root is the directory the new root is built on (Config.Root);
	// Contained paths must stay inside it.
	Root string
	Ops  []Op
	// Args and Env are the command's (Config.Args, Config.Env); Tty,
	// Hold and Escape are Config's.
	Args, Env         []string
	Tty, Hold, Escape bool
	// Native: the native init may run this sandbox. It may not when the
	// sandbox needs what only the Go init does: a terminal, holding the
	// namespaces with no command, the escape program, a step it lacks.
	Native bool
}

// has reports whether the plan takes a step of kind k.
func (p *Plan) has(k OpKind) bool {
	for i := range p.Ops {
		if p.Ops[i].Kind == k {
			return true
		}
	}
	return false
}

// OpKind is what a step does.
type OpKind uint8

// The steps. The native init (initproc/native/native.c) knows them by
// these numbers, as OP_ and the name below in native/protocol.h, which
// `go generate` writes from here: append, never renumber, bump
// ProtocolVersion, name the step in opNames and run go generate.
const (
	OpNarrate    OpKind = iota + 1 // a sentence for the learner (Text)
	OpHostname                     // sethostname(Data)
	OpLoopback                     // bring up "lo"
	OpMount                        // mount(Source, Path, FSType, Flags, Data), after Mkdir or Touch
	OpSymlink                      // symlink(Source, Path); no event, an error names Label
	OpRemountRO                    // make the bind mount at Path read-only, keeping its locked flags
	OpMoveMount                    // move_mount(FD, Path): attach a tree the parent cloned with open_tree
	OpIfFile                       // unless Path is a regular file: narrate Text and skip the next Skip steps
	OpChdir                        // chdir(Path), after MkdirAll(Path, Mkdir) when Mkdir is set
	OpChroot                       // chroot("."), then chdir("/")
	OpPivot                        // pivot_root(".", ".")
	OpUmount                       // umount2(Path, Flags)
	OpMask                         // hide Path: an empty read-only tmpfs on a directory, /dev/null on a file (PartAlt); skip if absent
	OpReadonly                     // bind Path on itself read-only; skip if absent
	OpUnshare                      // unshare(Flags)
	OpTimeNS                       // unshare(CLONE_NEWTIME), then write Data to /proc/self/timens_offsets (PartAlt)
	OpBounding                     // drop from the bounding set every capability up to Last not in Keep
	OpCapset                       // permitted = effective = inheritable = Keep
	OpNoNewPrivs                   // prctl(PR_SET_NO_NEW_PRIVS, 1)
	OpEscapeTool                   // Go init only: bind this program at Path for the chroot lesson
	OpSeccomp                      // load the seccomp program Filter with Flags; last, after no_new_privs
	opEnd                          // not a step: one past the last
)

// opNames name the steps: the native init's OP_ constants are these in
// capitals, and tests report steps by them.
var opNames = [...]string{
	OpNarrate: "narrate", OpHostname: "hostname", OpLoopback: "loopback", OpMount: "mount",
	OpSymlink: "symlink", OpRemountRO: "remount_ro", OpMoveMount: "move_mount", OpIfFile: "if_file",
	OpChdir: "chdir", OpChroot: "chroot", OpPivot: "pivot", OpUmount: "umount", OpMask: "mask",
	OpReadonly: "readonly", OpUnshare: "unshare", OpTimeNS: "time_ns", OpBounding: "bounding",
	OpCapset: "capset", OpNoNewPrivs: "no_new_privs", OpEscapeTool: "escape_tool", OpSeccomp: "seccomp",
}

// OpKinds are every step there is, in number order.
func OpKinds() []OpKind {
	var ks []OpKind
	for k := OpNarrate; k < opEnd; k++ {
		ks = append(ks, k)
	}
	return ks
}

// String is the step's name ("move_mount"), or its number when it has none.
func (k OpKind) String() string {
	if int(k) < len(opNames) && opNames[k] != "" {
		return opNames[k]
	}
	return fmt.Sprintf("op%d", uint8(k))
}

// Op is one step. Action and Shell are its event: the system call and the
// shell command that would do the same. The parent keeps them (and Text);
// the init is sent only what it carries out (wire.go's opWire) and reports
// which step it took.
type Op struct {
	Kind   OpKind
	Action string
	Shell  string
	// AltAction and AltShell are a step's second event (PartAlt): OpMask
	// on a file, OpTimeNS writing its clocks' offsets.
	AltAction string
	AltShell  string

	Path   string
	Source string
	FSType string
	Data   string
	Flags  uint64
	// Mkdir creates Path and its parents with this mode first; Touch
	// creates Path as an empty file (a mount point for a device).
	Mkdir uint32
	Touch bool
	// Contained: Path lies under Plan.Root and may not pass through a
	// symlink of the root filesystem on the way, which could otherwise
	// lead a mount out of it. Label names the path in the error.
	Contained bool
	Label     string

	FD   int
	Skip int
	// Text is OpNarrate's and OpIfFile's narration.
	Text string
	// Keep is a capability mask; Last the highest capability the kernel
	// knows (/proc/sys/kernel/cap_last_cap).
	Keep uint64
	Last int
	// Filter is OpSeccomp's program: struct sock_filter records, 8 bytes
	// each, little-endian (SeccompFilter.Program).
	Filter []byte
}
