//go:build linux

package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/sandbox"

	// The network plugin, for replicas with Deployment.Net, as
	// `kcna-lab run --net bridge` has it.
	_ "github.com/kcna-lab/kcna-lab/plugin/network"
)

// Controller runs one Deployment on its nodes until its context ends.
// Scale, Update, Rollback and Status may be called from any goroutine
// while Run runs.
type Controller struct {
	cfg  Config
	sink event.Sink

	kick   chan struct{} // the desired state changed: reconcile
	exits  chan exit     // a replica's sandbox ended
	readyc chan *replica // a replica became ready

	ran     atomic.Bool
	started chan struct{} // closed once the nodes (and socket) exist
	done    chan struct{} // closed when Run returns

	journal *journal.Journal
	srv     *server

	mu sync.Mutex
	// The desired state.
	want     int
	version  string
	previous string
	// What runs, by name, and what could not be placed.
	replicas map[string]*replica
	pending  []Unschedulable
	nodes    []*node
	// crash is the back-off of each version whose replicas exit before
	// they are ready, as Kubernetes' CrashLoopBackOff.
	crash map[string]*crashLoop
	// rollout says where an update stands; rolling is true while one runs.
	rollout string
	rolling bool
	// why is the cause the next start is narrated with ("replica web-3f2a
	// exited ...").
	why     string
	events  []string
	outbox  []string      // events to emit once mu is released
	changed chan struct{} // closed and replaced at every change
	runErr  error
}

// replica is one running (or starting, or stopping) replica.
type replica struct {
	name, version, node string
	sb                  *sandbox.Sandbox
	pid                 int
	cgroups             []string
	ip                  string
	cancel              context.CancelFunc
	started             time.Time
	ready, terminating  bool
	stopReason          string
	exited              chan struct{} // closed when its sandbox has ended
}

type exit struct {
	r   *replica
	res sandbox.Result
	err error
}

type node struct {
	Node
	group *cgroup.Group
}

type crashLoop struct {
	failures int
	until    time.Time
	stalled  bool // the stall was reported
}

// New checks cfg and returns a controller for it; Run starts it.
func New(cfg Config, sink event.Sink) (*Controller, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if sink == nil {
		sink = event.Discard
	}
	c := &Controller{
		cfg: cfg, sink: sink,
		kick: make(chan struct{}, 1), exits: make(chan exit), readyc: make(chan *replica),
		started: make(chan struct{}), done: make(chan struct{}),
		want: cfg.Deployment.Replicas, version: cfg.Deployment.Version,
		replicas: map[string]*replica{}, crash: map[string]*crashLoop{},
		rollout: "complete", changed: make(chan struct{}),
	}
	for _, n := range cfg.Nodes {
		c.nodes = append(c.nodes, &node{Node: n})
	}
	return c, nil
}

// Run makes the nodes' cgroups, then reconciles until ctx ends: it starts
// and stops replicas until what runs is what is desired, and starts again
// whenever that changes (a replica dies, Scale, Update, Rollback). When ctx
// ends it stops every replica and removes the nodes and the socket:
// nothing is left. Run may be called once.
func (c *Controller) Run(ctx context.Context) (err error) {
	if !c.ran.CompareAndSwap(false, true) {
		return errors.New("orchestrator: Run was already called on this controller")
	}
	defer func() {
		c.mu.Lock()
		c.runErr = err
		c.notify()
		c.unlock()
		close(c.done)
	}()
	if err := c.setUp(ctx); err != nil {
		return errors.Join(err, c.tearDown())
	}
	close(c.started)
	return errors.Join(c.loop(ctx), c.tearDown())
}

// Started is closed once the nodes exist and the API answers.
func (c *Controller) Started() <-chan struct{} { return c.started }

// Done is closed when Run has returned and everything is removed.
func (c *Controller) Done() <-chan struct{} { return c.done }

