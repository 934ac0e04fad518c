package demos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/oci"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// The lesson's sandbox, as its config.json and its challenge describe it.
const (
	ociHostname = "oci-box"
	ociMemory   = 64 << 20 // 67108864 bytes
	ociPids     = 32
	ociCommand  = "hostname; ps"
)

// ociDemo writes the OCI config.json for the lesson's sandbox, ties each of
// its fields to the step kcna-lab takes, and where runc is installed runs
// the same root filesystem under runc beside kcna-lab.
func ociDemo() Demo {
	return Demo{
		ID:    "oci-runtime",
		Title: "config.json: a sandbox in the OCI runtime spec's words, and the same bundle under runc",
		Run:   runOCI,
		Blocked: func(r sandbox.Report) string {
			if why := needsNamespaces(r, sandbox.NSPid, sandbox.NSUTS, sandbox.NSMount); why != "" {
				return why
			}
			return r.Cgroup.Problem
		},
		ShellFlags: []string{"--name", "lab-oci", "--keep", "--hostname", ociHostname, "--memory", "64M", "--pids", "32"},
	}
}

// ociSections group the field-by-field view into tables a screen can hold.
var ociSections = []struct {
	title  string
	fields func(field string) bool
}{
	{"process: what runs, and with which privileges", func(f string) bool { return strings.HasPrefix(f, "process.") }},
	{"root, hostname and mounts: the filesystem it sees", func(f string) bool {
		return strings.HasPrefix(f, "root.") || f == "hostname" || strings.HasPrefix(f, "mounts[")
	}},
	{"linux.namespaces and ID maps: what it is isolated from", func(f string) bool {
		return strings.HasPrefix(f, "linux.namespaces") || strings.HasSuffix(f, "Mappings")
	}},
	{"linux.resources, masked paths and seccomp: what it may use, read and call", func(f string) bool {
		return strings.HasPrefix(f, "linux.resources") || strings.HasSuffix(f, "Paths") || f == "linux.seccomp"
	}},
}

func runOCI(ctx context.Context, sink event.Sink) error {
	spec := sandbox.Spec{
		Name:     demoName("oci"),
		Args:     []string{"/bin/sh", "-c", ociCommand},
		Hostname: ociHostname,
		Limits:   sandbox.Limits{MemoryBytes: ociMemory, Pids: ociPids},
	}
	event.Narrate(sink, fmt.Sprintf("An OCI runtime such as runc is handed a bundle: a directory holding config.json, which says what to run and how to isolate and limit it, and a root filesystem. Here is the config.json for this lesson's sandbox (hostname %s, 64 MiB of memory, at most %d processes), built with the runtime spec's own Go types (runtime-spec %s):", ociHostname, ociPids, specs.Version))
	root, err := oci.PrepareRootfs(spec, "", sink)
	if err != nil {
		return err
	}
	cfg, err := oci.Config(spec, root)
	if err != nil {
		return err
	}
	text, err := compactJSON(withoutSeccompRules(cfg), 74)
	if err != nil {
		return err
	}
	sink.Emit(event.Event{Time: time.Now(), Kind: event.KindOutput, Stream: "stdout", Text: strings.Join(text, "\n") + "\n"})
	if s := cfg.Linux.Seccomp; s != nil {
		event.Narrate(sink, fmt.Sprintf("linux.seccomp is Docker's default profile resolved for these capabilities: %d rules (syscalls), left out above; `kcna-lab oci` prints them all.", len(s.Syscalls)))
	}

	event.Narrate(sink, fmt.Sprintf("kcna-lab needs no config.json: it builds the same sandbox itself, one kernel step at a time, and runs `%s` in it.", ociCommand))
	steps := &stepLog{sink: sink}
	ours, res, err := capture(ctx, spec, steps)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("`%s` in the sandbox exited with %d: %s", ociCommand, res.ExitCode, strings.TrimSpace(ours))
	}

	event.Narrate(sink, "Now config.json again, field by field, beside the step kcna-lab just took for it. \"ok\" marks a step that appears in the trace above; \"--\" one that no single event shows (Go writes the ID maps inside clone; the init forks and execs the command).")
	mappings := oci.Explain(cfg)
	for _, sec := range ociSections {
		var left, right []string
		for _, m := range mappings {
			if !sec.fields(m.Field) {
				continue
			}
			l := m.Field
			if m.Value != "" {
				l += " " + m.Value
			}
			mark, matched := steps.mark(m)
			step := m.Step
			if file, _, ok := strings.Cut(matched, " = "); ok && strings.HasPrefix(m.Field, "linux.resources") {
				step = "write " + file // the file this host's cgroup version has
			}
			left = append(left, l)
			right = append(right, mark+" "+step)
		}
		if len(left) > 0 {
			sink.Emit(event.Event{Time: time.Now(), Kind: event.KindCompare, Compare: &event.Compare{
				Title: sec.title,
				Left:  event.Column{Title: "config.json", Lines: left},
				Right: event.Column{Title: "kcna-lab did", Lines: right},
			}})
		}
	}
	event.Narrate(sink, "Every field is something earlier lessons did by hand: namespaces from clone and unshare, a root switched with pivot_root, limits written to cgroup files, capabilities dropped, /proc paths masked. The spec only writes them down, so any compliant runtime can build the same box.")
	return runcPart(ctx, sink, cfg, root, ours)
}

