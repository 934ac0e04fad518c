package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// Group is one sandbox's cgroup: a directory per v1 hierarchy it uses, plus
// at most one v2 directory.
type Group struct {
	name string
	dirs []dir
	// ctl maps a controller to the index in dirs of the directory that
	// enforces it.
	ctl map[string]int
}

// dir is one directory of a Group.
type dir struct {
	path    string
	version Version
}

// Create makes the group name (which must start with "kcna-") and sets lim.
// Every directory is journaled before it is made, and every file write is
// emitted as a step. Memory and pids directories are made even without a
// limit, so that Sample has something to read; a controller that is missing
// only matters if lim asks for it. On failure, what was made is removed.
func (h *Host) Create(name string, lim Limits, j *journal.Journal, sink event.Sink) (*Group, error) {
	return h.create(name, lim, where{}, j, sink)
}

// where says where a group goes: directly under kcna-lab (the zero
// value), or inside a node's group; and whether it is a node itself.
type where struct {
	// node is the node (its name, not its directory) to create the group
	// in; "" means directly under kcna-lab.
	node string
	// isNode makes the group a node: a directory in every hierarchy,
	// whether or not capacity limits it there, so that any sandbox can be
	// placed under it, and (on v2) its controllers handed down to them.
	isNode bool
}

func (h *Host) create(name string, lim Limits, at where, j *journal.Journal, sink event.Sink) (*Group, error) {
	if sink == nil {
		sink = event.Discard
	}
	if !strings.HasPrefix(name, "kcna-") || strings.ContainsAny(name, "/\x00") || name == parentName {
		return nil, fmt.Errorf("cgroup name %q: must be a plain name starting with kcna-", name)
	}
	if j == nil {
		return nil, fmt.Errorf("create cgroup %s: no journal to record it in", name)
	}
	if err := lim.Validate(); err != nil {
		return nil, err
	}
	plan, err := h.planAt(name, lim, at)
	if err != nil {
		return nil, fmt.Errorf("create cgroup %s: %w", name, err)
	}
	// Refuse a name already in use before journaling it: otherwise undoing
	// this journal would remove another sandbox's group.
	for _, d := range plan.dirs {
		if _, err := os.Stat(d.path); err == nil {
			return nil, fmt.Errorf("create cgroup %s: %s already exists (in use by another sandbox, or left by a crashed run, which `kcna-lab clean` removes)", name, d.path)
		}
	}
	narrate(sink, plan, at)

	g := &Group{name: name, ctl: map[string]int{}}
	fail := func(err error) (*Group, error) {
		if derr := g.Destroy(sink); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, fmt.Errorf("create cgroup %s: %w", name, err)
	}
	for _, d := range plan.dirs {
		prepare := h.prepareParent
		if at.node != "" {
			prepare = prepareNode
		}
		if err := prepare(d, plan.ctls[d.path], sink); err != nil {
			return fail(err)
		}
		if err := j.Record(journal.Entry{Kind: journal.Cgroup, Path: d.path, Shell: "rmdir " + d.path}); err != nil {
			return fail(err)
		}
		if err := event.Step(sink, "mkdir "+d.path, "mkdir "+d.path, func() error {
			return bare("mkdir", d.path, os.Mkdir(d.path, 0o755))
		}); err != nil {
			return fail(err)
		}
		g.dirs = append(g.dirs, d)
		for _, c := range plan.ctls[d.path] {
			g.ctl[c] = len(g.dirs) - 1
		}
	}
	if err := g.setLimits(lim, sink); err != nil {
		return fail(err)
	}
	if at.isNode {
		// A node's sandboxes are its children: on v2 they can only use
		// the controllers it hands down. v1 has no such step.
		for _, d := range g.dirs {
			if d.version == V2 {
				if err := enable(d.path, plan.ctls[d.path], sink); err != nil {
					return fail(err)
				}
			}
		}
	}
	return g, nil
}

// plan is where a group's directories go and which controllers each serves.
type plan struct {
	dirs []dir
	ctls map[string][]string // dir path → controllers
}

// plan decides the group's directories: as root under each hierarchy's
// root, rootless under the delegated v2 subtree.
func (h *Host) plan(name string, lim Limits) (plan, error) { return h.planAt(name, lim, where{}) }

