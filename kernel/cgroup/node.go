package cgroup

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// An orchestrator's node is a cgroup: kcna-lab/kcna-node-NAME, whose limits
// are the node's capacity. Its sandboxes' groups are made inside it
// (kcna-lab/kcna-node-a/kcna-web-3f2a), and because the kernel enforces
// limits hierarchically, the sandboxes of one node together can never use
// more than the node's memory.max and cpu.max, whatever their own limits
// say. That is what a Kubernetes node's allocatable capacity is, seen from
// the kubelet: it too puts every pod's cgroup under one parent (kubepods).

// NodePrefix starts the cgroup directory of every node.
const NodePrefix = "kcna-node-"

var nodeRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`) })

// ValidateNode checks a node's name: the rules of a sandbox name.
func ValidateNode(node string) error {
	if !nodeRE().MatchString(node) {
		return fmt.Errorf("node name %q: use 1 to 31 lower-case letters, digits and dashes, starting with a letter or digit (e.g. node-a)", node)
	}
	return nil
}

// NodeDir is the name of node's cgroup directory: "node-a" and "a" both
// give kcna-node-a, so the common "node-" in a node's name is not said twice.
func NodeDir(node string) string { return NodePrefix + strings.TrimPrefix(node, "node-") }

// CreateNode makes the cgroup of an orchestrator's node, with capacity as
// its limits, journaled in j before each directory is made, every write an
// event. It has a directory in every hierarchy kcna-lab uses (on v1 one
// per controller), limited or not, and on v2 it enables its controllers in
// its own cgroup.subtree_control, since its sandboxes are its children.
// A node that exists already is refused: it belongs to another
// orchestrator, or to a crashed one that `kcna-lab clean` sweeps.
func (h *Host) CreateNode(node string, capacity Limits, j *journal.Journal, sink event.Sink) (*Group, error) {
	if err := ValidateNode(node); err != nil {
		return nil, err
	}
	return h.create(NodeDir(node), capacity, where{isNode: true}, j, sink)
}

// CreateIn makes the group name (starting with "kcna-") inside node's
// cgroup, which CreateNode must have made, and sets lim: Create, one level
// down. The node's limits then bound this group and its siblings together.
func (h *Host) CreateIn(node, name string, lim Limits, j *journal.Journal, sink event.Sink) (*Group, error) {
	if node == "" {
		return h.Create(name, lim, j, sink)
	}
	if err := ValidateNode(node); err != nil {
		return nil, err
	}
	return h.create(name, lim, where{node: node}, j, sink)
}

// prepareNode readies a node's directory for a child: on v2 it makes sure
// the node hands the child's controllers down (CreateNode did, unless
// someone changed it since); v1 needs nothing. Unlike prepareParent it
// creates no directory: a node must already exist.
func prepareNode(d dir, ctls []string, sink event.Sink) error {
	if d.version == V2 {
		return enable(filepath.Dir(d.path), ctls, sink)
	}
	return nil
}

// MemoryLimit reads the group's memory limit back from the kernel: the
// file (memory.max, or memory.limit_in_bytes on v1) and its value in
// bytes, 0 for none.
func (g *Group) MemoryLimit() (file string, bytes int64, err error) {
	d, ok := g.dirFor("memory")
	if !ok {
		return "", 0, fmt.Errorf("cgroup %s has no memory controller", g.name)
	}
	file = filepath.Join(d.path, "memory.max")
	if d.version == V1 {
		file = filepath.Join(d.path, "memory.limit_in_bytes")
	}
	n, err := ReadInt(file)
	return file, n, err
}

// CPULimit reads the group's CPU limit back from the kernel: the file
// (cpu.max, or cpu.cfs_quota_us on v1) and the limit in CPUs, 0 for none.
func (g *Group) CPULimit() (file string, cpus float64, err error) {
	d, ok := g.dirFor("cpu")
	if !ok {
		return "", 0, fmt.Errorf("cgroup %s has no cpu controller", g.name)
	}
	if d.version == V1 {
		file = filepath.Join(d.path, "cpu.cfs_quota_us")
		q, err := readSigned(file)
		if err != nil || q <= 0 {
			return file, 0, err // -1 is v1's "no limit"
		}
		p, err := ReadInt(filepath.Join(d.path, "cpu.cfs_period_us"))
		if err != nil || p == 0 {
			return file, 0, err
		}
		return file, float64(q) / float64(p), nil
	}
	file = filepath.Join(d.path, "cpu.max")
	b, err := readLine(file)
	if err != nil {
		return file, 0, err
	}
	f := strings.Fields(b) // "50000 100000" or "max 100000"
	if len(f) != 2 || f[0] == "max" {
		return file, 0, nil
	}
	q, err1 := strconv.ParseInt(f[0], 10, 64)
	p, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || p == 0 {
		return file, 0, fmt.Errorf("read %s: %q is not QUOTA PERIOD", file, b)
	}
	return file, float64(q) / float64(p), nil
}

// readSigned reads a one-number file that may hold -1 (v1's cfs_quota_us).
func readSigned(file string) (int64, error) {
	s, err := readLine(file)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %q is not a number", file, s)
	}
	return n, nil
}

// readLine reads a small file, trimmed.
func readLine(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", file, unwrapPath(err))
	}
	return strings.TrimSpace(string(b)), nil
}