// withoutSeccompRules is cfg without linux.seccomp's rules, which would
// fill screens: a copy, so that the bundle keeps them.
func withoutSeccompRules(cfg *specs.Spec) *specs.Spec {
	if cfg.Linux == nil || cfg.Linux.Seccomp == nil {
		return cfg
	}
	shown, linux, sec := *cfg, *cfg.Linux, *cfg.Linux.Seccomp
	sec.Syscalls = nil
	linux.Seccomp = &sec
	shown.Linux = &linux
	return &shown
}

// runcPart runs cfg's bundle under runc, if this host has it, and puts its
// output beside kcna-lab's.
func runcPart(ctx context.Context, sink event.Sink, cfg *specs.Spec, root, ours string) error {
	runc, err := oci.Runc()
	if err != nil {
		event.Narrate(sink, "The runc half of this demo cannot run here: "+err.Error()+". Then run the demo again to see the same bundle under runc.")
		return nil
	}
	if os.Geteuid() != 0 {
		event.Narrate(sink, fmt.Sprintf("runc is installed (%s), but running a container with cgroup limits needs root here (rootless runc needs `runc --rootless` and a delegated cgroup): run `sudo kcna-lab demo oci-runtime` to see the bundle under runc.", runc))
		return nil
	}
	feat, ferr := oci.RuncFeatures(ctx, runc)
	if dropped := oci.Adapt(cfg, feat); len(dropped) > 0 {
		version := "an older spec version"
		if ferr == nil && feat.OCIVersionMax != "" {
			version = "spec " + feat.OCIVersionMax
		}
		event.Narrate(sink, fmt.Sprintf("This runc follows %s and does not know %s (time namespaces entered the runtime spec in 1.2.0 and runc in 1.2): the bundle for it leaves that out, so runc's sandbox shares the host's clocks.", version, strings.Join(dropped, ", ")))
	}
	bundle, err := os.MkdirTemp("", "kcna-oci-bundle-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(bundle) }()
	if err := oci.WriteBundle(bundle, cfg, root); err != nil {
		return err
	}
	id := fmt.Sprintf("kcna-oci-%d", os.Getpid())
	event.Narrate(sink, fmt.Sprintf("The bundle: %s/config.json, whose root.path is the very root filesystem kcna-lab used, %s (named by its absolute path: runc bind-mounts it, nothing is copied). runc run is create and start in one, and deletes the container when its process ends.", bundle, root))

	var out, errOut bytes.Buffer
	runErr := event.Step(sink, fmt.Sprintf("runc run --bundle %s %s", bundle, id), fmt.Sprintf("sudo runc run --bundle %s %s", bundle, id), func() error {
		code, err := oci.RunBundle(ctx, runc, bundle, id, &out, &errOut)
		if err == nil && code != 0 {
			err = fmt.Errorf("exit status %d: %s", code, strings.TrimSpace(errOut.String()))
		}
		return err
	})
	var left []string
	cleanErr := event.Step(sink, "runc delete --force "+id, "sudo runc delete --force "+id, func() error {
		var err error
		left, err = oci.Cleanup(ctx, runc, id)
		if err == nil && len(left) > 0 {
			err = fmt.Errorf("runc left %s", strings.Join(left, "; "))
		}
		return err
	})
	if runErr != nil {
		return fmt.Errorf("runc could not run the bundle: %w", runErr)
	}
	if cleanErr != nil {
		return cleanErr
	}
	event.Narrate(sink, fmt.Sprintf("runc keeps nothing of %s now: `runc state %s` no longer knows it, and no cgroup of that name is left under /sys/fs/cgroup.", id, id))

	theirs := lines(out.String())
	mine := lines(ours)
	sink.Emit(event.Event{Time: time.Now(), Kind: event.KindCompare, Compare: &event.Compare{
		Title: fmt.Sprintf("%s: under runc and under kcna-lab, on the same root filesystem", ociCommand),
		Left:  event.Column{Title: "runc", Lines: theirs},
		Right: event.Column{Title: "kcna-lab", Lines: mine},
	}})
	event.Narrate(sink, pidOneNote(theirs, mine))
	return nil
}

// pidOneNote says who is PID 1 on each side, from the ps output.
func pidOneNote(runc, ours []string) string {
	pid1 := func(ps []string) string {
		for _, l := range ps {
			if f := strings.Fields(l); len(f) >= 3 && f[0] == "1" {
				return strings.Join(f[2:], " ")
			}
		}
		return ""
	}
	r, k := pid1(runc), pid1(ours)
	if r == "" || k == "" {
		return "Both read the hostname from the same description. The process lists are each sandbox's own: a new PID namespace starts counting at 1."
	}
	return fmt.Sprintf("Same hostname, both from the same description. PID 1 differs: runc makes the process in process.args PID 1 itself (%q), as the runtime spec describes; kcna-lab keeps its own small init as PID 1 (%q), which reaps orphans and forwards signals, as `docker run --init` does, and runs the command as its child.", r, k)
}

// stepLog passes events on and remembers the steps, to match config.json's
// fields with them.
type stepLog struct {
	sink  event.Sink
	mu    sync.Mutex
	steps []string
}

func (s *stepLog) Emit(e event.Event) {
	if e.Kind == event.KindStep && e.OK() {
		s.mu.Lock()
		s.steps = append(s.steps, e.Action)
		s.mu.Unlock()
	}
	s.sink.Emit(e)
}

// mark is "ok" when a step of the run matches m, with the trace that
// matched; "--" when no single step shows m; "??" when one should have and
// did not.
func (s *stepLog) mark(m oci.Mapping) (string, string) {
	if len(m.Trace) == 0 {
		return "--", ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.steps {
		for _, t := range m.Trace {
			if strings.Contains(a, t) {
				return "ok", t
			}
		}
	}
	return "??", ""
}

// compactJSON renders v as indented JSON whose small objects and arrays
// stay on one line, within width columns where it can: config.json in a
// form a screen can show.
func compactJSON(v any, width int) ([]string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := parseJSON(dec)
	if err != nil {
		return nil, err
	}
	return n.render("", "", "", width), nil
}

// jsonNode is a parsed JSON value that keeps its keys in order.
type jsonNode struct {
	kind byte // '{', '[', or 0 for a scalar
	keys []string
	kids []*jsonNode
	raw  string // a scalar's JSON
}

func parseJSON(dec *json.Decoder) (*jsonNode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		b, err := json.Marshal(tok)
		return &jsonNode{raw: string(b)}, err
	}
	n := &jsonNode{kind: byte(d)}
	for dec.More() {
		if n.kind == '{' {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := k.(string)
			n.keys = append(n.keys, key)
		}
		kid, err := parseJSON(dec)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, kid)
	}
	_, err = dec.Token() // the closing delimiter
	return n, err
}

