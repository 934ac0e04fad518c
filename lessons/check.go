package lessons

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

// Check is one declarative check of a challenge, written in the lesson's
// front matter under the challenge's checks:, so that an instructor's
// challenge needs no Go. It says where it runs (In), what it runs or
// looks at (Run, File), and what must hold; Message is the verdict when
// it does not. lessons/demos runs it (demos.Declared); parsing here only
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
// lessons/demos holds the two rules equal.
var sandboxName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`) })

// ValidSandboxName reports whether name can name a sandbox.
func ValidSandboxName(name string) bool { return sandboxName().MatchString(name) }

// userName is what a user name in owner: may look like (useradd's rule).
// Both are compiled on first use: the slim front links this package, and
// a `kcna-lab run` should not compile them.
var userName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_-]*\$?$`) })

// checkKeys are a check's fields, in the order the README gives them.
var checkKeys = []string{"in", "run", "exit", "output-contains", "output-matches", "file", "owner", "mode", "timeout", "message"}

// checks reads a challenge's checks: list.
func (p *frontParser) checks(n *yaml.Node, at string) []Check {
	items := p.seq(n, at)
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		p.add(n, at+": no checks given", "list at least one, e.g. - in: box\n      run: [hostname]\n      output-contains: kcna-box\n      message: ...")
	}
	var out []Check
	for i, it := range items {
		if k, ok := p.check(it, fmt.Sprintf("%s[%d]", at, i)); ok {
			out = append(out, k)
		}
	}
	return out
}

// check reads one check, reporting every problem in it at once. ok is
// false only when n is no mapping, so there is no check to keep; a check
// with problems is kept, as the rest of a lesson is: the problems, not
// its absence, are what the instructor is shown.
func (p *frontParser) check(n *yaml.Node, at string) (Check, bool) {
	if n.Kind != yaml.MappingNode {
		p.add(n, at+": a check must be a set of fields", "give in, run or file, what must hold, and message")
		return Check{}, false
	}
	f := p.fields(n, at, checkKeys, []string{"in", "message"})
	w := p.where(n)
	k := Check{Source: p.file, Line: w.line, Col: w.col, Timeout: DefaultCheckTimeout}
	if v := f["in"]; v != nil {
		k.In = p.place(v, at+".in")
	}
	if v := f["run"]; v != nil {
		k.Run = p.argv(v, at+".run")
	}
	if v := f["file"]; v != nil {
		k.File = p.text(v, at+".file")
		if k.File != "" && !strings.HasPrefix(k.File, "/") {
			p.add(v, fmt.Sprintf("%s.file: %q is not an absolute path", at, k.File),
				"give the path from /, as seen where the check runs (inside the sandbox for a sandbox)")
		}
	}
	if f["run"] == nil && f["file"] == nil {
		p.add(n, at+": the check has neither run nor file", "give run: [COMMAND, ARG...] to run a command, or file: /PATH to look at a file (or both)")
	}
	// What must hold of the command, and of the file.
	needs := func(key, of string) bool {
		if f[key] != nil && f[of] == nil {
			p.add(f[key], fmt.Sprintf("%s.%s needs %s", at, key, of), fmt.Sprintf("%s: is about what %s: gives; give %s: too, or remove %s:", key, of, of, key))
			return false
		}
		return f[key] != nil
	}
	if needs("exit", "run") {
		k.Exit = p.exitStatus(f["exit"], at+".exit")
	}
	if needs("output-contains", "run") {
		k.Contains = p.text(f["output-contains"], at+".output-contains")
	}
	if needs("output-matches", "run") {
		k.Matches = p.regexp(f["output-matches"], at+".output-matches")
	}
	if needs("owner", "file") {
		k.Owner = p.owner(f["owner"], at+".owner")
	}
	if needs("mode", "file") {
		k.Mode, k.ModeSet = p.mode(f["mode"], at+".mode")
	}
	if needs("timeout", "run") {
		k.Timeout = p.timeout(f["timeout"], at+".timeout")
	}
	if v := f["message"]; v != nil {
		k.Message = p.text(v, at+".message")
	}
	// A check with problems is kept, so that its challenge is not also
	// reported as having none; a course with problems does not start.
	return k, true
}