// setUp checks the host, journals and makes the nodes' cgroups, and opens
// the API socket.
func (c *Controller) setUp(ctx context.Context) error {
	d := c.cfg.Deployment
	host, err := cgroup.Detect()
	if err != nil {
		return fmt.Errorf("orchestrate: nodes are cgroups: %w", err)
	}
	// Rootless, the nodes are made in the user's delegated cgroup v2
	// subtree; Usable says which systemd setting is missing if none is.
	if err := host.Usable(os.Geteuid() != 0); err != nil {
		return fmt.Errorf("orchestrate: nodes are cgroups with memory and CPU limits: %w", err)
	}
	if c.cfg.Serve {
		if _, err := Call(ctx, d.Name, Request{Op: "status"}); err == nil {
			return fmt.Errorf("an orchestrator called %s is already running (it answers on %s); stop it with Ctrl-C where it runs, or choose another --name", d.Name, SocketPath(d.Name))
		}
	}
	// What a crashed run left (its nodes, its replicas) goes first.
	if _, err := sandbox.Clean(); err != nil {
		return err
	}
	if c.journal, err = journal.Create(sandbox.JournalDir(), "kcna-orch-"+d.Name); err != nil {
		return fmt.Errorf("orchestrate %s: %w (is another orchestrator called %s running? choose another --name)", d.Name, err, d.Name)
	}
	var names []string
	for _, n := range c.nodes {
		g, err := host.CreateNode(n.Name, cgroup.Limits{CPUs: n.CPUs, MemoryBytes: n.MemoryBytes}, c.journal, c.sink)
		if err != nil {
			return fmt.Errorf("orchestrate: node %s: %w", n.Name, err)
		}
		n.group = g
		names = append(names, fmt.Sprintf("%s (%s)", n.Name, Requests{CPUs: n.CPUs, MemoryBytes: n.MemoryBytes}))
	}
	if c.cfg.Serve {
		if c.srv, err = c.serve(); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.say("deployment %s: %d replica(s) of %s, each requesting %s, on %s", d.Name, c.want, c.version, d.Requests, strings.Join(names, " and "))
	c.unlock()
	return nil
}

// loop is the control loop: reconcile, then sleep until something
// changes. A replica's death wakes it at once.
func (c *Controller) loop(ctx context.Context) error {
	for {
		next := c.reconcile(ctx)
		var wake <-chan time.Time
		var t *time.Timer
		if !next.IsZero() {
			t = time.NewTimer(time.Until(next))
			wake = t.C
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return c.shutdown()
		case <-c.kick:
		case e := <-c.exits:
			c.handleExit(e)
		case r := <-c.readyc:
			c.markReady(r)
		case <-wake:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// reconcile compares what runs with what is desired and acts: it stops
// replicas that are too many or of an old version, and starts (placing them
// first) those that are missing. It returns when it next wants to look
// again even if nothing happens (a back-off ending), or the zero time.
func (c *Controller) reconcile(ctx context.Context) time.Time {
	c.mu.Lock()
	now := time.Now()
	var cur, old []*replica
	for _, r := range c.sorted() {
		switch {
		case r.terminating:
		case r.version == c.version:
			cur = append(cur, r)
		default:
			old = append(old, r)
		}
	}
	readyCur, readyOld := countReady(cur), countReady(old)
	var stops []*replica
	start := 0
	if len(old) == 0 {
		if len(cur) > c.want {
			stops = surplus(cur, len(cur)-c.want)
			for _, r := range stops {
				r.stopReason = fmt.Sprintf("scaled down to %d", c.want)
			}
		} else {
			start = c.want - len(cur)
		}
		if c.rolling && len(cur) == c.want && readyCur == c.want {
			c.rolling, c.rollout = false, "complete"
			c.say("rollout of %s complete: %d of %d replicas run it and are ready", c.version, readyCur, c.want)
		}
	} else {
		// A rolling update, maxSurge 1 and maxUnavailable 0: an old
		// replica goes only while the ready ones left are still at least
		// the desired count; a new one starts only while there are at
		// most desired+1 in all. Old replicas that are not ready serve
		// nobody and go at once.
		avail := readyCur + readyOld
		for _, r := range old {
			switch {
			case !r.ready:
				r.stopReason = "not ready, and of the old version " + r.version
				stops = append(stops, r)
			case avail-1 >= c.want:
				r.stopReason = fmt.Sprintf("replaced by %s, %d of %d ready", c.version, readyCur, c.want)
				stops = append(stops, r)
				avail--
			}
		}
		left := len(cur) + len(old) - len(stops)
		if len(cur) < c.want {
			start = min(c.want-len(cur), c.want+1-left)
		}
		if cl := c.crash[c.version]; cl == nil || !cl.stalled { // a stall stays reported until it ends
			c.rollout = fmt.Sprintf("rolling out %s: %d of %d updated, %d ready", c.version, len(cur), c.want, readyCur)
		}
	}
	var next time.Time
	if cl := c.crash[c.version]; cl != nil && start > 0 && now.Before(cl.until) {
		start, next = 0, cl.until // in back-off: try again when it ends
	}
	for _, r := range stops {
		r.terminating = true
	}
	placed, unsched := c.schedule(start)
	running := len(cur) + len(old) - len(stops)
	c.notify()
	c.unlock()

	for _, r := range stops {
		c.mu.Lock()
		c.say("stopping %s (%s): SIGTERM to its init, which passes it on", r.name, r.stopReason)
		c.unlock()
		r.cancel()
	}
	for _, b := range placed {
		c.startReplica(ctx, b, running)
		running++
	}
	c.mu.Lock()
	c.setPending(unsched)
	c.unlock()
	return next
}

// schedule names and places n new replicas of the desired version; those
// that fit no node come back as unschedulable. Names of replicas that were
// already pending are kept, so a Pending replica keeps its name until it
// is placed, as a Kubernetes Pod does.
func (c *Controller) schedule(n int) ([]Binding, []Unschedulable) {
	if n <= 0 {
		return nil, nil
	}
	req := c.cfg.Deployment.Requests
	var bound, pending []Binding
	for _, r := range c.replicas { // terminating ones still hold their share until they are gone
		bound = append(bound, Binding{Replica: r.name, Node: r.node, Requests: req})
	}
	for _, p := range c.pending {
		if len(pending) < n && p.Version == c.version {
			pending = append(pending, Binding{Replica: p.Replica, Requests: req})
		}
	}
	for len(pending) < n {
		pending = append(pending, Binding{Replica: c.newName(pending), Requests: req})
	}
	nodes := make([]Node, len(c.nodes))
	for i, nd := range c.nodes {
		nodes[i] = nd.Node
	}
	placed, unsched := Schedule(nodes, bound, pending)
	for i := range unsched {
		unsched[i].Version = c.version
	}
	return placed, unsched
}

// setPending records the unschedulable replicas, saying so when one is
// new or its reason changed.
func (c *Controller) setPending(u []Unschedulable) {
	for _, p := range u {
		i := slices.IndexFunc(c.pending, func(q Unschedulable) bool { return q.Replica == p.Replica })
		if i < 0 || c.pending[i].Reason != p.Reason {
			c.say("replica %s (%s) is unschedulable, Pending: %s", p.Replica, p.Version, p.Reason)
		}
	}
	if len(c.pending) != len(u) {
		c.notify()
	}
	c.pending = u
}

// newName is DEPLOY-XXXX, unused by any replica, pending or not, and by
// any running sandbox.
func (c *Controller) newName(taken []Binding) string {
	for {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		name := c.cfg.Deployment.Name + "-" + hex.EncodeToString(b)
		_, running := c.replicas[name]
		inUse := running || slices.ContainsFunc(taken, func(t Binding) bool { return t.Replica == name }) ||
			slices.ContainsFunc(c.pending, func(p Unschedulable) bool { return p.Replica == name })
		if _, err := sandbox.Find(name); err == nil {
			inUse = true
		}
		if !inUse {
			return name
		}
	}
}

// startReplica starts one replica's sandbox on its node and watches it:
// Wait in a goroutine tells the loop the moment it ends, and a probe tells
// it when it is ready.
func (c *Controller) startReplica(ctx context.Context, b Binding, running int) {
	d := c.cfg.Deployment
	c.mu.Lock()
	version := c.version
	why := c.why
	c.why = ""
	if why != "" {
		why += "; "
	}
	c.say("%sdesired %d, running %d: starting %s (%s) on %s", why, c.want, running, b.Replica, version, b.Node)
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r := &replica{name: b.Replica, version: version, node: b.Node, cancel: cancel, started: time.Now(), exited: make(chan struct{})}
	c.replicas[r.name] = r
	c.notify()
	c.unlock()

	spec := sandbox.Spec{
		Name: r.name, Args: d.Command(version), Node: b.Node,
		// Guaranteed QoS: the request is the limit, so a replica can never
		// take what the scheduler promised to its neighbours.
		Limits: sandbox.Limits{CPUs: d.Requests.CPUs, MemoryBytes: d.Requests.MemoryBytes},
	}
	if d.Net {
		n := d.Network
		n.Publish = nil // replicas share ports; they are reached by address and name
		spec.Net = &n
	}
	sb, err := sandbox.Start(rctx, spec, c.boxSink(r.name))
	c.mu.Lock()
	defer c.unlock()
	if err != nil {
		cancel()
		delete(c.replicas, r.name)
		c.backOff(r, fmt.Sprintf("could not start %s on %s: %v", r.name, r.node, err))
		return
	}
	r.sb, r.pid, r.cgroups = sb, sb.PID(), sb.Cgroups()
	if d.Net {
		if st, err := sandbox.Find(r.name); err == nil && st.Net != nil {
			r.ip = st.Net.IP.String()
		}
	}
	where := ""
	if len(r.cgroups) > 0 {
		where = ", cgroup " + r.cgroups[0]
	}
	c.say("%s: init PID %d%s", r.name, r.pid, where)
	c.notify()
	go c.wait(r)
	go c.probe(rctx, r)
}

// wait hands the replica's end to the loop.
func (c *Controller) wait(r *replica) {
	res, err := r.sb.Wait()
	close(r.exited)
	c.exits <- exit{r: r, res: res, err: err}
}

// probe tells the loop when r is ready: with a network, once its HTTP port
// answers; without, once its command (the init's child) has been running
// for ReadyAfter.
func (c *Controller) probe(ctx context.Context, r *replica) {
	// ReadyAfter counts from now, when the sandbox is built and its
	// command starting (Kubernetes' initialDelaySeconds counts from the
	// container's start), not from when the replica was planned: on a
	// slow machine building the sandbox alone can take longer, and a
	// command that fails at once would be taken for ready.
	commandStart := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := &http.Client{Timeout: 300 * time.Millisecond}
	for {
		ready := false
		if c.cfg.Deployment.Net {
			if r.ip != "" {
				if resp, err := client.Get("http://" + r.ip + ":80/"); err == nil {
					_ = resp.Body.Close()
					ready = true
				}
			}
		} else {
			ready = time.Since(commandStart) >= c.cfg.ReadyAfter && commandRunning(r.pid)
		}
		if ready {
			select {
			case c.readyc <- r:
			case <-r.exited:
			}
			return
		}
		select {
		case <-tick.C:
		case <-r.exited:
			return
		case <-ctx.Done():
			return
		}
	}
}

// commandRunning reports whether pid (a replica's init) has a child: its
// command, as the kernel lists it in /proc/PID/task/*/children.
func commandRunning(pid int) bool {
	p, err := Inspect(pid)
	return err == nil && p.Command != 0
}

// markReady records that r is ready.
func (c *Controller) markReady(r *replica) {
	c.mu.Lock()
	defer c.unlock()
	if _, ok := c.replicas[r.name]; !ok || r.terminating {
		return
	}
	r.ready = true
	delete(c.crash, r.version)
	how := fmt.Sprintf("its command has run %v", c.cfg.ReadyAfter)
	if c.cfg.Deployment.Net {
		how = "its HTTP port answers on " + r.ip + ":80"
	}
	c.say("%s (%s) is ready: %s", r.name, r.version, how)
	c.notify()
}

// handleExit takes an ended replica out. One that was stopping is simply
// gone; one that died is noted, so that the start of its replacement says
// why; one that died before it was ever ready backs its version off.
func (c *Controller) handleExit(e exit) {
	c.mu.Lock()
	defer c.unlock()
	r := e.r
	delete(c.replicas, r.name)
	r.cancel()
	c.notify()
	how := describeExit(e)
	if r.terminating {
		c.say("%s stopped (%s): %s", r.name, r.stopReason, how)
		return
	}
	if !r.ready {
		c.backOff(r, fmt.Sprintf("%s (%s) %s before it was ready", r.name, r.version, how))
		return
	}
	c.why = fmt.Sprintf("replica %s %s", r.name, how)
}

// backOff delays the next start of r's version after a replica of it
// failed before it was ready (Kubernetes' CrashLoopBackOff: 10s doubling
// to five minutes there; here 0.5s doubling to 8s, a lab's patience). The
// second failure of a version being rolled out stalls the rollout, which
// is reported; the old replicas keep serving (maxUnavailable 0).
func (c *Controller) backOff(r *replica, what string) {
	cl := c.crash[r.version]
	if cl == nil {
		cl = &crashLoop{}
		c.crash[r.version] = cl
	}
	cl.failures++
	delay := min(500*time.Millisecond<<(cl.failures-1), 8*time.Second)
	cl.until = time.Now().Add(delay)
	c.say("%s; failure %d of %s: next try in %v (back-off)", what, cl.failures, r.version, delay)
	if cl.failures >= 2 && c.rolling && r.version == c.version && !cl.stalled {
		cl.stalled = true
		var serving int
		for _, o := range c.replicas {
			if o.ready && !o.terminating {
				serving++
			}
		}
		c.rollout = fmt.Sprintf("stalled: %s replicas fail before they are ready (%d failures)", r.version, cl.failures)
		hint := "fix the version and update again"
		if c.previous != "" {
			hint = fmt.Sprintf("`kcna-lab orchestrate rollback --name %s` returns to %s", c.cfg.Deployment.Name, c.previous)
		}
		c.say("rolling update to %s stalled: its replicas exit before they are ready; %d ready replica(s) keep serving, since maxUnavailable is 0; %s", r.version, serving, hint)
	}
	c.notify()
}

// describeExit says how a replica's sandbox ended, from its init's wait
// status (and the cgroup's OOM counter, via the Result).
func describeExit(e exit) string {
	switch {
	case e.err != nil:
		return "failed: " + e.err.Error()
	case e.res.OOMKilled:
		return "was OOM-killed: it went over its memory limit"
	case e.res.Signal != "":
		return fmt.Sprintf("exited (killed by signal %d, %s)", e.res.ExitCode-128, e.res.Signal)
	default:
		return fmt.Sprintf("exited with status %d", e.res.ExitCode)
	}
}

// shutdown stops every replica and waits until each has ended.
func (c *Controller) shutdown() error {
	c.mu.Lock()
	c.want, c.pending = 0, nil
	var stopping []*replica
	for _, r := range c.sorted() {
		if !r.terminating {
			r.terminating, r.stopReason = true, "the orchestrator is stopping"
		}
		stopping = append(stopping, r)
	}
	c.say("stopping: %d replica(s), then the nodes", len(stopping))
	c.notify()
	c.unlock()
	for _, r := range stopping {
		r.cancel()
	}
	for range stopping {
		// The sandbox sends SIGKILL 3s after SIGTERM; this only guards
		// against a bug.
		for done := false; !done; {
			select {
			case e := <-c.exits:
				c.handleExit(e)
				done = true
			case <-c.readyc:
			case <-time.After(30 * time.Second):
				return errors.New("orchestrate: a replica did not end within 30s of being stopped; `kcna-lab clean` removes what is left")
			}
		}
	}
	return nil
}

// tearDown closes the API, removes the nodes' cgroups and the socket
// (undoing the journal), and says what it removed.
func (c *Controller) tearDown() error {
	var errs []error
	if c.srv != nil {
		errs = append(errs, c.srv.close())
	}
	for _, n := range slices.Backward(c.nodes) {
		if n.group != nil {
			errs = append(errs, n.group.Destroy(c.sink))
		}
	}
	if c.journal != nil {
		errs = append(errs, c.journal.Rollback(sandbox.Undo))
	}
	err := errors.Join(errs...)
	if err == nil && c.journal != nil {
		c.mu.Lock()
		c.say("removed the nodes' cgroups and everything journaled with them: nothing is left")
		c.unlock()
	}
	return err
}

// Scale changes the desired number of replicas.
func (c *Controller) Scale(n int) error {
	if n < 0 || n > MaxReplicas {
		return fmt.Errorf("scale %d: choose 0 to %d replicas", n, MaxReplicas)
	}
	c.mu.Lock()
	if n == c.want {
		c.say("scale: %s already wants %d replica(s)", c.cfg.Deployment.Name, n)
	} else {
		c.say("scaled %s from %d to %d replica(s)", c.cfg.Deployment.Name, c.want, n)
	}
	c.want = n
	c.notify()
	c.unlock()
	c.poke()
	return nil
}

// Update rolls the replicas to version, one at a time: a new one starts,
// and only once it is ready does an old one stop (maxSurge 1,
// maxUnavailable 0).
func (c *Controller) Update(version string) error {
	if err := ValidateVersion(version); err != nil {
		return err
	}
	c.mu.Lock()
	if version == c.version {
		c.say("update: %s already runs %s; nothing to roll out", c.cfg.Deployment.Name, version)
		c.unlock()
		return nil
	}
	c.startRollout(version, "rolling update")
	c.unlock()
	c.poke()
	return nil
}

// Rollback rolls the replicas back to the version before the last update,
// the same way, one at a time.
func (c *Controller) Rollback() error {
	c.mu.Lock()
	if c.previous == "" {
		v := c.version
		c.unlock()
		return fmt.Errorf("nothing to roll back to: %s has run only %s since the orchestrator started; `kcna-lab orchestrate update VERSION` first", c.cfg.Deployment.Name, v)
	}
	c.startRollout(c.previous, "rollback")
	c.unlock()
	c.poke()
	return nil
}

// startRollout makes version the desired one; the loop does the rest.
func (c *Controller) startRollout(version, what string) {
	from := c.version
	c.previous, c.version = from, version
	delete(c.crash, version) // a fresh start for it
	c.rolling = true
	c.rollout = "rolling out " + version
	c.say("%s of %s: %s -> %s, one replica at a time (maxSurge 1: at most %d replicas; maxUnavailable 0: never fewer than %d ready)",
		what, c.cfg.Deployment.Name, from, version, c.want+1, c.want)
	c.notify()
}

// poke wakes the loop.
func (c *Controller) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Status is the desired state beside what runs now; node limits are read
// back from the kernel.
func (c *Controller) Status() Status {
	c.mu.Lock()
	defer c.unlock()
	d := c.cfg.Deployment
	st := Status{
		Deployment: d.Name, Version: c.version, Previous: c.previous, Desired: c.want,
		Requests: d.Requests, Rollout: c.rollout, Events: slices.Clone(c.events),
		Unschedulable: slices.Clone(c.pending),
	}
	st.Nodes = make([]NodeStatus, len(c.nodes))
	perNode := map[string]*NodeStatus{}
	for i, n := range c.nodes {
		ns := &st.Nodes[i]
		ns.Node = n.Node
		if n.group != nil {
			ns.Cgroups = n.group.Paths()
			ns.MemoryFile, ns.MemoryMax, _ = n.group.MemoryLimit()
			ns.CPUFile, ns.CPUMax, _ = n.group.CPULimit()
		}
		perNode[n.Name] = ns
	}
	for _, r := range c.sorted() {
		state := "starting"
		switch {
		case r.terminating:
			state = "terminating"
		case r.ready:
			state = "ready"
			st.Ready++
		}
		st.Replicas = append(st.Replicas, Replica{Name: r.name, Version: r.version, Node: r.node, PID: r.pid, State: state, Started: r.started, Cgroups: r.cgroups, IP: r.ip})
		if ns := perNode[r.node]; ns != nil {
			ns.Replicas++
			ns.Requested.CPUs += d.Requests.CPUs
			ns.Requested.MemoryBytes += d.Requests.MemoryBytes
		}
	}
	return st
}

// WaitFor returns the first status that cond accepts, waiting for changes;
// it fails when ctx ends or Run has returned.
func (c *Controller) WaitFor(ctx context.Context, cond func(Status) bool) (Status, error) {
	for {
		c.mu.Lock()
		ch := c.changed
		c.unlock()
		st := c.Status()
		if cond(st) {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, fmt.Errorf("orchestrate: waiting for %s: %w", c.cfg.Deployment.Name, ctx.Err())
		case <-c.done:
			c.mu.Lock()
			err := c.runErr
			c.unlock()
			if err == nil {
				return c.Status(), fmt.Errorf("orchestrate: %s has stopped", c.cfg.Deployment.Name)
			}
			return c.Status(), fmt.Errorf("orchestrate: %s stopped: %w", c.cfg.Deployment.Name, err)
		}
	}
}

// sorted is the replicas, oldest first. mu must be held.
func (c *Controller) sorted() []*replica {
	out := make([]*replica, 0, len(c.replicas))
	for _, r := range c.replicas {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *replica) int { return a.started.Compare(b.started) })
	return out
}

// surplus picks n replicas to stop when scaling down: those not ready
// first, then the newest, as a ReplicaSet does.
func surplus(rs []*replica, n int) []*replica {
	order := slices.Clone(rs)
	slices.SortStableFunc(order, func(a, b *replica) int {
		if a.ready != b.ready {
			if !a.ready {
				return -1
			}
			return 1
		}
		return b.started.Compare(a.started)
	})
	return order[:n]
}

func countReady(rs []*replica) int {
	n := 0
	for _, r := range rs {
		if r.ready {
			n++
		}
	}
	return n
}

// say records an event and queues it for the sink. mu must be held; the
// event is emitted by unlock, so that a sink may call Status.
func (c *Controller) say(format string, a ...any) {
	text := fmt.Sprintf(format, a...)
	c.events = append(c.events, time.Now().Format("15:04:05.000")+" "+text)
	if len(c.events) > 50 {
		c.events = c.events[len(c.events)-50:]
	}
	c.outbox = append(c.outbox, text)
}

// notify wakes WaitFor. mu must be held.
func (c *Controller) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// unlock releases mu and emits the events said meanwhile.
func (c *Controller) unlock() {
	out := c.outbox
	c.outbox = nil
	c.mu.Unlock()
	for _, t := range out {
		event.Narrate(c.sink, t)
	}
}

// boxSink is what a replica's sandbox emits into: its output, prefixed
// with its name, and its OOM kills always; its own kernel steps and
// narration only with Config.Trace (each start is some thirty steps).
// Samples for gauges are dropped: a text stream of many replicas would
// drown in them.
func (c *Controller) boxSink(name string) event.Sink {
	return event.SinkFunc(func(e event.Event) {
		switch e.Kind {
		case event.KindOutput:
			var b strings.Builder
			for _, l := range strings.SplitAfter(e.Text, "\n") {
				if l != "" {
					b.WriteString("[" + name + "] " + l)
				}
			}
			e.Text = b.String()
		case event.KindOOM:
			e.Text = name + ": " + e.Text
		case event.KindMetric:
			return
		default:
			if !c.cfg.Trace {
				return
			}
		}
		c.sink.Emit(e)
	})
}