// planAt is plan for a group at a place: under kcna-lab, or inside a node.
func (h *Host) planAt(name string, lim Limits, at where) (plan, error) {
	p := plan{ctls: map[string][]string{}}
	have := h.Controllers()
	limited := map[string]bool{"memory": lim.MemoryBytes > 0, "cpu": lim.CPUs > 0, "pids": lim.Pids > 0}
	rootless := h.euid != 0
	for _, c := range wanted {
		v, ok := have[c]
		if !ok {
			if limited[c] {
				return plan{}, fmt.Errorf("cannot limit %s: %w", c, h.Usable(false))
			}
			continue
		}
		if !limited[c] && c == "cpu" && !at.isNode && at.node == "" {
			// cpu has nothing to sample without a limit. A node has a
			// directory for it all the same: a sandbox placed in the node
			// may have a CPU limit, and its directory goes under the node's;
			// and a sandbox on a node needs one for the node's limit to
			// reach it on v1, where each controller is its own tree.
			continue
		}
		if v == V1 && h.hybrid() && !limited[c] && !at.isNode && at.node == "" {
			// On a hybrid host the sandbox's own cgroup is in the unified
			// hierarchy (below), where its init is cloned straight in; a
			// v1 hierarchy can only be joined by a cgroup.procs write,
			// which on Linux 6.0+ costs an RCU grace period. So a v1 controller is
			// joined only for a limit (or a node's) to enforce.
			continue
		}
		var parent string
		switch {
		case v == V1 && rootless:
			if limited[c] {
				return plan{}, fmt.Errorf("cannot limit %s as uid %d: cgroup v1 cannot be delegated safely; run as root or boot with systemd.unified_cgroup_hierarchy=1", c, h.euid)
			}
			continue
		case v == V1:
			parent = h.v1[c]
		case rootless:
			d, err := h.delegated([]string{c})
			if err != nil {
				if limited[c] {
					return plan{}, fmt.Errorf("cannot limit %s: %w", c, err)
				}
				continue
			}
			parent = d
		default:
			parent = h.v2
		}
		path := filepath.Join(parent, parentName, name)
		if at.node != "" {
			node := filepath.Join(parent, parentName, NodeDir(at.node))
			if !exists(node) {
				return plan{}, fmt.Errorf("node %s has no cgroup: %s does not exist (a node's cgroup lives only while the orchestrator that made it runs: start one with `sudo kcna-lab orchestrate`)", at.node, node)
			}
			path = filepath.Join(node, name)
		}
		if _, seen := p.ctls[path]; !seen {
			p.dirs = append(p.dirs, dir{path: path, version: v})
		}
		p.ctls[path] = append(p.ctls[path], c)
	}
	if err := h.addUnified(&p, name, at); err != nil {
		return plan{}, err
	}
	return p, nil
}

// addUnified gives a group on a hybrid host a directory in the unified
// (v2) hierarchy even when no controller of kcna-lab's lives there: a
// controller-less cgroup, but a real one (the "0::" line of
// /proc/PID/cgroup), that an init can be cloned into (CLONE_INTO_CGROUP
// takes only v2 directories) and whose cgroup.procs and cgroup.kill
// reach every process of the sandbox. It goes last, so that Destroy,
// which works backwards, kills through it first. Rootless it needs a
// delegated subtree; without one the group simply has no such directory.
func (h *Host) addUnified(p *plan, name string, at where) error {
	if !h.hybrid() || slices.ContainsFunc(p.dirs, func(d dir) bool { return d.version == V2 }) {
		return nil
	}
	parent := h.v2
	if h.euid != 0 {
		d, err := h.delegated(nil)
		if err != nil {
			return nil
		}
		parent = d
	}
	path := filepath.Join(parent, parentName, name)
	if at.node != "" {
		node := filepath.Join(parent, parentName, NodeDir(at.node))
		if !exists(node) {
			return fmt.Errorf("node %s has no cgroup: %s does not exist (a node's cgroup lives only while the orchestrator that made it runs: start one with `sudo kcna-lab orchestrate`)", at.node, node)
		}
		path = filepath.Join(node, name)
	}
	p.dirs = append(p.dirs, dir{path: path, version: V2})
	p.ctls[path] = nil
	return nil
}

