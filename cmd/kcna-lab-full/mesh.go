package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/platform/mesh"
	"github.com/kcna-lab/kcna-lab/plugin/network"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// meshFlags are what every `mesh` subcommand shares: which mesh.
type meshFlags struct {
	name string
}

func newMeshCmd(a *app) *cobra.Command {
	var f meshFlags
	cmd := &cobra.Command{
		Use:   "mesh",
		Short: "A service mesh in sandboxes: sidecars, mTLS, traffic rules, metrics",
		Long: `Run a small service mesh on this kernel, the way Istio runs one in a cluster.

` + "`mesh up`" + ` starts a control plane (a tiny istiod, in that process) and three app
sandboxes on kcna-lab's bridge: frontend, reviews v1 and reviews v2. Each app is
busybox httpd on 127.0.0.1:8080 inside its sandbox, so that only its sidecar
reaches it. The sidecar is kcna-lab itself, started inside the sandbox's network
namespace with nsenter, as a pod's sidecar container shares the pod's network
namespace: it takes traffic for the app on the sandbox's IP, port 15006, and the
app's own calls on 127.0.0.1:15001, with the service named in the Host header.

The other subcommands talk to the running control plane over its unix socket:
apply pushes rules to every sidecar while they run, rules and stats show what
is in force and what the sidecars have seen, and call sends real requests from
inside the frontend sandbox through the sidecars.`,
		Example: `  # terminal 1: the mesh, with every request printed as it passes
  sudo kcna-lab mesh up

  # terminal 2: traffic, then rules
  sudo kcna-lab mesh call -n 20
  sudo kcna-lab mesh apply --mtls on
  sudo kcna-lab mesh apply --deny reviews:/admin
  sudo kcna-lab mesh apply --split reviews=v1:90,v2:10
  sudo kcna-lab mesh call -n 100
  sudo kcna-lab mesh stats`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&f.name, "name", mesh.DefaultLab, "which mesh: its control socket is "+mesh.ControlSocket("NAME")+" and its sandboxes NAME-frontend, NAME-reviews-v1, ...")
	cmd.AddCommand(
		newMeshUpCmd(a, &f),
		newMeshApplyCmd(a, &f),
		newMeshRulesCmd(a, &f),
		newMeshStatsCmd(a, &f),
		newMeshCallCmd(a, &f),
		newMeshSidecarCmd(a),
	)
	return cmd
}

func newMeshUpCmd(a *app, f *meshFlags) *cobra.Command {
	var trace bool
	var bridge, subnet string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the control plane and the frontend, reviews v1 and reviews v2 pods",
		Long: `Start the mesh in the foreground: the control plane (certificate authority,
rules, registry) in this process, serving ` + mesh.ControlSocket("NAME") + `, and
three app sandboxes on the bridge, each with its sidecar inside its network
namespace. It prints where everything is, then every request the sidecars
proxy, and every rule the control plane pushes, as they happen. Ctrl-C takes
the sidecars, the sandboxes and the socket down again.

Everything starts in plaintext with no rules; use ` + "`kcna-lab mesh apply`" + ` from
another terminal to change that while traffic flows.`,
		Example: `  sudo kcna-lab mesh up
  sudo kcna-lab mesh up --trace              # every kernel-level step as well
  sudo kcna-lab mesh up --name shop          # a second mesh beside the first`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli.LongLived() // up until the learner stops it
			n := sandbox.Net{Bridge: bridge}
			if subnet != "" {
				p, err := network.ParseSubnet(subnet)
				if err != nil {
					return err
				}
				n.Subnet = p
			}
			return a.meshUp(cmd.Context(), mesh.LabSpec{Name: f.name, Net: n}, trace)
		},
	}
	cmd.Flags().BoolVar(&trace, "trace", false, "print every step of the start-up too (clone, veth, nsenter, certificates)")
	cmd.Flags().StringVar(&bridge, "bridge", "", "the bridge's `NAME`, starting kl- or kcna- (default "+network.DefaultBridge+")")
	cmd.Flags().StringVar(&subnet, "subnet", "", "the bridge's IPv4 `CIDR` (default "+network.DefaultSubnet.String()+")")
	return cmd
}

