package lessons

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Check is one declarative check of a challenge, written in the lesson's
// front matter under the challenge's checks:, so that an instructor's
// challenge needs no Go. It says where it runs (In), what it runs or
// looks at (Run, File), and what must hold; Message is the verdict when
// it does not. lessons/demos runs it (demos.Declared); lessons/parse only
// reads and validates it, and never runs anything.
type Check struct {
	// In is where the check runs: Host, or the name of a sandbox.
	In string
	// Run is the command, as its argument list: no shell unless the
	// list names one (run: [sh, -c, "..."]). Empty for a file-only check.
	Run []string
	// Exit is the exit status Run must end with: 0 unless exit: says.
	Exit int
	// Contains, if not "", must appear in Run's output (stdout and
	// stderr together).
	Contains string
	// Matches, if not "", is a Go regular expression (RE2) that Run's
	// output must match somewhere; it compiled when the file was read.
	Matches string
	// File, if not "", is an absolute path that must exist, as seen from
	// In (inside the sandbox's own root for a sandbox).
	File string
	// Owner, if not "", is the uid (digits) or user name File must
	// belong to, as seen from In: a name is looked up in In's /etc/passwd.
	Owner string
	// Mode is File's permission bits when ModeSet (mode: 0644).
	Mode    uint32
	ModeSet bool
	// Timeout bounds Run: DefaultCheckTimeout unless timeout: says.
	Timeout time.Duration
	// Message is the verdict's detail when the check fails: what to do.
	Message string
	// Source is the lesson file, and Line and Col where the check starts
	// in it, for errors met when it runs.
	Source    string
	Line, Col int
}

// Host is what In says for a check that runs on the learner's machine
// (inside their lab on a workshop server) rather than in a sandbox.
const Host = "host"

// DefaultCheckTimeout and MaxCheckTimeout bound a check's command: a
// check inspects state, it does not build any.
const (
	DefaultCheckTimeout = 10 * time.Second
	MaxCheckTimeout     = 60 * time.Second
)

// OnHost reports whether the check runs on the learner's machine.
func (k Check) OnHost() bool { return k.In == Host }

// Where says where the check runs, for a learner: "on this host" or "in
// sandbox box".
func (k Check) Where() string {
	if k.OnHost() {
		return "on this host"
	}
	return "in sandbox " + k.In
}

// String says what the check runs or looks at and where, in one line, so
// that lint-content and challenge can show what a content file will run.
func (k Check) String() string {
	var parts []string
	if k.File != "" {
		f := "look at " + k.File
		if k.Owner != "" {
			f += " (owner " + k.Owner + ")"
		}
		if k.ModeSet {
			f += fmt.Sprintf(" (mode %04o)", k.Mode)
		}
		parts = append(parts, f)
	}
	if len(k.Run) > 0 {
		parts = append(parts, "run "+QuoteArgs(k.Run))
	}
	return k.Where() + ": " + strings.Join(parts, ", then ")
}

// Plan says what the challenge's own checks will run and look at, one
// line each, so that it is shown before anything runs; nil for a
// challenge checked by a built-in check.
func (c Challenge) Plan() []string {
	var out []string
	for _, k := range c.Checks {
		out = append(out, k.String())
	}
	return out
}

// RunsOnHost reports whether any of the challenge's own checks runs a
// command on the learner's machine.
func (c Challenge) RunsOnHost() bool {
	for _, k := range c.Checks {
		if k.OnHost() && len(k.Run) > 0 {
			return true
		}
	}
	return false
}

// QuoteArgs writes an argument list as a shell would need it typed, so
// that what is shown is exactly what runs.
func QuoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, needsQuote) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// needsQuote reports whether a shell would read r as more than itself.
func needsQuote(r rune) bool {
	plain := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)
	return !plain
}

// sandboxName is sandbox.ValidateName's rule, kept here so that reading
// a lesson does not link the runtime (the TUI does not); a test in
// lessons/demos holds the two rules equal. It is compiled on first use:
// the slim front links this package, and a `kcna-lab run` should not
// compile it.
var sandboxName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`) })

// ValidSandboxName reports whether name can name a sandbox.
func ValidSandboxName(name string) bool { return sandboxName().MatchString(name) }
