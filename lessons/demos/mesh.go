package demos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/platform/mesh"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Lesson 12, service mesh: three sandboxes on the bridge, each with a
// sidecar (kcna-lab itself) inside its network namespace, and a control
// plane in this process pushing rules to them while traffic flows.

func meshDemos() []Demo {
	return []Demo{meshDemo(sandbox.Net{})}
}

func meshChecks() []Check {
	return []Check{{ID: "mesh-lockdown", Verify: checkMeshLockdown}}
}

// meshDemo is the demo on the bridge n: kcna-lab's own, or a test's.
func meshDemo(n sandbox.Net) Demo {
	return Demo{
		ID:    "service-mesh",
		Title: "Traffic through sidecars: mTLS, a denied path, a 90/10 split",
		Run: func(ctx context.Context, sink event.Sink) error {
			return runMesh(ctx, sink, n)
		},
		Blocked:    needsMesh,
		ShellFlags: []string{"--name", "lab-mesh", "--keep", "--net", "bridge"},
	}
}

// needsMesh says why this host cannot run a mesh ("" when it can): the
// bridge, nsenter for the sidecars, busybox for the apps and their calls.
func needsMesh(r sandbox.Report) string {
	if why := needsBridge(r); why != "" {
		return why
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		return "the sidecars are started inside the sandboxes' network namespaces with nsenter, which is not installed: install util-linux"
	}
	if r.Busybox == "" {
		return "the apps are busybox httpd and the calls busybox wget, and no static busybox was found: install busybox-static"
	}
	return ""
}

// splitRequests is how many requests show the 90/10 split.
const splitRequests = 100