// meshUp runs the mesh until ctx ends (Ctrl-C).
func (a *app) meshUp(ctx context.Context, spec mesh.LabSpec, trace bool) error {
	// Until the mesh is up, only --trace shows the start-up steps; after,
	// every event is a request, a refusal or a rule change, and all show.
	var live atomic.Bool
	printer := cli.NewTraceSink(a.stdout)
	sink := event.SinkFunc(func(e event.Event) {
		if trace || live.Load() {
			printer.Emit(e)
		}
	})
	fmt.Fprintf(a.stdout, "Starting mesh %s: the control plane, then %d sandboxes with a sidecar each (--trace shows every step)...\n", spec.Name, len(mesh.LabServices()))
	lab, err := mesh.Up(ctx, spec, sink)
	if err != nil {
		return err
	}
	defer func() {
		live.Store(false)
		fmt.Fprintf(a.stdout, "\nTaking mesh %s down...\n", lab.Name)
		if err := lab.Close(); err != nil {
			fmt.Fprintf(a.stderr, "kcna-lab: %v\n", err)
			return
		}
		fmt.Fprintf(a.stdout, "mesh %s is down: its sidecars, sandboxes and control socket are gone\n", lab.Name)
	}()
	pods := slices.Clone(lab.Pods)
	slices.SortFunc(pods, func(x, y *mesh.Pod) int {
		return strings.Compare(x.Service+" "+x.Version, y.Service+" "+y.Version)
	})
	fmt.Fprintf(a.stdout, "\nmesh %s is up; its control plane listens on %s\n\n", lab.Name, lab.Socket)
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tVERSION\tSANDBOX\tIP\tSIDECAR INBOUND\tSIDECAR PID")
	for _, p := range pods {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", p.Service, p.Version, p.Name, p.IP, p.Inbound, p.SidecarPID)
	}
	_ = tw.Flush()
	fmt.Fprintf(a.stdout, `
Each app listens on 127.0.0.1:%d inside its sandbox; only its sidecar reaches
it. An app calls another service through its own sidecar on %s,
naming the service in the Host header. Try, in another terminal:

  sudo kcna-lab mesh%[3]s call -n 20
  sudo kcna-lab mesh%[3]s apply --mtls on --deny reviews:/admin
  sudo kcna-lab mesh%[3]s apply --split reviews=v1:90,v2:10
  sudo kcna-lab mesh%[3]s stats

Requests through the sidecars and rule changes appear below. Ctrl-C takes the
mesh down.

`, mesh.AppPort, mesh.OutboundAddr(), nameFlag(lab.Name))
	live.Store(true)
	<-ctx.Done()
	return nil
}

