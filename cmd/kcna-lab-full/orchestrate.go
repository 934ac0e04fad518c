package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/platform/orchestrator"
)

// orchestrateFlags are the flags of `kcna-lab orchestrate`.
type orchestrateFlags struct {
	name, nodes, memory, version string
	replicas                     int
	cpu                          float64
	net, trace                   bool
}

func newOrchestrateCmd(a *app) *cobra.Command {
	var f orchestrateFlags
	cmd := &cobra.Command{
		Use:   "orchestrate [flags]",
		Short: "Run a deployment of sandbox replicas under a desired-state controller",
		Long: `Run a small orchestrator in the foreground: a control loop that keeps
--replicas copies of an app running as sandboxes, on "nodes" that are cgroups
with a CPU and memory capacity, until you press Ctrl-C. Then it stops every
replica and removes the nodes: nothing is left.

What it does is what Kubernetes' controllers and scheduler do, live:
  - self-healing: kill a replica (sudo kill -9 PID, PID from status) and the
    loop starts a replacement at once, saying why;
  - scheduling: each replica requests --cpu and --memory; the scheduler puts it
    on the node with the most room, and reports one that fits nowhere as
    unschedulable, with the reason. The request is also the replica's cgroup
    limit, and each node's capacity is its cgroup's limit, which the kernel
    enforces for all its replicas together;
  - scaling, rolling updates (one replica at a time: a new one must be ready
    before an old one goes) and rollback.

While it runs, the subcommands below talk to it over a unix socket. The demo
app says its version and sleeps (with --net: serves it over HTTP on port 80,
at NAME-XXXX.kcna.local); a version ending in -broken exits at once, to see a
rolling update stall.`,
		Example: `  # three replicas on two nodes; leave it running in one terminal
  sudo kcna-lab orchestrate --replicas 3 --nodes node-a=1cpu/256M,node-b=1cpu/256M

  # in another: what runs where; kill a replica (an INIT PID from status); look again
  sudo kcna-lab orchestrate status
  sudo kill -9 PID
  sudo kcna-lab orchestrate status

  # scale, roll out v2, roll out a broken v3, roll back
  sudo kcna-lab orchestrate scale 5
  sudo kcna-lab orchestrate update v2
  sudo kcna-lab orchestrate update v3-broken
  sudo kcna-lab orchestrate rollback

  # replicas on the bridge, each an HTTP server; every kernel step printed
  sudo kcna-lab orchestrate --net --trace`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli.LongLived() // up until the learner stops it
			cfg, err := f.config()
			if err != nil {
				return err
			}
			return a.orchestrate(cmd, cfg)
		},
	}
	fl := cmd.Flags()
	cmd.PersistentFlags().StringVar(&f.name, "name", "web", "the deployment's `NAME`: replicas are NAME-XXXX; the subcommands use it to find the orchestrator")
	fl.IntVar(&f.replicas, "replicas", 3, "how many replicas to keep running")
	fl.StringVar(&f.nodes, "nodes", "node-a=1cpu/256M,node-b=1cpu/256M", "the nodes and their capacity: comma-separated `NAME=CPUScpu/MEMORY`")
	fl.Float64Var(&f.cpu, "cpu", 0.25, "how many CPUs each replica requests (and is limited to)")
	fl.StringVar(&f.memory, "memory", "64M", "memory each replica requests (and is limited to), e.g. 64M")
	fl.StringVar(&f.version, "version", "v1", "the version to start with")
	fl.BoolVar(&f.net, "net", false, "put the replicas on kcna-lab's bridge as HTTP servers on port 80; ready once they answer")
	fl.BoolVar(&f.trace, "trace", false, "also print every replica's kernel-level steps")
	cmd.AddCommand(
		orchestrateStatusCmd(a, &f),
		orchestrateScaleCmd(a, &f),
		orchestrateUpdateCmd(a, &f),
		orchestrateRollbackCmd(a, &f),
	)
	return cmd
}

// config turns the flags into the controller's configuration.
func (f *orchestrateFlags) config() (orchestrator.Config, error) {
	nodes, err := orchestrator.ParseNodes(f.nodes)
	if err != nil {
		return orchestrator.Config{}, err
	}
	mem, err := cgroup.ParseMemory(f.memory)
	if err != nil {
		return orchestrator.Config{}, err
	}
	return orchestrator.Config{
		Deployment: orchestrator.Deployment{
			Name: f.name, Replicas: f.replicas, Version: f.version, Net: f.net,
			Requests: orchestrator.Requests{CPUs: f.cpu, MemoryBytes: mem},
		},
		Nodes: nodes, Serve: true, Trace: f.trace,
	}, nil
}

// orchestrate runs the controller until Ctrl-C, printing its events.
func (a *app) orchestrate(cmd *cobra.Command, cfg orchestrator.Config) error {
	sink := &orchestrateSink{w: a.stdout, rest: cli.NewDemoSink(a.stdout)}
	c, err := orchestrator.New(cfg, sink)
	if err != nil {
		return err
	}
	name := cfg.Deployment.Name
	go func() {
		select {
		case <-c.Started():
			sink.note(fmt.Sprintf("running; Ctrl-C stops every replica and removes the nodes. In another terminal: sudo kcna-lab orchestrate status%s", deployFlag(name)))
		case <-c.Done():
		}
	}()
	return c.Run(cmd.Context())
}

// deployFlag is " --name NAME" for any deployment but the default one.
func deployFlag(name string) string {
	if name == "web" {
		return ""
	}
	return " --name " + name
}

