package demos

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/platform/orchestrator"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// orchestrationDemos are lesson orchestration's demos.
func orchestrationDemos() []Demo {
	return []Demo{{
		ID:    "orchestration",
		Title: "An orchestrator keeps three replicas running: self-healing, scheduling, scaling, a rolling update and a rollback",
		Run:   runOrchestration,
		Blocked: func(r sandbox.Report) string {
			// Rootless, the nodes are cgroups in the user's delegated
			// subtree: r.Cgroup.Problem says if there is none.
			if why := needsNamespaces(r, sandbox.NSPid, sandbox.NSMount); why != "" {
				return why
			}
			return r.Cgroup.Problem
		},
		// `s` opens a plain shell: the lesson's challenge runs its own
		// orchestrator, `kcna-lab orchestrate`, from there or beside it.
		ShellFlags: nil,
	}}
}

// orchestrationChecks are lesson orchestration's challenge checks.
func orchestrationChecks() []Check {
	return []Check{{ID: "scale-to-five", Verify: checkScaleToFive}}
}

// The demo's deployment: two small nodes that hold five replicas between
// them (three and two), so that a sixth fits nowhere.
const (
	demoReplicaMemory = 64 << 20
	demoReplicaCPU    = 0.25
)

// orchDemo is one run of the demo: its controller and what it has seen.
type orchDemo struct {
	c    *orchestrator.Controller
	sink event.Sink
}

func runOrchestration(ctx context.Context, sink event.Sink) error {
	name := demoName("lab-web")
	nodes := []orchestrator.Node{
		{Name: demoName("lab-a"), CPUs: 1, MemoryBytes: 3 * demoReplicaMemory},
		{Name: demoName("lab-b"), CPUs: 1, MemoryBytes: 2 * demoReplicaMemory},
	}
	event.Narrate(sink, fmt.Sprintf("A Deployment says what should run: 3 replicas of %s at v1, each requesting %s and %s of memory. The controller's loop compares that with what runs, and acts, again and again. Its two nodes are cgroups, %s and %s, whose limits are their capacity.",
		name, orchestrator.CPUText(demoReplicaCPU), orchestrator.MiB(demoReplicaMemory), nodes[0].Name, nodes[1].Name))
	c, err := orchestrator.New(orchestrator.Config{
		Deployment: orchestrator.Deployment{Name: name, Replicas: 3, Version: "v1", Requests: orchestrator.Requests{CPUs: demoReplicaCPU, MemoryBytes: demoReplicaMemory}},
		Nodes:      nodes,
		ReadyAfter: 300 * time.Millisecond,
	}, sink)
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	go func() { ran <- c.Run(runCtx) }()
	d := &orchDemo{c: c, sink: sink}
	err = d.story(ctx)
	stop()
	if rerr := <-ran; rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return err
	}
	return d.nothingLeft(nodes)
}

// story is the demo proper, while the controller runs.
func (d *orchDemo) story(ctx context.Context) error {
	st, err := d.wait(ctx, "3 ready replicas", orchReady(3, "v1"))
	if err != nil {
		return err
	}
	if err := d.showPlacement(st); err != nil {
		return err
	}
	if err := d.killOne(ctx, st); err != nil {
		return err
	}
	if err := d.scale(ctx); err != nil {
		return err
	}
	return d.rollout(ctx)
}

// showPlacement sets each node's limits, read from its cgroup files,
// beside where the kernel says each replica's init lives.
func (d *orchDemo) showPlacement(st orchestrator.Status) error {
	var left, right []string
	for _, n := range st.Nodes {
		left = append(left, fmt.Sprintf("%s (%s):", n.Name, cgroup.NodeDir(n.Name)))
		left = append(left, fmt.Sprintf("  %s = %s", filepath.Base(n.MemoryFile), readTrim(n.MemoryFile)))
		left = append(left, fmt.Sprintf("  %s = %s", filepath.Base(n.CPUFile), readTrim(n.CPUFile)))
	}
	for _, r := range st.Replicas {
		p, err := orchestrator.Inspect(r.PID)
		if err != nil {
			return err
		}
		right = append(right, fmt.Sprintf("%s PID %d", r.Name, r.PID), "  in "+p.Node)
	}
	sideBySide(d.sink, "The nodes' cgroup limits | where each replica's init is (/proc/PID/cgroup)", "node cgroups", left, "replicas", right)
	event.Narrate(d.sink, "The scheduler put each replica on the node with the most room left, by its requests; the kernel holds each node's replicas, together, to the node's limits, since a replica's cgroup is made inside its node's.")
	return nil
}