// place reads in:, host or a sandbox's name.
func (p *frontParser) place(n *yaml.Node, at string) string {
	if n.Kind == yaml.ScalarNode && (n.Value == Host || ValidSandboxName(n.Value)) {
		return n.Value
	}
	hint := "in: host for the learner's machine, or in: NAME for a sandbox: 1 to 31 lower-case letters, digits and dashes, starting with a letter or digit (e.g. in: box)"
	if s := strings.ToLower(strings.TrimSpace(n.Value)); n.Kind == yaml.ScalarNode && (s == Host || ValidSandboxName(s)) {
		hint = fmt.Sprintf("did you mean %q? %s", s, hint)
	}
	p.add(n, fmt.Sprintf("%s: %q is neither host nor a valid sandbox name", at, n.Value), hint)
	return ""
}

// argv reads run:, a command as its argument list. A shell string is not
// taken, so that nothing is split or expanded unseen: a check that wants
// a shell names it, run: [sh, -c, "..."], and then it is plain to read.
func (p *frontParser) argv(n *yaml.Node, at string) []string {
	if n.Kind == yaml.ScalarNode {
		hint := "write the command as a list, one argument each"
		if fs := strings.Fields(n.Value); len(fs) > 0 {
			hint = fmt.Sprintf("write it as a list: run: [%s]; for a shell's pipes or variables, say so: run: [sh, -c, %q]", strings.Join(fs, ", "), n.Value)
		}
		p.add(n, at+": must be a list (the command and its arguments), not one string", hint)
		return nil
	}
	items := p.seq(n, at)
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		p.add(n, at+": no command given", "e.g. run: [hostname]")
		return nil
	}
	var out []string
	for i, it := range items {
		if it.Kind != yaml.ScalarNode || it.Tag == "!!null" {
			p.add(it, fmt.Sprintf("%s[%d]: an argument must be text", at, i), "quote it: \"...\"")
			return nil
		}
		if i == 0 && strings.TrimSpace(it.Value) == "" {
			p.add(it, at+"[0]: the command is empty", "name the program to run, e.g. run: [hostname]")
			return nil
		}
		out = append(out, it.Value)
	}
	return out
}

func (p *frontParser) exitStatus(n *yaml.Node, at string) int {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || v < 0 || v > 255 {
		p.add(n, fmt.Sprintf("%s: %q is not an exit status", at, n.Value), "a whole number from 0 to 255; 0 is success, e.g. exit: 1")
		return 0
	}
	return v
}

func (p *frontParser) regexp(n *yaml.Node, at string) string {
	s := p.text(n, at)
	if s == "" {
		return ""
	}
	if _, err := regexp.Compile(s); err != nil {
		p.add(n, fmt.Sprintf("%s: not a valid regular expression: %v", at, strings.TrimPrefix(err.Error(), "error parsing regexp: ")),
			"Go's RE2 syntax (https://golang.org/s/re2syntax); quote the value in single quotes so YAML leaves backslashes alone; (?m) makes ^ and $ match at each line")
		return ""
	}
	return s
}

func (p *frontParser) owner(n *yaml.Node, at string) string {
	v := strings.TrimSpace(n.Value)
	if _, err := strconv.ParseUint(v, 10, 32); n.Kind == yaml.ScalarNode && (err == nil || userName().MatchString(v)) {
		return v
	}
	p.add(n, fmt.Sprintf("%s: %q is neither a uid nor a user name", at, n.Value), "e.g. owner: 0 or owner: root, as seen where the check runs")
	return ""
}

// mode reads the raw text, so that 0644 is octal as it is to chmod,
// whatever YAML would make of the number.
func (p *frontParser) mode(n *yaml.Node, at string) (uint32, bool) {
	v := strings.TrimPrefix(strings.TrimSpace(n.Value), "0o")
	m, err := strconv.ParseUint(v, 8, 32)
	if n.Kind != yaml.ScalarNode || err != nil || m > 0o7777 {
		p.add(n, fmt.Sprintf("%s: %q is not a file mode", at, n.Value), "octal permission bits as chmod takes them, e.g. mode: 0644 or mode: 4755")
		return 0, false
	}
	return uint32(m), true
}

func (p *frontParser) timeout(n *yaml.Node, at string) time.Duration {
	d, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil || d < time.Second || d > MaxCheckTimeout {
		p.add(n, fmt.Sprintf("%s: %q is not a timeout from 1s to %s", at, n.Value, MaxCheckTimeout), "a duration, e.g. timeout: 20s; a check inspects state and should be quick")
		return DefaultCheckTimeout
	}
	return d
}