// narrate explains, once per hierarchy version, why the group's
// directories are where they are.
func narrate(sink event.Sink, p plan, at where) {
	switch {
	case at.isNode:
		event.Narrate(sink, "A node is a cgroup too: its limits are the node's capacity, and the kernel holds every sandbox placed inside it to them, all together.")
	case at.node != "":
		event.Narrate(sink, fmt.Sprintf("The sandbox is scheduled on node %s, so its cgroup goes inside the node's: its own limits bound it, the node's bound it with its neighbours.", at.node))
	}
	who := "the sandbox"
	if at.isNode {
		who = "the node"
	}
	var v1 []string
	for _, d := range p.dirs {
		if d.version == V1 {
			// The hierarchy's root: above kcna-lab (and the node, if any).
			root := filepath.Dir(filepath.Dir(d.path))
			if at.node != "" {
				root = filepath.Dir(root)
			}
			v1 = append(v1, root)
			continue
		}
		if len(p.ctls[d.path]) == 0 {
			event.Narrate(sink, fmt.Sprintf("The unified (v2) hierarchy is mounted beside the v1 ones: %s gets a directory there too, with no controller (this host binds them all to v1), so that its processes are born in a cgroup of their own, which one cgroup.procs lists.", who))
			continue
		}
		event.Narrate(sink, fmt.Sprintf("cgroup v2: one unified hierarchy, one directory for %s; each parent must first hand %s down through cgroup.subtree_control.",
			who, strings.Join(p.ctls[d.path], ", ")))
	}
	if len(v1) > 0 {
		event.Narrate(sink, fmt.Sprintf("cgroup v1: each controller has its own hierarchy (%s), so %s gets one directory in each; limits are plain files in them.",
			strings.Join(v1, ", "), who))
	} else if len(p.dirs) > 0 && !at.isNode {
		for _, d := range p.dirs {
			if d.version == V2 && len(p.ctls[d.path]) == 0 {
				event.Narrate(sink, "No limit was asked for, so the sandbox joins none of the v1 controller hierarchies (memory, pids, cpu): kcna-lab joins one only for a limit to enforce, since moving a process into a v1 cgroup is a write to cgroup.procs, and on Linux 6.0 and later each such move makes the kernel wait for an RCU grace period.")
				break
			}
		}
	}
}

// prepareParent makes the shared kcna-lab directory above d and, on v2,
// enables ctls in the subtree_control of the hierarchy root (or delegated
// root) and of kcna-lab. The kcna-lab directory is not journaled: it is
// shared by concurrent sandboxes and holds no processes, so it stays.
func (h *Host) prepareParent(d dir, ctls []string, sink event.Sink) error {
	base := filepath.Dir(filepath.Dir(d.path)) // e.g. /sys/fs/cgroup/memory
	parent := filepath.Join(base, parentName)
	if d.version == V2 {
		if err := enable(base, ctls, sink); err != nil {
			return err
		}
	}
	if _, err := os.Stat(parent); errors.Is(err, os.ErrNotExist) {
		err := event.Step(sink, "mkdir "+parent, "mkdir -p "+parent, func() error {
			err := os.Mkdir(parent, 0o755)
			if errors.Is(err, os.ErrExist) {
				return nil // a concurrent sandbox made it first
			}
			return bare("mkdir", parent, err)
		})
		if err != nil {
			return err
		}
	}
	if d.version == V2 {
		return enable(parent, ctls, sink)
	}
	return nil
}