// killOne kills a replica's init from outside, as a crash or a lost
// machine would, and times the controller's replacement.
func (d *orchDemo) killOne(ctx context.Context, st orchestrator.Status) error {
	victim := st.Replicas[0]
	event.Narrate(d.sink, fmt.Sprintf("Now kill -9 the init of %s from outside, as a crash would. Its sandbox's Wait returns in the controller, which wakes the loop at once: desired 3, running 2.", victim.Name))
	start := time.Now()
	err := event.Step(d.sink, fmt.Sprintf("kill(%d, SIGKILL)", victim.PID), fmt.Sprintf("kill -9 %d", victim.PID), func() error {
		return syscall.Kill(victim.PID, syscall.SIGKILL)
	})
	if err != nil {
		return err
	}
	after, err := d.wait(ctx, "a replacement", func(st orchestrator.Status) bool {
		if len(st.Replicas) != 3 {
			return false
		}
		for _, r := range st.Replicas {
			if r.Name == victim.Name || r.PID == 0 {
				return false
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	_, gone := orchestrator.Inspect(victim.PID)
	left := []string{fmt.Sprintf("%s PID %d", victim.Name, victim.PID)}
	if gone != nil {
		left = append(left, "  /proc/"+fmt.Sprint(victim.PID)+": gone")
	} else {
		left = append(left, "  /proc/"+fmt.Sprint(victim.PID)+": still there (a new process with its PID?)")
	}
	var right []string
	for _, r := range after.Replicas {
		if r.Name != "" && !slices.ContainsFunc(st.Replicas, func(o orchestrator.Replica) bool { return o.Name == r.Name }) {
			p, err := orchestrator.Inspect(r.PID)
			if err != nil {
				return err
			}
			right = append(right, fmt.Sprintf("%s PID %d", r.Name, r.PID), "  in "+p.Node, fmt.Sprintf("  running %s after the kill", took.Round(time.Millisecond)))
		}
	}
	sideBySide(d.sink, "Killed | its replacement", "killed", left, "replacement", right)
	event.Narrate(d.sink, fmt.Sprintf("Self-healing: %s after the kill a new replica ran. Nobody restarted the dead one; the loop saw fewer replicas than desired and started another, as a ReplicaSet controller does.", took.Round(time.Millisecond)))
	_, err = d.wait(ctx, "3 ready replicas", orchReady(3, "v1"))
	return err
}

// scale scales to 5, which the nodes hold exactly, then to 6: one replica
// fits no node and is reported as unschedulable; then back to 3.
func (d *orchDemo) scale(ctx context.Context) error {
	event.Narrate(d.sink, "Scale to 5: the loop starts two more; the nodes hold 3 and 2 replicas of 64 MiB.")
	if err := d.c.Scale(5); err != nil {
		return err
	}
	if _, err := d.wait(ctx, "5 ready replicas", orchReady(5, "v1")); err != nil {
		return err
	}
	event.Narrate(d.sink, "Scale to 6: a sixth replica needs 64 MiB that no node has left.")
	if err := d.c.Scale(6); err != nil {
		return err
	}
	st, err := d.wait(ctx, "5 ready and 1 unschedulable", func(st orchestrator.Status) bool {
		return st.Ready == 5 && len(st.Unschedulable) == 1
	})
	if err != nil {
		return err
	}
	perNode := map[string]int{}
	for _, r := range st.Replicas {
		if p, err := orchestrator.Inspect(r.PID); err == nil && p.Node != "" {
			perNode[p.Node]++
		}
	}
	var left []string
	for _, n := range st.Nodes {
		dir := cgroup.NodeDir(n.Name)
		left = append(left, n.Name+":", fmt.Sprintf("  %s = %s", filepath.Base(n.MemoryFile), readTrim(n.MemoryFile)),
			fmt.Sprintf("  %d replica inits inside", perNode[dir]))
	}
	u := st.Unschedulable[0]
	right := append([]string{u.Replica + ": Pending"}, wrapWords(u.Reason, 36)...)
	sideBySide(d.sink, "Full nodes, read from the kernel | the replica that fits nowhere", "nodes", left, "unschedulable", right)
	event.Narrate(d.sink, "A Pod that no node can hold stays Pending with the scheduler's reason, as here: the request is what is promised, and every node's promises are spent. Scale back to 3: the Pending replica goes first.")
	if err := d.c.Scale(3); err != nil {
		return err
	}
	_, err = d.wait(ctx, "3 ready replicas", orchReady(3, "v1"))
	return err
}

// rollout rolls v1 to v2, then to a broken v3 that stalls, then back.
func (d *orchDemo) rollout(ctx context.Context) error {
	// Read from /proc now: these processes are gone after the update.
	left := orchVersions(d.c.Status())
	event.Narrate(d.sink, "A rolling update to v2, maxSurge 1 and maxUnavailable 0: one new replica starts, and only once it is ready does an old one stop.")
	if err := d.c.Update("v2"); err != nil {
		return err
	}
	after, err := d.wait(ctx, "3 ready at v2", func(st orchestrator.Status) bool { return orchReady(3, "v2")(st) && st.Rollout == "complete" })
	if err != nil {
		return err
	}
	sideBySide(d.sink, "Before the update | after (APP_VERSION from /proc/PID/environ)", "before: v1", left, "after: v2", orchVersions(after))
	// A PID and its start time name one process for good.
	v2 := map[int]uint64{}
	for _, r := range after.Replicas {
		v2[r.PID], _ = journal.ProcStartTime(r.PID)
	}

	event.Narrate(d.sink, "Now an update to v3-broken, whose program exits at once. The new replica never becomes ready, so no old one is stopped: the rollout stalls and says so.")
	if err := d.c.Update("v3-broken"); err != nil {
		return err
	}
	stalled, err := d.wait(ctx, "the rollout to stall", func(st orchestrator.Status) bool { return strings.HasPrefix(st.Rollout, "stalled") })
	if err != nil {
		return err
	}
	event.Narrate(d.sink, fmt.Sprintf("%d replicas still serve v2. Roll back:", stalled.Ready))
	if err := d.c.Rollback(); err != nil {
		return err
	}
	back, err := d.wait(ctx, "3 ready at v2 again", func(st orchestrator.Status) bool { return orchReady(3, "v2")(st) && st.Rollout == "complete" })
	if err != nil {
		return err
	}
	var same []string
	for _, r := range back.Replicas {
		if start, err := journal.ProcStartTime(r.PID); err == nil && start == v2[r.PID] {
			same = append(same, fmt.Sprintf("PID %d: the same process", r.PID))
		}
	}
	sideBySide(d.sink, "After the rollback (from /proc) | the v2 replicas", "after the rollback", orchVersions(back), "the v2 processes", same)
	event.Narrate(d.sink, "The broken replicas were stopped and the v2 ones never were: a stalled rollout costs nothing but the surge replica, and rollback is the same rolling machinery pointed at the previous version.")
	return nil
}

// nothingLeft checks, from the kernel, that the stopped controller left
// no node cgroup, and says so.
func (d *orchDemo) nothingLeft(nodes []orchestrator.Node) error {
	var left []string
	for _, n := range nodes {
		for _, pattern := range []string{cgroup.Root + "/kcna-lab/" + cgroup.NodeDir(n.Name), cgroup.Root + "/*/kcna-lab/" + cgroup.NodeDir(n.Name)} {
			m, _ := filepath.Glob(pattern)
			left = append(left, m...)
		}
	}
	if os.Geteuid() != 0 {
		// Rootless, the nodes were deep in the user's delegated subtree.
		dirs := map[string]bool{}
		for _, n := range nodes {
			dirs[cgroup.NodeDir(n.Name)] = true
		}
		_ = filepath.WalkDir(cgroup.Root, func(p string, e fs.DirEntry, err error) error {
			if err != nil || !e.IsDir() {
				return nil
			}
			if dirs[e.Name()] && filepath.Base(filepath.Dir(p)) == "kcna-lab" {
				left = append(left, p)
			}
			return nil
		})
	}
	if len(left) > 0 {
		return fmt.Errorf("the stopped orchestrator left %s; `sudo kcna-lab clean` removes it", strings.Join(left, ", "))
	}
	event.Narrate(d.sink, "Stopped: every replica ended, and the nodes' cgroups are gone from /sys/fs/cgroup.")
	return nil
}

// sideBySide is event.SideBySide with column titles of its own: here
// neither side is "host" or "sandbox".
func sideBySide(sink event.Sink, title, leftTitle string, left []string, rightTitle string, right []string) {
	sink.Emit(event.Event{Time: time.Now(), Kind: event.KindCompare, Compare: &event.Compare{
		Title: title,
		Left:  event.Column{Title: leftTitle, Lines: left},
		Right: event.Column{Title: rightTitle, Lines: right},
	}})
}

// wait waits (at most 30s) for cond.
func (d *orchDemo) wait(ctx context.Context, what string, cond func(orchestrator.Status) bool) (orchestrator.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := d.c.WaitFor(ctx, cond)
	if err != nil {
		return st, fmt.Errorf("waiting for %s: %w", what, err)
	}
	return st, nil
}

// orchReady accepts a status with exactly n replicas, all ready at version.
func orchReady(n int, version string) func(orchestrator.Status) bool {
	return func(st orchestrator.Status) bool {
		if len(st.Replicas) != n || len(st.Unschedulable) != 0 {
			return false
		}
		for _, r := range st.Replicas {
			if r.State != "ready" || r.Version != version {
				return false
			}
		}
		return true
	}
}

// orchVersions lists each replica with the version its process carries, as
// the kernel reports its environment.
func orchVersions(st orchestrator.Status) []string {
	var out []string
	for _, r := range st.Replicas {
		v := "(gone)"
		if p, err := orchestrator.Inspect(r.PID); err == nil {
			v = p.Version
		}
		out = append(out, fmt.Sprintf("PID %d %s", r.PID, v))
	}
	return out
}

// wrapWords cuts s into lines of at most n runes, at spaces.
func wrapWords(s string, n int) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > n {
			out = append(out, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// challengeDeployment is the deployment the scale-to-five challenge looks
// at: `kcna-lab orchestrate`'s default.
const challengeDeployment = "web"

var replicaName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^` + challengeDeployment + `-[0-9a-f]{4}$`) })

// checkScaleToFive passes when the orchestrator of deployment web answers
// on its socket and five of its replicas run as processes, each in a
// node's cgroup as /proc/PID/cgroup says: the kernel's word, not the
// controller's.
func checkScaleToFive(ctx context.Context) (Verdict, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := orchestrator.Call(ctx, challengeDeployment, orchestrator.Request{Op: "status"})
	if err != nil {
		return fail("no orchestrator for deployment %s answers on %s: start one with `sudo kcna-lab orchestrate --replicas 3`, then scale it with `sudo kcna-lab orchestrate scale 5`", challengeDeployment, orchestrator.SocketPath(challengeDeployment))
	}
	list, err := sandbox.List()
	if err != nil {
		return Verdict{}, err
	}
	perNode := map[string]int{}
	var found []string
	for _, st := range list {
		if !replicaName().MatchString(st.Name) || !st.Running() {
			continue
		}
		p, err := orchestrator.Inspect(st.InitPID)
		if err != nil || p.Node == "" {
			continue
		}
		perNode[p.Node]++
		found = append(found, fmt.Sprintf("%s (PID %d)", st.Name, st.InitPID))
	}
	var nodes []string
	for n, k := range perNode {
		nodes = append(nodes, fmt.Sprintf("%d in %s", k, n))
	}
	sort.Strings(nodes)
	desired := 0
	if resp.Status != nil {
		desired = resp.Status.Desired
	}
	switch {
	case len(found) < 5:
		return fail("the orchestrator %s answers and wants %d replica(s), but %d replica sandbox(es) run as processes in a node's cgroup%s: scale to five with `sudo kcna-lab orchestrate scale 5` (and check `sudo kcna-lab orchestrate status` for unschedulable ones)",
			challengeDeployment, desired, len(found), listedNodes(nodes))
	case len(found) > 5:
		return fail("%d replica sandboxes of %s run%s; the challenge is exactly five: `sudo kcna-lab orchestrate scale 5`", len(found), challengeDeployment, listedNodes(nodes))
	}
	return pass("the orchestrator %s answers, and 5 replica sandboxes run as processes, each inside a node's cgroup (%s): %s", challengeDeployment, strings.Join(nodes, ", "), strings.Join(found, ", "))
}

// listedNodes is " (3 in kcna-node-a, 2 in kcna-node-b)", or "" for none.
func listedNodes(nodes []string) string {
	if len(nodes) == 0 {
		return ""
	}
	return " (" + strings.Join(nodes, ", ") + ")"
}