func newMeshApplyCmd(a *app, f *meshFlags) *cobra.Command {
	var af applyFlags
	cmd := &cobra.Command{
		Use:   "apply [flags]",
		Short: "Change the mesh's rules; the control plane pushes them to every sidecar",
		Long: `Change the rules of the running mesh. The flags change the rules in force (see
` + "`kcna-lab mesh rules`" + `) and leave the rest as they are; --reset starts from none,
and -f reads a whole rules file first (the JSON that ` + "`mesh rules --json`" + ` prints).
The control plane pushes the result to every sidecar at once, as istiod pushes
configuration to every Envoy; requests already in flight finish under the old
rules.

Deny and allow rules are enforced by the destination's sidecar, so a caller
cannot skip them; retries, timeouts and the split by the caller's sidecar,
the one that can try again or pick a version. A path rule covers the path and
everything below it: --deny reviews:/admin refuses /admin and /admin/users,
not /administrator.`,
		Example: `  # every hop between sidecars mutual TLS (Istio: PeerAuthentication STRICT)
  sudo kcna-lab mesh apply --mtls on

  # refuse /admin on reviews with 403 (Istio: AuthorizationPolicy DENY)
  sudo kcna-lab mesh apply --deny reviews:/admin

  # a canary: 90% of calls to reviews v1, 10% to v2 (HTTPRoute weights)
  sudo kcna-lab mesh apply --split reviews=v1:90,v2:10

  # two more tries after a failure, each bounded to half a second
  sudo kcna-lab mesh apply --retries reviews=2 --timeout reviews=500ms

  # back to plaintext with no rules at all
  sudo kcna-lab mesh apply --reset

  # a whole rules file
  sudo kcna-lab mesh rules --json > rules.json
  sudo kcna-lab mesh apply -f rules.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !af.any(cmd) {
				return errors.New("nothing to apply: give --mtls on|off, --deny, --allow, --split, --retries, --timeout, --reset or -f FILE; `kcna-lab mesh rules` shows the rules in force")
			}
			return withMesh(cmd.Context(), f.name, func(c *mesh.Client) (err error) {
				var rules mesh.Rules
				if !af.reset && af.file == "" {
					if rules, err = c.Rules(); err != nil {
						return err
					}
				}
				if af.file != "" {
					if rules, err = readRules(af.file); err != nil {
						return err
					}
				}
				if err := af.apply(&rules); err != nil {
					return err
				}
				if err := c.Push(rules); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "pushed to every sidecar of mesh %s:\n", f.name)
				printRules(a, rules)
				return nil
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&af.mtls, "mtls", "", "`on`: every hop between sidecars is mutual TLS and plaintext is refused; off: plaintext")
	fl.StringArrayVar(&af.deny, "deny", nil, "refuse a path and everything below it with 403: `SERVICE:PATH`, e.g. reviews:/admin (repeatable)")
	fl.StringArrayVar(&af.allow, "allow", nil, "allow only these paths (and below) of a service: `SERVICE:PATH` (repeatable)")
	fl.StringArrayVar(&af.split, "split", nil, "weigh a service's versions: `SERVICE=VERSION:WEIGHT,...`, e.g. reviews=v1:90,v2:10")
	fl.StringArrayVar(&af.retries, "retries", nil, "retry failed idempotent requests: `SERVICE=N`, e.g. reviews=2 (at most "+strconv.Itoa(mesh.MaxRetries)+")")
	fl.StringArrayVar(&af.timeout, "timeout", nil, "bound each try: `SERVICE=DURATION`, e.g. reviews=500ms")
	fileFlag(fl, &af.file, "start from the rules in this JSON `FILE` instead of those in force")
	fl.BoolVar(&af.reset, "reset", false, "start from no rules (plaintext, everything allowed) instead of those in force")
	return cmd
}

// applyFlags are `mesh apply`'s changes to the rules.
type applyFlags struct {
	mtls                                 string
	deny, allow, split, retries, timeout []string
	file                                 string
	reset                                bool
}

// any says whether the command line asks for any change.
func (af *applyFlags) any(cmd *cobra.Command) bool {
	return cmd.Flags().NFlag() > 0
}

// apply changes r as the flags say, checking each value.
func (af *applyFlags) apply(r *mesh.Rules) error {
	switch af.mtls {
	case "":
	case "on":
		r.MTLS = true
	case "off":
		r.MTLS = false
	default:
		return fmt.Errorf("--mtls %q: use on or off", af.mtls)
	}
	edit := func(service string, fn func(*mesh.ServiceRules)) {
		if r.Services == nil {
			r.Services = map[string]mesh.ServiceRules{}
		}
		sr := r.Services[service]
		fn(&sr)
		r.Services[service] = sr
	}
	for _, v := range af.deny {
		service, path, err := servicePath("--deny", v)
		if err != nil {
			return err
		}
		edit(service, func(sr *mesh.ServiceRules) {
			if !slices.Contains(sr.Deny, path) {
				sr.Deny = append(sr.Deny, path)
			}
		})
	}
	for _, v := range af.allow {
		service, path, err := servicePath("--allow", v)
		if err != nil {
			return err
		}
		edit(service, func(sr *mesh.ServiceRules) {
			if !slices.Contains(sr.Allow, path) {
				sr.Allow = append(sr.Allow, path)
			}
		})
	}
	for _, v := range af.split {
		service, weights, err := parseSplit(v)
		if err != nil {
			return err
		}
		edit(service, func(sr *mesh.ServiceRules) { sr.Split = weights })
	}
	for _, v := range af.retries {
		service, value, err := serviceValue("--retries", v, "reviews=2")
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || n > mesh.MaxRetries {
			return fmt.Errorf("--retries %q: the number of retries must be 0 to %d", v, mesh.MaxRetries)
		}
		edit(service, func(sr *mesh.ServiceRules) { sr.Retries = n })
	}
	for _, v := range af.timeout {
		service, value, err := serviceValue("--timeout", v, "reviews=500ms")
		if err != nil {
			return err
		}
		d, err := time.ParseDuration(value)
		if err != nil || d < 0 {
			return fmt.Errorf("--timeout %q: want a duration such as 500ms or 2s (0 for none)", v)
		}
		edit(service, func(sr *mesh.ServiceRules) { sr.Timeout = mesh.Duration(d) })
	}
	// The control plane checks too, but a mistake is clearer here, named
	// by the flag that made it.
	if err := r.Validate(); err != nil {
		return fmt.Errorf("these rules would be refused: %w", err)
	}
	return nil
}

// serviceValue splits SERVICE=VALUE.
func serviceValue(flag, v, example string) (service, value string, err error) {
	service, value, ok := strings.Cut(v, "=")
	if !ok || service == "" || value == "" {
		return "", "", fmt.Errorf("%s %q: want SERVICE=VALUE, e.g. %s", flag, v, example)
	}
	return service, value, nil
}

// servicePath splits SERVICE:PATH.
func servicePath(flag, v string) (service, path string, err error) {
	service, path, ok := strings.Cut(v, ":")
	if !ok || service == "" || !strings.HasPrefix(path, "/") {
		return "", "", fmt.Errorf("%s %q: want SERVICE:PATH with the path starting with /, e.g. reviews:/admin", flag, v)
	}
	return service, path, nil
}

// parseSplit reads SERVICE=VERSION:WEIGHT,VERSION:WEIGHT.
func parseSplit(v string) (string, map[string]int, error) {
	service, list, err := serviceValue("--split", v, "reviews=v1:90,v2:10")
	if err != nil {
		return "", nil, err
	}
	weights := map[string]int{}
	for _, part := range strings.Split(list, ",") {
		version, w, ok := strings.Cut(strings.TrimSpace(part), ":")
		n, err := strconv.Atoi(w)
		if !ok || version == "" || err != nil || n < 0 {
			return "", nil, fmt.Errorf("--split %q: each version is VERSION:WEIGHT with a whole weight of 0 or more, e.g. reviews=v1:90,v2:10", v)
		}
		if _, dup := weights[version]; dup {
			return "", nil, fmt.Errorf("--split %q: version %s is named twice", v, version)
		}
		weights[version] = n
	}
	return service, weights, nil
}

// readRules reads a rules file, refusing fields it does not know, so that
// a typo ("mlts") is an error rather than a rule silently not set.
func readRules(path string) (mesh.Rules, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return mesh.Rules{}, fmt.Errorf("read the rules: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	var r mesh.Rules
	if err := dec.Decode(&r); err != nil {
		return mesh.Rules{}, fmt.Errorf("%s: not a rules file: %w; `kcna-lab mesh rules --json` prints one to start from", path, err)
	}
	return r, nil
}

func newMeshRulesCmd(a *app, f *meshFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Show the rules in force and the sidecars they are pushed to",
		Long: `Show the rules the control plane last pushed, with the name of the Istio
resource that does the same, and the sidecars in its registry. --json prints
the rules as a file that ` + "`mesh apply -f`" + ` takes.`,
		Example: `  sudo kcna-lab mesh rules
  sudo kcna-lab mesh rules --json > rules.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withMesh(cmd.Context(), f.name, func(c *mesh.Client) error {
				rules, err := c.Rules()
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(rules)
				}
				printRules(a, rules)
				eps, err := c.Endpoints()
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, "\nsidecars in the registry:")
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				for _, service := range slices.Sorted(maps.Keys(eps)) {
					for _, ep := range eps[service] {
						where := ""
						if st, err := mesh.SandboxAt(ep.Sidecar); err == nil {
							where = "sandbox " + st.Name
						}
						fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", ep.Service, ep.Version, ep.Sidecar, where)
					}
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rules as JSON, the form `mesh apply -f` reads")
	return cmd
}

// printRules prints one line per part of the rules.
func printRules(a *app, r mesh.Rules) {
	for _, part := range strings.Split(r.String(), "; ") {
		fmt.Fprintf(a.stdout, "  %s\n", part)
	}
}

func newMeshStatsCmd(a *app, f *meshFlags) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Requests per service as the sidecars saw them: count, errors, denied, latency",
		Long: `Show what the sidecars have reported to the control plane, per service and
direction: outbound rows are counted by the caller's sidecar (which also sees
failures that never reached the destination, and which version answered),
inbound rows by the destination's (which sees what its rules refused). Errors
are requests with no answer or a 5xx; a 403 from a deny rule is counted as
denied, the mesh doing its job. Latency percentiles are over the last 1024
requests.`,
		Example: `  sudo kcna-lab mesh stats
  sudo kcna-lab mesh stats --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withMesh(cmd.Context(), f.name, func(c *mesh.Client) error {
				rows, err := c.Stats()
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(rows)
				}
				if len(rows) == 0 {
					fmt.Fprintf(a.stdout, "No requests yet. Send some with `sudo kcna-lab mesh%s call -n 20`.\n", nameFlag(f.name))
					return nil
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "SERVICE\tDIRECTION\tREQUESTS\tERRORS\tDENIED\tP50\tP99\tANSWERED BY")
				for _, r := range rows {
					var versions []string
					for _, v := range slices.Sorted(maps.Keys(r.Versions)) {
						versions = append(versions, fmt.Sprintf("%s %d", v, r.Versions[v]))
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n", r.Service, r.Direction, r.Count, r.Errors, r.Denied,
						roundLatency(r.P50), roundLatency(r.P99), strings.Join(versions, ", "))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the rows as JSON")
	return cmd
}

// roundLatency keeps three significant figures or so: 1.23ms, 456µs.
func roundLatency(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func newMeshCallCmd(a *app, f *meshFlags) *cobra.Command {
	var from, service, path string
	var n int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "call",
		Short: "Send requests from inside a sandbox through its sidecar, and count the answers",
		Long: `Send -n GET requests from inside the sandbox of service --from (its app's
own network namespace) to --service, through the sidecar's outbound listener,
exactly as its app would:

  wget -qO- --header 'Host: reviews' http://127.0.0.1:15001/

Each request crosses two sidecars: the caller's, which picks a version (by
the split, if there is one), and the callee's, which applies its rules before
the app sees the request. The answers are counted, so a 90/10 split shows as
roughly 90 and 10 out of 100.`,
		Example: `  sudo kcna-lab mesh call
  sudo kcna-lab mesh call -n 100
  sudo kcna-lab mesh call --path /admin -n 1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 || n > 1000 {
				return fmt.Errorf("-n %d: send 1 to 1000 requests", n)
			}
			if !strings.HasPrefix(path, "/") {
				return fmt.Errorf("--path %q must start with /, e.g. /admin", path)
			}
			var eps map[string][]mesh.Endpoint
			if err := withMesh(cmd.Context(), f.name, func(c *mesh.Client) (err error) {
				eps, err = c.Endpoints()
				return err
			}); err != nil {
				return err
			}
			if len(eps[from]) == 0 {
				return fmt.Errorf("no %s sidecar is in mesh %s; its services are: %s", from, f.name, strings.Join(slices.Sorted(maps.Keys(eps)), ", "))
			}
			st, err := mesh.SandboxAt(eps[from][0].Sidecar)
			if err != nil {
				return err
			}
			answers, err := mesh.Call(cmd.Context(), st.Name, service, path, n)
			if err != nil {
				return err
			}
			tally := mesh.Tally(answers)
			if asJSON {
				return a.printJSON(tally)
			}
			fmt.Fprintf(a.stdout, "%d request(s) from %s (sandbox %s) for %s %s, through its sidecar at %s:\n", n, from, st.Name, service, path, mesh.OutboundAddr())
			for _, t := range tally {
				fmt.Fprintf(a.stdout, "  %4d  %3.0f%%  %s\n", t.N, 100*float64(t.N)/float64(n), t.Answer)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "frontend", "the calling `SERVICE`, from whose sandbox the requests go")
	fl.StringVar(&service, "service", "reviews", "the `SERVICE` to call, named in the Host header")
	fl.StringVar(&path, "path", "/", "the `PATH` to ask for")
	countFlag(fl, &n, 20, "how many requests to send, one after another", "n")
	fl.BoolVar(&asJSON, "json", false, "print the counted answers as JSON")
	return cmd
}