// enable writes "+memory +pids ..." to dir's cgroup.subtree_control for the
// controllers not yet enabled there, so dir's children may use them.
func enable(dir string, ctls []string, sink event.Sink) error {
	file := filepath.Join(dir, "cgroup.subtree_control")
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read %s: %w", file, unwrapPath(err))
	}
	on := strings.Fields(string(b))
	var add []string
	for _, c := range ctls {
		if !slices.Contains(on, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	err = write(sink, file, strings.Join(add, " "))
	if errors.Is(err, syscall.EBUSY) {
		return fmt.Errorf("%w (no-internal-process rule: %s holds processes, so it cannot hand controllers to children)", err, dir)
	}
	return err
}

// setLimits writes each limit that is set into the directory enforcing it.
func (g *Group) setLimits(lim Limits, sink event.Sink) error {
	if lim.MemoryBytes > 0 {
		d := g.dirs[g.ctl["memory"]]
		n := strconv.FormatInt(lim.MemoryBytes, 10)
		// Swap is capped too: otherwise a hog is swapped out, not killed.
		limit, swap, swapVal := "memory.max", "memory.swap.max", "0"
		if d.version == V1 {
			// memsw counts memory+swap, so equal to the limit means no swap;
			// it must be set after limit_in_bytes, which it may not undercut.
			limit, swap, swapVal = "memory.limit_in_bytes", "memory.memsw.limit_in_bytes", n
		}
		if err := write(sink, filepath.Join(d.path, limit), n); err != nil {
			return err
		}
		if exists(filepath.Join(d.path, swap)) {
			if err := write(sink, filepath.Join(d.path, swap), swapVal); err != nil {
				return err
			}
		}
	}
	if lim.CPUs > 0 {
		d := g.dirs[g.ctl["cpu"]]
		q := strconv.FormatInt(lim.Quota(), 10)
		if d.version == V1 {
			if err := write(sink, filepath.Join(d.path, "cpu.cfs_period_us"), strconv.Itoa(CPUPeriod)); err != nil {
				return err
			}
			if err := write(sink, filepath.Join(d.path, "cpu.cfs_quota_us"), q); err != nil {
				return err
			}
		} else if err := write(sink, filepath.Join(d.path, "cpu.max"), q+" "+strconv.Itoa(CPUPeriod)); err != nil {
			return err
		}
	}
	if lim.Pids > 0 {
		d := g.dirs[g.ctl["pids"]]
		if err := write(sink, filepath.Join(d.path, "pids.max"), strconv.FormatInt(lim.Pids, 10)); err != nil {
			return err
		}
	}
	return nil
}

// Name is the group's name.
func (g *Group) Name() string { return g.name }

// Paths are the group's directories.
func (g *Group) Paths() []string {
	out := make([]string, len(g.dirs))
	for i, d := range g.dirs {
		out[i] = d.path
	}
	return out
}

// Add moves pid into every directory of the group.
func (g *Group) Add(pid int, sink event.Sink) error { return g.AddExcept(pid, "", sink) }

// AddExcept moves pid into every directory of the group but born, the
// one it was cloned into (CloneDir). Each write is a migration: the
// kernel takes cgroup_threadgroup_rwsem for writing, which since Linux
// 6.0 waits for an RCU grace period, milliseconds on a busy host.
func (g *Group) AddExcept(pid int, born string, sink event.Sink) error {
	if sink == nil {
		sink = event.Discard
	}
	for _, d := range g.dirs {
		if d.path == born {
			continue
		}
		if err := write(sink, filepath.Join(d.path, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("add pid %d to cgroup %s: %w", pid, g.name, err)
		}
	}
	return nil
}

// JoinedAtClone reports whether a process cloned into the directory born
// is in every cgroup of the group, so that AddExcept has nothing left to
// do; born is "" for a process that was not cloned into one. A nil group
// (no cgroup at all) has nothing to join either.
func (g *Group) JoinedAtClone(born string) bool {
	if g == nil {
		return true
	}
	for _, d := range g.dirs {
		if d.path != born {
			return false
		}
	}
	return true
}

// CloneDir is the group's directory in the unified (v2) hierarchy, the
// one a process can be cloned straight into (clone3 with
// CLONE_INTO_CGROUP, Linux 5.7+); "" when the group has none (pure v1).
func (g *Group) CloneDir() string {
	for _, d := range g.dirs {
		if d.version == V2 {
			return d.path
		}
	}
	return ""
}

// Unsampled says, for each of memory and pids that Sample cannot read,
// why (UnjoinedWhy).
func (g *Group) Unsampled() []string {
	var out []string
	for _, c := range g.Unjoined() {
		out = append(out, UnjoinedWhy(c))
	}
	return out
}

// Unjoined are the controllers of memory and pids whose hierarchy the
// group did not join: on a hybrid host a group joins a v1 controller's
// hierarchy only for a limit, so an unlimited sandbox has no number of
// its own there.
func (g *Group) Unjoined() []string {
	born := slices.IndexFunc(g.dirs, func(d dir) bool { return d.version == V2 })
	if born < 0 {
		return nil // pure v1: memory and pids are always joined
	}
	for _, i := range g.ctl {
		if i == born {
			return nil // controllers live in v2: the one directory has them
		}
	}
	var out []string
	for _, c := range []string{"memory", "pids"} {
		if _, ok := g.ctl[c]; !ok {
			out = append(out, c)
		}
	}
	return out
}

// UnjoinedWhy is why a group has no cgroup of its own for controller c.
func UnjoinedWhy(c string) string {
	return fmt.Sprintf("no %s cgroup of its own: on a hybrid host (v1 controllers beside a v2 tree without them), kcna-lab joins a controller's v1 hierarchy only for a limit (--%s)", c, c)
}

// Procs lists the processes in any of the group's directories.
func (g *Group) Procs() ([]int, error) {
	var out []int
	for _, d := range g.dirs {
		pids, err := readProcs(d.path)
		if err != nil {
			return nil, err
		}
		out = append(out, pids...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// dirFor returns the directory enforcing controller c.
func (g *Group) dirFor(c string) (dir, bool) {
	i, ok := g.ctl[c]
	if !ok {
		return dir{}, false
	}
	return g.dirs[i], true
}

// OOMKills is how many processes the kernel's OOM killer ended in the group,
// as the kernel counts them.
func (g *Group) OOMKills() (int64, error) {
	d, ok := g.dirFor("memory")
	if !ok {
		return 0, fmt.Errorf("cgroup %s has no memory controller to count OOM kills", g.name)
	}
	file := filepath.Join(d.path, "memory.events")
	if d.version == V1 {
		file = filepath.Join(d.path, "memory.oom_control")
	}
	kv, err := ReadKeyed(file)
	if err != nil {
		return 0, err
	}
	n, ok := kv["oom_kill"]
	if !ok {
		return 0, fmt.Errorf("%s has no oom_kill counter (needs Linux 4.13 or later)", file)
	}
	return n, nil
}

// Sample reads memory use and process count against their limits. A file
// that cannot be read is left out rather than guessed.
func (g *Group) Sample() []event.Metric {
	var out []event.Metric
	if d, ok := g.dirFor("memory"); ok {
		cur, lim := "memory.current", "memory.max"
		if d.version == V1 {
			cur, lim = "memory.usage_in_bytes", "memory.limit_in_bytes"
		}
		if m, ok := sample(d.path, cur, lim, "bytes"); ok {
			out = append(out, m)
		}
	}
	if d, ok := g.dirFor("pids"); ok {
		if m, ok := sample(d.path, "pids.current", "pids.max", "count"); ok {
			out = append(out, m)
		}
	}
	return out
}

func sample(dir, cur, lim, unit string) (event.Metric, bool) {
	v, err := ReadInt(filepath.Join(dir, cur))
	if err != nil {
		return event.Metric{}, false
	}
	l, err := ReadInt(filepath.Join(dir, lim))
	if err != nil {
		l = 0
	}
	return event.Metric{Name: cur, Value: v, Limit: l, Unit: unit}, true
}

// CPUStat reads cpu.stat: nr_periods, nr_throttled and throttled_usec (on
// v1, converted from throttled_time in ns), plus whatever else the kernel
// reports there.
func (g *Group) CPUStat() (map[string]int64, error) {
	d, ok := g.dirFor("cpu")
	if !ok {
		// On v2 cpu.stat exists without the cpu controller (usage only).
		i := slices.IndexFunc(g.dirs, func(d dir) bool { return d.version == V2 })
		if i < 0 {
			return nil, fmt.Errorf("cgroup %s has no cpu controller (it is only added with a cpu limit)", g.name)
		}
		d = g.dirs[i]
	}
	kv, err := ReadKeyed(filepath.Join(d.path, "cpu.stat"))
	if err != nil {
		return nil, err
	}
	if ns, ok := kv["throttled_time"]; ok {
		if _, has := kv["throttled_usec"]; !has {
			kv["throttled_usec"] = ns / 1000
		}
	}
	return kv, nil
}