func (n *jsonNode) flat() string {
	if n.kind == 0 {
		return n.raw
	}
	parts := make([]string, len(n.kids))
	for i, k := range n.kids {
		parts[i] = k.flat()
		if n.kind == '{' {
			key, _ := json.Marshal(n.keys[i])
			parts[i] = string(key) + ": " + parts[i]
		}
	}
	if n.kind == '{' {
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// render lays n out at indent, after prefix (`"key": `) and before suffix.
func (n *jsonNode) render(indent, prefix, suffix string, width int) []string {
	if line := indent + prefix + n.flat() + suffix; n.kind == 0 || len(line) <= width || len(n.kids) == 0 {
		return []string{line}
	}
	closing := "}"
	if n.kind == '[' {
		closing = "]"
	}
	out := []string{indent + prefix + string(n.kind)}
	inner := indent + "  "
	scalars := n.kind == '[' && !slices.ContainsFunc(n.kids, func(k *jsonNode) bool { return k.kind != 0 })
	if scalars {
		// Pack a list of scalars (capability names, paths) into full lines.
		cur := ""
		for i, k := range n.kids {
			item := k.raw
			if i < len(n.kids)-1 {
				item += ","
			}
			if cur != "" && len(inner)+len(cur)+1+len(item) > width {
				out = append(out, inner+cur)
				cur = ""
			}
			if cur != "" {
				cur += " "
			}
			cur += item
		}
		out = append(out, inner+cur)
	} else {
		for i, k := range n.kids {
			p, s := "", ","
			if n.kind == '{' {
				key, _ := json.Marshal(n.keys[i])
				p = string(key) + ": "
			}
			if i == len(n.kids)-1 {
				s = ""
			}
			out = append(out, k.render(inner, p, s, width)...)
		}
	}
	return append(out, indent+closing+suffix)
}

// ociBundleCheck verifies the lesson's challenge: ~/kcna-bundle holds a
// config.json that runs /bin/sh as oci-box with a 64 MiB memory limit, over
// a root filesystem that has bin/sh.
func ociBundleCheck() Check {
	return Check{ID: "oci-bundle", Verify: func(context.Context) (Verdict, error) {
		homes, err := bundleHomes()
		if err != nil {
			return Verdict{}, err
		}
		return checkBundles(homes), nil
	}}
}

// bundleHomes are the home directories to look for kcna-bundle in: under
// sudo the invoking user's first (where their shell's ~ pointed, and where
// kcna-lab keeps their progress), then $HOME. Tests replace it.
var bundleHomes = func() ([]string, error) {
	var homes []string
	if name := os.Getenv("SUDO_USER"); os.Geteuid() == 0 && name != "" && name != "root" {
		if u, err := user.Lookup(name); err == nil && u.HomeDir != "" {
			homes = append(homes, u.HomeDir)
		}
	}
	if h, err := os.UserHomeDir(); err == nil && !slices.Contains(homes, h) {
		homes = append(homes, h)
	}
	if len(homes) == 0 {
		return nil, errors.New("find your home directory for ~/kcna-bundle: set HOME")
	}
	return homes, nil
}

// checkBundles passes when any home's kcna-bundle passes.
func checkBundles(homes []string) Verdict {
	var details []string
	for _, h := range homes {
		v := checkBundle(filepath.Join(h, "kcna-bundle"))
		if v.Passed {
			return v
		}
		details = append(details, v.Detail)
	}
	return Verdict{Detail: strings.Join(details, "; and ")}
}

// checkBundle checks one bundle directory, naming each thing that is
// missing or wrong.
func checkBundle(dir string) Verdict {
	path := filepath.Join(dir, "config.json")
	cfg, err := oci.ReadBundle(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return Verdict{Detail: path + " does not exist yet"}
	}
	if err != nil {
		return Verdict{Detail: err.Error()}
	}
	var problems []string
	switch cfg.Hostname {
	case ociHostname:
	case "":
		problems = append(problems, fmt.Sprintf("hostname is not set, want %q", ociHostname))
	default:
		problems = append(problems, fmt.Sprintf("hostname is %q, want %q", cfg.Hostname, ociHostname))
	}
	var limit *int64
	if cfg.Linux != nil && cfg.Linux.Resources != nil && cfg.Linux.Resources.Memory != nil {
		limit = cfg.Linux.Resources.Memory.Limit
	}
	switch {
	case limit == nil:
		problems = append(problems, fmt.Sprintf("linux.resources.memory.limit is not set, want %d (64 MiB)", ociMemory))
	case *limit != ociMemory:
		problems = append(problems, fmt.Sprintf("linux.resources.memory.limit is %d, want %d (64 MiB)", *limit, ociMemory))
	}
	switch {
	case cfg.Process == nil || len(cfg.Process.Args) == 0:
		problems = append(problems, `process.args is empty, want it to start with "/bin/sh"`)
	case cfg.Process.Args[0] != "/bin/sh":
		problems = append(problems, fmt.Sprintf(`process.args[0] is %q, want "/bin/sh"`, cfg.Process.Args[0]))
	}
	root := oci.RootPath(dir, cfg)
	if root == "" {
		problems = append(problems, "root.path is not set, want the root filesystem's directory")
	} else if _, err := os.Lstat(filepath.Join(root, "bin", "sh")); err != nil {
		problems = append(problems, fmt.Sprintf("root.path %s has no bin/sh", root))
	}
	if len(problems) > 0 {
		return Verdict{Detail: path + ": " + strings.Join(problems, "; ")}
	}
	return Verdict{Passed: true, Detail: fmt.Sprintf("%s: hostname %s, linux.resources.memory.limit %d (64 MiB), process.args[0] /bin/sh, and root.path %s has bin/sh", path, ociHostname, ociMemory, root)}
}