// newMeshSidecarCmd is the hidden mode a pod runs inside its sandbox's
// network namespace: `nsenter --net=/proc/PID/ns/net -- kcna-lab mesh sidecar ...`.
func newMeshSidecarCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:                "sidecar",
		Short:              "internal: a pod's sidecar proxy, started by mesh up",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cli.LongLived() // as long as its pod
			return mesh.RunSidecarCommand(cmd.Context(), args, a.stderr)
		},
	}
}

// withMesh runs fn with a connection to the control plane of the mesh
// called name, and closes it.
func withMesh(ctx context.Context, name string, fn func(*mesh.Client) error) error {
	c, err := dialMesh(ctx, name)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	return fn(c)
}

// dialMesh connects to the control plane of the mesh called name, saying
// what to do when there is none.
func dialMesh(ctx context.Context, name string) (*mesh.Client, error) {
	sock := mesh.ControlSocket(name)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := mesh.Dial(ctx, sock)
	switch {
	case err == nil:
		return c, nil
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED):
		return nil, fmt.Errorf("no mesh is running (nothing answers on %s); start one with `sudo kcna-lab mesh%s up`", sock, nameFlag(name))
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("the control socket %s is root's, since whoever reaches it can change the mesh's rules: run with sudo", sock)
	}
	return nil, err
}

// nameFlag is the --name flag to repeat in a suggested command.
func nameFlag(name string) string {
	if name == mesh.DefaultLab {
		return ""
	}
	return " --name " + name
}