func runMesh(ctx context.Context, sink event.Sink, n sandbox.Net) error {
	// The hundred requests of the split would bury everything else: while
	// quiet is set, successful steps (each proxied request is one) are
	// counted by the sidecars but not shown.
	var quiet atomic.Bool
	labSink := event.SinkFunc(func(e event.Event) {
		if quiet.Load() && e.Kind == event.KindStep && e.OK() {
			return
		}
		sink.Emit(e)
	})
	name := demoName("mesh")
	event.Narrate(sink, "Start a control plane in this process (a tiny istiod: a certificate authority, the rules, a registry of sidecars) and three app sandboxes on the bridge: frontend, reviews v1 and reviews v2. Each app is busybox httpd on 127.0.0.1:8080 inside its sandbox, so that nothing from outside reaches it except through its sidecar.")
	lab, err := mesh.Up(ctx, mesh.LabSpec{Name: name, Net: n}, labSink)
	if err != nil {
		return err
	}
	defer func() { _ = lab.Close() }()
	front, v1 := lab.Pod("frontend", ""), lab.Pod("reviews", "v1")
	if front == nil || v1 == nil {
		return errors.New("the mesh started without its frontend or reviews v1 pod")
	}
	showMap(sink, lab)
	// sent counts the calls through frontend's sidecar, so that the demo
	// can wait for all of their records before it reads the counters.
	var sent int64
	call := func(path string, n int) ([]mesh.Answer, error) {
		a, err := mesh.Call(ctx, front.Name, "reviews", path, n)
		sent += int64(len(a))
		return a, err
	}

	// 1. Plaintext, no rules.
	event.Narrate(sink, fmt.Sprintf("frontend's app calls reviews the mesh's way: `wget -qO- --header 'Host: reviews' http://%s/` inside %s. Its sidecar picks a reviews instance and forwards to that instance's sidecar, which passes the request to its app on 127.0.0.1:8080. Each sidecar reports the request: that is where the metrics come from.", mesh.OutboundAddr(), front.Name))
	answers, err := call("/", 6)
	if err != nil {
		return err
	}
	if err := waitStats(ctx, lab, mesh.Inbound, "reviews", 6); err != nil {
		return err
	}
	columns(sink, "Six calls from frontend: what its app got, and what the sidecars counted",
		"frontend's app (wget)", tallyLines(answers), "the sidecars' reports", statsLines(lab.CP.Stats()))

	// 2. mTLS on.
	event.Narrate(sink, "Now one rule, mtls on (Istio: a PeerAuthentication with mode STRICT). The control plane pushes it to every sidecar; each gets a certificate from the mesh's CA with its SPIFFE ID. From now on a sidecar's inbound port takes only TLS connections whose client certificate the CA signed.")
	rules := mesh.Rules{MTLS: true}
	if err := lab.CP.Push(rules); err != nil {
		return err
	}
	if err := waitRefusing(ctx, lab); err != nil {
		return err
	}
	plain, err := mesh.Fetch(ctx, front.Name, "http://"+v1.Inbound+"/", "reviews", 1)
	if err != nil {
		return err
	}
	if plain[0].Status == 200 {
		return fmt.Errorf("with mTLS on, the reviews v1 sidecar at %s still answered a plaintext request with %s", v1.Inbound, plain[0])
	}
	secure, err := call("/", 2)
	if err != nil {
		return err
	}
	columns(sink, "mTLS on: the same app, with and without its sidecar",
		"plaintext, straight to "+v1.Inbound, []string{"wget inside " + front.Name, "→ " + plain[0].String(), "refused: no client certificate"},
		"through its sidecar, "+mesh.OutboundAddr(), append([]string{"wget inside " + front.Name}, prefixed("→ ", tallyLines(secure))...))
	if secure[0].Status != 200 {
		return fmt.Errorf("with mTLS on, a call through the sidecars got %s", secure[0])
	}
	event.Narrate(sink, fmt.Sprintf("A client that skips its sidecar, even from inside the mesh, is refused: it has no certificate. The call through the sidecars still works, now encrypted, and reviews' sidecar knows who called: %s, from frontend's certificate, which is what authorisation by identity builds on.", mesh.SPIFFEID("frontend")))

	// 3. Deny /admin.
	before, err := call("/admin", 1)
	if err != nil {
		return err
	}
	rules.Services = map[string]mesh.ServiceRules{"reviews": {Deny: []string{"/admin"}}}
	event.Narrate(sink, "Next, deny /admin on reviews (Istio: an AuthorizationPolicy with action DENY). The destination's sidecar enforces it, so that no caller can skip it.")
	if err := lab.CP.Push(rules); err != nil {
		return err
	}
	after, err := callUntil(call, "/admin", func(a mesh.Answer) bool { return a.Status == 403 })
	if err != nil {
		return err
	}
	columns(sink, "Deny /admin: the same request before and after the rule",
		"before", []string{"GET /admin via frontend's sidecar", "→ " + before[0].String()},
		"after (deny /admin)", []string{"GET /admin via frontend's sidecar", "→ " + after.String(), "from reviews' sidecar; the app never saw it"})

	// 4. Split 90/10.
	rules.Services["reviews"] = mesh.ServiceRules{Deny: []string{"/admin"}, Split: map[string]int{"v1": 90, "v2": 10}}
	event.Narrate(sink, fmt.Sprintf("Last, a canary: 90%% of reviews traffic to v1, 10%% to v2 (an HTTPRoute with weights 90 and 10). The caller's sidecar draws the version for each request. frontend now sends %d requests; their events are not shown one by one, the sidecars count them.", splitRequests))
	if err := lab.CP.Push(rules); err != nil {
		return err
	}
	if err := waitStats(ctx, lab, mesh.Outbound, "reviews", sent); err != nil {
		return err
	}
	versionsBefore := outboundVersions(lab.CP.Stats())
	quiet.Store(true)
	split, err := call("/", splitRequests)
	quiet.Store(false)
	if err != nil {
		return err
	}
	if err := waitStats(ctx, lab, mesh.Outbound, "reviews", sent); err != nil {
		return err
	}
	counted := outboundVersions(lab.CP.Stats())
	var sidecarLines []string
	for _, v := range slices.Sorted(maps.Keys(counted)) {
		sidecarLines = append(sidecarLines, fmt.Sprintf("%s: %d", v, counted[v]-versionsBefore[v]))
	}
	columns(sink, fmt.Sprintf("Split 90/10: where %d requests went", splitRequests),
		"frontend's app got", tallyLines(split), "frontend's sidecar counted", sidecarLines)
	event.Narrate(sink, "About nine in ten went to v1, drawn request by request, whatever the number of v1 and v2 instances. Moving a canary along is one more push: 50/50, then 0/100, with no restart of anything.")
	rows := lab.CP.Stats()
	// Linkerd's "golden metrics": rate, errors, latency. The SRE book's four
	// golden signals add saturation, which requests cannot show.
	columns(sink, "The golden metrics (rate, errors, latency), from the sidecars alone (no code in the apps)",
		"traffic and errors", statsLines(rows), "latency", latencyLines(rows))

	event.Narrate(sink, "Take it all down: each sidecar leaves the mesh, then its sandbox stops.")
	if err := lab.Close(); err != nil {
		return err
	}
	return nil
}