// orchestrateSink prints the controller's narration as a timestamped log,
// kubectl-events style, and everything else (steps, replica output) as
// `kcna-lab demo` does.
type orchestrateSink struct {
	mu   sync.Mutex
	w    io.Writer
	rest event.Sink
}

func (s *orchestrateSink) Emit(e event.Event) {
	if e.Kind != event.KindNarration {
		s.rest.Emit(e)
		return
	}
	t := e.Time
	if t.IsZero() {
		t = time.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, "%s  %s\n", t.Format("15:04:05.000"), e.Text)
}

func (s *orchestrateSink) note(text string) { event.Narrate(s, text) }

func orchestrateStatusCmd(a *app, f *orchestrateFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "What the running orchestrator wants, and what runs where",
		Long: `Ask the running orchestrator for its state: the desired version and replica
count, each replica (its node, init PID and state: starting, ready or
terminating), the replicas no node can hold and why, each node's capacity
beside what is requested of it and the limit its cgroup has in the kernel, and
the latest events.`,
		Example: `  sudo kcna-lab orchestrate status
  sudo kcna-lab orchestrate status --name shop --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			resp, err := orchestrator.Call(cmd.Context(), f.name, orchestrator.Request{Op: "status"})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(resp.Status)
			}
			return printStatus(a.stdout, resp.Status)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func orchestrateScaleCmd(a *app, f *orchestrateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "scale N",
		Short: "Change how many replicas the orchestrator keeps running",
		Long: `Set the desired number of replicas. The loop starts the missing ones (each
placed by the scheduler; one that fits no node is reported as unschedulable)
or stops the surplus, not-ready ones first, then the newest.`,
		Example: `  sudo kcna-lab orchestrate scale 5
  sudo kcna-lab orchestrate scale 0 --name shop`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[0])
			if err != nil {
				return fmt.Errorf("scale %q: give a number of replicas, e.g. kcna-lab orchestrate scale 5", args[0])
			}
			return a.callOrchestrator(cmd, f.name, orchestrator.Request{Op: "scale", Replicas: n})
		},
	}
}

func orchestrateUpdateCmd(a *app, f *orchestrateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "update VERSION",
		Short: "Roll the replicas to a new version, one at a time",
		Long: `Start a rolling update to VERSION with maxSurge 1 and maxUnavailable 0: one
new replica starts, and only once it is ready does an old one stop; repeat
until all run VERSION. If the new version's replicas fail before they are
ready, the rollout stalls and says so, and the old replicas keep serving:
that is what rollback is for. In the demo app a version ending in -broken
exits at once.`,
		Example: `  sudo kcna-lab orchestrate update v2
  sudo kcna-lab orchestrate update v3-broken   # stalls; then: rollback`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.callOrchestrator(cmd, f.name, orchestrator.Request{Op: "update", Version: args[0]})
		},
	}
}

func orchestrateRollbackCmd(a *app, f *orchestrateFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "rollback",
		Short: "Roll back to the version before the last update",
		Long: `Roll the replicas back to the version that ran before the last update (or
rollback), the same way: one at a time, never fewer ready than desired. A
stalled rollout's failing replicas are simply stopped.`,
		Example: `  sudo kcna-lab orchestrate rollback`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.callOrchestrator(cmd, f.name, orchestrator.Request{Op: "rollback"})
		},
	}
}

// callOrchestrator sends req and prints what the orchestrator answered;
// the loop's own events appear where `kcna-lab orchestrate` runs.
func (a *app) callOrchestrator(cmd *cobra.Command, name string, req orchestrator.Request) error {
	resp, err := orchestrator.Call(cmd.Context(), name, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s; `kcna-lab orchestrate status%s` shows the progress\n", resp.Message, deployFlag(name))
	return nil
}

// printStatus lays a status out as tables, as kubectl get and describe do.
func printStatus(w io.Writer, st *orchestrator.Status) error {
	if st == nil {
		return errors.New("the orchestrator sent no status")
	}
	prev := ""
	if st.Previous != "" {
		prev = " (rollback goes to " + st.Previous + ")"
	}
	fmt.Fprintf(w, "deployment %s: version %s%s; %d desired, %d ready; rollout %s\n", st.Deployment, st.Version, prev, st.Desired, st.Ready, st.Rollout)
	fmt.Fprintf(w, "each replica requests %s, which is also its cgroup limit\n\n", st.Requests)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REPLICA\tVERSION\tNODE\tSTATE\tINIT PID\tUP\tIP")
	for _, r := range st.Replicas {
		ip := r.IP
		if ip == "" {
			ip = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Name, r.Version, r.Node, r.State, r.PID, time.Since(r.Started).Round(time.Second), ip)
	}
	for _, u := range st.Unschedulable {
		fmt.Fprintf(tw, "%s\t%s\t-\tPending\t-\t-\t-\n", u.Replica, u.Version)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, u := range st.Unschedulable {
		fmt.Fprintf(w, "  %s is unschedulable: %s\n", u.Replica, u.Reason)
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tCAPACITY\tREQUESTED\tREPLICAS\tCGROUP LIMITS (read from the kernel)")
	for _, n := range st.Nodes {
		limits := fmt.Sprintf("%s = %d, %s: %s", baseName(n.MemoryFile), n.MemoryMax, baseName(n.CPUFile), orchestrator.CPUText(n.CPUMax))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", n.Name, orchestrator.Requests{CPUs: n.CPUs, MemoryBytes: n.MemoryBytes}, n.Requested, n.Replicas, limits)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Events) > 0 {
		fmt.Fprintln(w, "\nlatest events:")
		for _, e := range st.Events[max(len(st.Events)-10, 0):] {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	return nil
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}
