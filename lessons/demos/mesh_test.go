//go:build linux

package demos

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/platform/mesh"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// The mesh tests' own bridges, so that a learner's kl-br0 and other
// packages' tests are never touched.
var (
	meshDemoNet  = sandbox.Net{Bridge: "kl-t-dmesh", Subnet: netip.MustParsePrefix("10.213.74.0/24")}
	meshCheckNet = sandbox.Net{Bridge: "kl-t-cmesh", Subnet: netip.MustParsePrefix("10.213.75.0/24")}
)

// meshReady skips without root and points the pods' sidecars at a freshly
// built kcna-lab: this test binary is not one, and a sidecar is
// `kcna-lab mesh sidecar` run inside a sandbox's network namespace.
func meshReady(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the mesh's pods are sandboxes on a bridge (CI runs as root)")
	}
	d := meshDemo(meshDemoNet)
	if why := d.Blocked(sandbox.Doctor()); why != "" {
		t.Skipf("this host cannot run the mesh: %s", why)
	}
	labBin(t)
}

// TestServiceMeshDemo checks the demo's claims against what the sidecars
// recorded on the wire, and that it leaves nothing behind.
func TestServiceMeshDemo(t *testing.T) {
	meshReady(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rec := &recorder{}
	if err := meshDemo(meshDemoNet).Run(ctx, rec); err != nil {
		t.Fatal(err)
	}
	for _, e := range rec.Of(event.KindStep) {
		// Refusals are the point (a connection accepted just before the
		// switch is refused per request instead); anything else failing is not.
		if !e.OK() && !strings.Contains(e.Action, "refuse plaintext connection") && !strings.Contains(e.Err, "plaintext refused") {
			t.Errorf("step %s failed: %s", e.Action, e.Err)
		}
	}

	// mTLS: the sidecar itself refused the plaintext connection, and then
	// answered frontend's sidecar, which proved frontend's identity.
	if len(meshEvents(rec, "reviews sidecar: refuse plaintext connection from")) == 0 {
		t.Error("no reviews sidecar reported refusing a plaintext connection")
	}
	m := rec.compare(t, "mTLS on:")
	if !anyLineHas(m.Left.Lines, "→ 400") || !anyLineHas(m.Right.Lines, "200 reviews v") {
		t.Errorf("mTLS view: plaintext %q, via sidecars %q", m.Left.Lines, m.Right.Lines)
	}
	if len(meshEvents(rec, "reviews sidecar ← "+mesh.SPIFFEID("frontend")+": GET / → 200 (mTLS)")) == 0 {
		t.Error("no mTLS request from frontend's identity reached a reviews sidecar")
	}

	// Deny: 200 from the app before, 403 from the sidecar after.
	d := rec.compare(t, "Deny /admin")
	if !anyLineHas(d.Left.Lines, "admin page") || !anyLineHas(d.Right.Lines, "→ 403") {
		t.Errorf("deny view: before %q, after %q", d.Left.Lines, d.Right.Lines)
	}
	if len(meshEvents(rec, "GET /admin → 403", "refused by rule deny /admin")) == 0 {
		t.Error("no reviews sidecar recorded refusing /admin by the deny rule")
	}

	// Split: the app's count and the sidecar's agree, about 90/10.
	s := rec.compare(t, "Split 90/10")
	got := map[string]int{}
	for _, l := range s.Left.Lines {
		// "%3d × 200 reviews v1"
		f := strings.Fields(l)
		if len(f) == 5 && f[2] == "200" {
			n, _ := strconv.Atoi(f[0])
			got[f[4]] += n
		}
	}
	if got["v1"]+got["v2"] != splitRequests || got["v2"] < 1 || got["v2"] > 25 {
		t.Errorf("split of %d requests: %v (from %q); want all answered, v2 between 1 and 25", splitRequests, got, s.Left.Lines)
	}
	for _, v := range []string{"v1", "v2"} {
		if want := v + ": " + strconv.Itoa(got[v]); !anyLineHas(s.Right.Lines, want) {
			t.Errorf("frontend's sidecar counted %q; the app got %s", s.Right.Lines, want)
		}
	}

	meshLeftNothing(t, demoName("mesh"), meshDemoNet.Bridge)
}

// meshLeftNothing checks that the mesh called name left no sandbox, no
// control socket and no bridge.
func meshLeftNothing(t *testing.T, name, bridge string) {
	t.Helper()
	for _, svc := range mesh.LabServices() {
		if _, err := sandbox.Find(mesh.PodName(name, svc)); err == nil {
			t.Errorf("sandbox %s left", mesh.PodName(name, svc))
		}
	}
	if _, err := os.Stat(mesh.ControlSocket(name)); err == nil {
		t.Errorf("control socket %s left", mesh.ControlSocket(name))
	}
	if _, err := os.Stat("/sys/class/net/" + bridge); err == nil {
		t.Errorf("bridge %s left", bridge)
	}
}

// TestCheckMeshLockdown: the check fails with mTLS off, fails with only
// mTLS, and passes with mTLS and /admin denied, each proved on the wire.
func TestCheckMeshLockdown(t *testing.T) {
	meshReady(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if len(mesh.Running()) == 0 {
		v, err := checkMeshLockdown(ctx)
		if err != nil || v.Passed || !strings.Contains(v.Detail, "no mesh is running") {
			t.Errorf("with no mesh: %+v, %v", v, err)
		}
	}
	const name = "kt-lock"
	lab, err := mesh.Up(ctx, mesh.LabSpec{Name: name, Net: meshCheckNet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lab.Close() }()

	if v := meshLockdown(ctx, name); v.Passed || !strings.Contains(v.Detail, "mTLS is off") {
		t.Errorf("no rules: %+v", v)
	}
	if err := lab.CP.Push(mesh.Rules{MTLS: true}); err != nil {
		t.Fatal(err)
	}
	if v := meshLockdown(ctx, name); v.Passed || !strings.Contains(v.Detail, "still allows /admin") {
		t.Errorf("mTLS only: %+v", v)
	}
	if err := lab.CP.Push(mesh.Rules{MTLS: true, Services: map[string]mesh.ServiceRules{"reviews": {Deny: []string{"/admin"}}}}); err != nil {
		t.Fatal(err)
	}
	// The sidecars apply a push when they read it; the check reads the wire.
	var v Verdict
	deadline := time.Now().Add(10 * time.Second)
	for v = meshLockdown(ctx, name); !v.Passed && time.Now().Before(deadline); v = meshLockdown(ctx, name) {
		time.Sleep(100 * time.Millisecond)
	}
	if !v.Passed || !strings.Contains(v.Detail, "answered 400") || !strings.Contains(v.Detail, "got 403") {
		t.Fatalf("locked down: %+v", v)
	}
	c, _ := Builtin().Check("mesh-lockdown")
	if got, err := c.Verify(ctx); err != nil || !got.Passed {
		t.Errorf("the registered check: %+v, %v", got, err)
	}
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	if v := meshLockdown(ctx, name); v.Passed || !strings.Contains(v.Detail, "does not answer") {
		t.Errorf("after the mesh went down: %+v", v)
	}
}

// meshEvents returns the events whose Action contains every part.
func meshEvents(rec *recorder, parts ...string) []event.Event {
	var out []event.Event
next:
	for _, e := range rec.Events() {
		for _, p := range parts {
			if !strings.Contains(e.Action, p) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

func anyLineHas(lines []string, part string) bool {
	for _, l := range lines {
		if strings.Contains(l, part) {
			return true
		}
	}
	return false
}