// showMap draws where the pods and their sidecars are.
func showMap(sink event.Sink, lab *mesh.Lab) {
	var apps, sidecars []string
	for _, p := range lab.Pods {
		apps = append(apps, fmt.Sprintf("%s %s at %s", p.Service, p.Version, p.IP))
		sidecars = append(sidecars, fmt.Sprintf("PID %d, inbound :%d", p.SidecarPID, mesh.InboundPort))
	}
	columns(sink, fmt.Sprintf("The mesh: each sandbox's app on 127.0.0.1:%d, its sidecar in the same network namespace (outbound %s)", mesh.AppPort, mesh.OutboundAddr()),
		"sandbox: app", apps, "sidecar: kcna-lab via nsenter", sidecars)
	var names []string
	for _, p := range lab.Pods {
		names = append(names, p.Name)
	}
	event.Narrate(sink, fmt.Sprintf("The sandboxes are %s: `kcna-lab ps` lists them, and `kcna-lab mesh --name %s rules` talks to this control plane while the demo runs.", strings.Join(names, ", "), lab.Name))
}

// waitRefusing waits until every sidecar refuses plaintext: a push reaches
// the sidecars one after another, and each applies it when it reads it.
func waitRefusing(ctx context.Context, lab *mesh.Lab) error {
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range lab.Pods {
		for {
			a, _ := mesh.PlaintextGet(ctx, p.Inbound, p.Service, "/")
			if a.Status != 200 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("the %s %s sidecar still answers plaintext 10s after mTLS was switched on", p.Service, p.Version)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// callUntil calls path with call until an answer satisfies ok, for up to
// 10s: a pushed rule is applied by each sidecar when it reads it.
func callUntil(call func(path string, n int) ([]mesh.Answer, error), path string, ok func(mesh.Answer) bool) (mesh.Answer, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, err := call(path, 1)
		if err != nil {
			return mesh.Answer{}, err
		}
		if ok(a[0]) {
			return a[0], nil
		}
		if time.Now().After(deadline) {
			return a[0], fmt.Errorf("GET %s through the mesh still gets %s 10s after the rule was pushed", path, a[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitStats waits until the control plane has at least n requests for
// service in direction dir: the sidecars' records cross a socket.
func waitStats(ctx context.Context, lab *mesh.Lab, dir mesh.Direction, service string, n int64) error {
	deadline := time.Now().Add(5 * time.Second)
	for countOf(lab.CP.Stats(), dir, service) < n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the sidecars reported %d %s requests for %s, want %d", countOf(lab.CP.Stats(), dir, service), dir, service, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

func countOf(rows []mesh.StatsRow, dir mesh.Direction, service string) int64 {
	for _, r := range rows {
		if r.Direction == dir && r.Service == service {
			return r.Count
		}
	}
	return 0
}

// outboundVersions is how many calls to reviews each version answered, as
// the callers' sidecars counted.
func outboundVersions(rows []mesh.StatsRow) map[string]int64 {
	for _, r := range rows {
		if r.Direction == mesh.Outbound && r.Service == "reviews" {
			return r.Versions
		}
	}
	return map[string]int64{}
}

func tallyLines(answers []mesh.Answer) []string {
	var out []string
	for _, c := range mesh.Tally(answers) {
		out = append(out, fmt.Sprintf("%3d × %s", c.N, c.Answer))
	}
	return out
}

// statsLines are the counters of each row, e.g. "reviews in: 6 req, 0 err, 0 denied".
func statsLines(rows []mesh.StatsRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s: %d req, %d err, %d denied", r.Service, shortDir(r.Direction), r.Count, r.Errors, r.Denied))
	}
	return out
}

func latencyLines(rows []mesh.StatsRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s: p50 %s, p99 %s", r.Service, shortDir(r.Direction), r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond)))
	}
	return out
}

func shortDir(d mesh.Direction) string {
	if d == mesh.Inbound {
		return "in"
	}
	return "out"
}

func prefixed(prefix string, lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = prefix + l
	}
	return out
}

// checkMeshLockdown passes when a running mesh is locked down, read from
// its control plane and proved on the wire.
func checkMeshLockdown(ctx context.Context) (Verdict, error) {
	return anyMesh(ctx, meshLockdown)
}

// anyMesh passes when judge passes one of the running meshes, and says
// what it found in each when none does.
func anyMesh(ctx context.Context, judge func(context.Context, string) Verdict) (Verdict, error) {
	names := mesh.Running()
	if len(names) == 0 {
		return fail("no mesh is running; start one with `sudo kcna-lab mesh up`")
	}
	var found []string
	for _, name := range names {
		v := judge(ctx, name)
		if v.Passed {
			return v, nil
		}
		found = append(found, v.Detail)
	}
	return fail("%s", strings.Join(found, "; "))
}

// dialMesh reaches the control plane of the mesh called name, or says
// why not as the verdict a check gives (nil client).
func dialMesh(ctx context.Context, name string) (*mesh.Client, Verdict) {
	c, err := mesh.Dial(ctx, mesh.ControlSocket(name))
	if err != nil {
		return nil, Verdict{Detail: fmt.Sprintf("mesh %s: its control plane does not answer (%v); start a mesh with `sudo kcna-lab mesh up`", name, err)}
	}
	return c, Verdict{}
}

// meshLockdown judges the mesh called name: its live rules must have mTLS
// on and /admin denied for reviews, a plaintext request to each reviews
// sidecar must be refused, and /admin through the mesh must get 403.
func meshLockdown(ctx context.Context, name string) Verdict {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, miss := dialMesh(ctx, name)
	if c == nil {
		return miss
	}
	defer func() { _ = c.Close() }()
	rules, err := c.Rules()
	if err != nil {
		return Verdict{Detail: fmt.Sprintf("mesh %s: %v", name, err)}
	}
	eps, err := c.Endpoints()
	if err != nil {
		return Verdict{Detail: fmt.Sprintf("mesh %s: %v", name, err)}
	}
	if !rules.MTLS {
		return Verdict{Detail: fmt.Sprintf("mesh %s runs, but mTLS is off: `sudo kcna-lab mesh%s apply --mtls on`", name, nameArg(name))}
	}
	if ok, _ := rules.For("reviews").Permits("/admin"); ok {
		return Verdict{Detail: fmt.Sprintf("mesh %s has mTLS on, but reviews still allows /admin: `sudo kcna-lab mesh%s apply --deny reviews:/admin`", name, nameArg(name))}
	}
	if len(eps["reviews"]) == 0 || len(eps["frontend"]) == 0 {
		return Verdict{Detail: fmt.Sprintf("mesh %s has no reviews or no frontend sidecar to test with; `sudo kcna-lab mesh up` starts both", name)}
	}
	var refused []string
	for _, ep := range eps["reviews"] {
		a, err := mesh.PlaintextGet(ctx, ep.Sidecar, "reviews", "/")
		switch {
		case err != nil:
			refused = append(refused, fmt.Sprintf("%s hung up", ep.Sidecar))
		case a.Status < 400:
			return Verdict{Detail: fmt.Sprintf("mesh %s: the rules say mTLS, but the reviews %s sidecar at %s answered a plaintext GET with %d", name, ep.Version, ep.Sidecar, a.Status)}
		default:
			refused = append(refused, fmt.Sprintf("%s answered %d", ep.Sidecar, a.Status))
		}
	}
	st, err := mesh.SandboxAt(eps["frontend"][0].Sidecar)
	if err != nil {
		return Verdict{Detail: fmt.Sprintf("mesh %s: %v", name, err)}
	}
	got, err := mesh.Call(ctx, st.Name, "reviews", "/admin", 1)
	if err != nil {
		return Verdict{Detail: fmt.Sprintf("mesh %s: GET /admin from frontend: %v", name, err)}
	}
	if got[0].Status != 403 {
		return Verdict{Detail: fmt.Sprintf("mesh %s: the rules deny /admin, but GET /admin from frontend through the mesh got %s", name, got[0])}
	}
	return Verdict{Passed: true, Detail: fmt.Sprintf("mesh %s: mTLS on and /admin denied for reviews; on the wire, plaintext to the reviews sidecars was refused (%s), and GET /admin from frontend through the mesh got 403", name, strings.Join(refused, ", "))}
}

func nameArg(name string) string {
	if name == mesh.DefaultLab {
		return ""
	}
	return " --name " + name
}
