package parse

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// userName is what a user name in owner: may look like (useradd's rule),
// compiled on first use, as every pattern here.
var userName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_-]*\$?$`) })

// checkKeys are a check's fields, in the order the README gives them.
var checkKeys = []string{"in", "run", "exit", "output-contains", "output-matches", "file", "owner", "mode", "timeout", "message"}

// checks reads a challenge's checks: list.
func (p *frontParser) checks(n *yaml.Node, at string) []lessons.Check {
	items := p.seq(n, at)
	if n.Kind == yaml.SequenceNode && len(items) == 0 {
		p.add(n, at+": no checks given", "list at least one, e.g. - in: box\n      run: [hostname]\n      output-contains: kcna-box\n      message: ...")
	}
	var out []lessons.Check
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
func (p *frontParser) check(n *yaml.Node, at string) (lessons.Check, bool) {
	if n.Kind != yaml.MappingNode {
		p.add(n, at+": a check must be a set of fields", "give in, run or file, what must hold, and message")
		return lessons.Check{}, false
	}
	f := p.fields(n, at, checkKeys, []string{"in", "message"})
	w := p.where(n)
	k := lessons.Check{Source: p.file, Line: w.line, Col: w.col, Timeout: lessons.DefaultCheckTimeout}
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
	if n.Kind == yaml.ScalarNode && (n.Value == lessons.Host || lessons.ValidSandboxName(n.Value)) {
		return n.Value
	}
	hint := "in: host for the learner's machine, or in: NAME for a sandbox: 1 to 31 lower-case letters, digits and dashes, starting with a letter or digit (e.g. in: box)"
	if s := strings.ToLower(strings.TrimSpace(n.Value)); n.Kind == yaml.ScalarNode && (s == lessons.Host || lessons.ValidSandboxName(s)) {
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
	if n.Kind != yaml.ScalarNode || err != nil || d < time.Second || d > lessons.MaxCheckTimeout {
		p.add(n, fmt.Sprintf("%s: %q is not a timeout from 1s to %s", at, n.Value, lessons.MaxCheckTimeout), "a duration, e.g. timeout: 20s; a check inspects state and should be quick")
		return lessons.DefaultCheckTimeout
	}
	return d
}
