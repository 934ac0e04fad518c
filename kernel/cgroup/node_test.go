package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

func TestNodeDir(t *testing.T) {
	for in, want := range map[string]string{"node-a": "kcna-node-a", "a": "kcna-node-a", "big-1": "kcna-node-big-1"} {
		if got := NodeDir(in); got != want {
			t.Errorf("NodeDir(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "Node", "a/b", "-a", strings.Repeat("x", 32)} {
		if err := ValidateNode(bad); err == nil {
			t.Errorf("ValidateNode(%q) = nil, want an error", bad)
		}
	}
}

// TestPlanNodeV2 checks that a node on v2 gets one directory serving every
// controller, limited or not, so that any sandbox can be placed in it.
func TestPlanNodeV2(t *testing.T) {
	h := build(parseMountinfo([]byte(v2Mountinfo)), nil,
		fakeRead(map[string]string{"/sys/fs/cgroup/cgroup.controllers": "cpu memory pids"}))
	p, err := h.planAt(NodeDir("node-a"), Limits{MemoryBytes: 1 << 28}, where{isNode: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.dirs) != 1 || p.dirs[0].path != "/sys/fs/cgroup/kcna-lab/kcna-node-a" {
		t.Fatalf("dirs = %+v", p.dirs)
	}
	if got := p.ctls[p.dirs[0].path]; !slices.Equal(got, []string{"memory", "cpu", "pids"}) {
		t.Errorf("controllers = %v, want all three", got)
	}
	// Nested in a node that does not exist: refused, saying what to run.
	_, err = h.planAt("kcna-x", Limits{}, where{node: "node-zz-never"})
	if err == nil || !strings.Contains(err.Error(), "kcna-lab orchestrate") {
		t.Errorf("a sandbox on a missing node: err = %v, want one naming kcna-lab orchestrate", err)
	}
}

func TestRemoveRefusesNested(t *testing.T) {
	for _, p := range []string{
		"/sys/fs/cgroup/memory/user.slice/kcna-x",         // not in kcna-lab
		"/sys/fs/cgroup/memory/kcna-lab/other/kcna-x",     // not in a node
		"/sys/fs/cgroup/memory/kcna-node-a/kcna-x",        // a node not in kcna-lab
		"/sys/fs/cgroup/memory/kcna-lab/kcna-x/kcna-y/kl", // too deep, and not ours
	} {
		if err := Remove(p); err == nil || !strings.Contains(err.Error(), "refuse") {
			t.Errorf("Remove(%q) = %v, want a refusal", p, err)
		}
	}
	if err := Remove("/sys/fs/cgroup/memory/kcna-lab/kcna-node-test-never/kcna-x"); err != nil {
		t.Errorf("Remove(missing, in a node) = %v, want nil", err)
	}
}

// nodeName is a node name unique to this test binary and test.
func nodeName(t *testing.T) string {
	return fmt.Sprintf("test-%d-%s", os.Getpid(), strings.ToLower(strings.TrimPrefix(t.Name(), "Test")))
}

// TestNodeOnKernel makes a node with a capacity and a sandbox group inside
// it, reads both back from the kernel, and removes the node the way `clean`
// would after a crash: its child and the child's process go with it.
func TestNodeOnKernel(t *testing.T) {
	h := kernelHost(t, "memory", "cpu", "pids")
	node := nodeName(t)
	t.Cleanup(func() { nodeLeftovers(t, node) })
	j, err := journal.Create(t.TempDir(), "node")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	ng, err := h.CreateNode(node, Limits{MemoryBytes: 128 << 20, CPUs: 1}, j, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ng.Destroy(event.Discard) })
	if _, err := h.CreateNode(node, Limits{}, j, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second node of the same name: err = %v, want already exists", err)
	}
	file, mem, err := ng.MemoryLimit()
	if err != nil || mem != 128<<20 {
		t.Errorf("node memory limit %s = %d, %v; want %d", file, mem, err, 128<<20)
	}
	if file, cpus, err := ng.CPULimit(); err != nil || cpus != 1 {
		t.Errorf("node cpu limit %s = %v, %v; want 1", file, cpus, err)
	}
	wantDirs := len(h.Controllers())
	if h.hybrid() {
		wantDirs++ // and one in the unified hierarchy
	}
	if len(ng.Paths()) != wantDirs && h.Mode() != "v2" {
		t.Errorf("node dirs %v: want one per v1 hierarchy of %v (and the unified one on a hybrid host)", ng.Paths(), h.Controllers())
	}

	child := testName(t)
	g, err := h.CreateIn(node, child, Limits{MemoryBytes: 32 << 20, CPUs: 0.25}, j, rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Paths() {
		want := filepath.Join(NodeDir(node), child)
		if !strings.HasSuffix(p, "/"+parentName+"/"+want) {
			t.Errorf("child dir %s is not %s/%s", p, parentName, want)
		}
	}
	if _, cpus, err := g.CPULimit(); err != nil || cpus != 0.25 {
		t.Errorf("child cpu limit = %v, %v; want 0.25", cpus, err)
	}
	// Every directory was journaled before it was made.
	var journaled []string
	for _, e := range j.Entries() {
		journaled = append(journaled, e.Path)
	}
	for _, p := range append(ng.Paths(), g.Paths()...) {
		if !slices.Contains(journaled, p) {
			t.Errorf("%s was not journaled: %v", p, journaled)
		}
	}
	for _, s := range rec.Of(event.KindStep) {
		if !s.OK() {
			t.Errorf("step %s failed: %s", s.Action, s.Err)
		}
	}

	cmd, _, done := gated(t, "")
	if err := g.Add(cmd.Process.Pid, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	if !strings.Contains(string(b), "/"+NodeDir(node)+"/"+child) {
		t.Errorf("/proc/PID/cgroup does not place the process in the node:\n%s", b)
	}
	// A crashed orchestrator's journal lists the node before its
	// sandboxes; removing the node must take the nested group with it.
	for _, p := range ng.Paths() {
		if err := Remove(p); err != nil {
			t.Fatalf("Remove(%s): %v", p, err)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists: %v", p, err)
		}
	}
	select {
	case err := <-done:
		done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("the process in the node's sandbox group survived the node's removal")
	}
	if err := g.Destroy(nil); err != nil {
		t.Errorf("Destroy after the node went: %v, want nil (already gone)", err)
	}
}

// nodeLeftovers fails t if any directory of node is left in any hierarchy.
func nodeLeftovers(t *testing.T, node string) {
	t.Helper()
	for _, pattern := range []string{Root + "/kcna-lab/" + NodeDir(node), Root + "/*/kcna-lab/" + NodeDir(node)} {
		left, _ := filepath.Glob(pattern)
		for _, d := range left {
			t.Errorf("left behind: %s", d)
		}
	}
}
