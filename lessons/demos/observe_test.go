//go:build linux

package demos

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/platform/mesh"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Lesson 15's bridges, apart from the other mesh tests'.
var (
	telemetryDemoNet = sandbox.Net{Bridge: "kl-t-omesh", Subnet: netip.MustParsePrefix("10.213.76.0/24")}
	canaryCheckNet   = sandbox.Net{Bridge: "kl-t-c404", Subnet: netip.MustParsePrefix("10.213.77.0/24")}
)

// TestContainerMetricsDemo runs the demo and checks its readings against
// the kernel's rules rather than its own words: memory grows by the 16 MiB
// held, the working set never exceeds usage, the log is read back after
// the sandbox ended, the CRI lines are well formed, and nothing is left.
func TestContainerMetricsDemo(t *testing.T) {
	labBin(t)
	rec := runDemo(t, "container-metrics")

	c := rec.compare(t, "The sandbox's cgroup, read live")
	rows := c.Left.Lines[1:]
	if len(rows) != 9 {
		t.Fatalf("want 9 readings, got %q", c.Left.Lines)
	}
	first, last := strings.Fields(rows[0]), strings.Fields(rows[len(rows)-1])
	if mibOf(t, last[1])-mibOf(t, first[1]) < 8 {
		t.Errorf("usage went from %s to %s; the sandbox held 16 MiB more", first[1], last[1])
	}
	for _, r := range rows {
		f := strings.Fields(r)
		if mibOf(t, f[2]) > mibOf(t, f[1]) {
			t.Errorf("working set above usage: %q", r)
		}
	}

	l := rec.compare(t, "kcna-lab logs ")
	if anyLineHas(l.Left.Lines, "lost the database") || !anyLineHas(l.Left.Lines, "starting") {
		t.Errorf("log while running: %q", l.Left.Lines)
	}
	if !anyLineHas(l.Right.Lines, "request 3 served") || !anyLineHas(l.Right.Lines, "error: lost the database") {
		t.Errorf("log after the end: %q", l.Right.Lines)
	}
	cri := rec.compare(t, "The same output in the CRI log format, one entry per line (the sandbox exited with 3)")
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (stdout|stderr) F `)
	streams := map[string]int{}
	if len(cri.Left.Lines) != len(cri.Right.Lines) {
		t.Fatalf("CRI view: %d times, %d texts", len(cri.Left.Lines), len(cri.Right.Lines))
	}
	for i, stamp := range cri.Left.Lines {
		l := stamp + " " + cri.Right.Lines[i]
		if !line.MatchString(l) {
			t.Errorf("not a CRI log line: %q", l)
		}
		streams[strings.Fields(l)[1]]++
	}
	if streams["stdout"] != 4 || streams["stderr"] != 2 {
		t.Errorf("lines per stream %v, want stdout 4 and stderr 2", streams)
	}

	for _, prefix := range []string{"observe", "logs"} {
		name := demoName(prefix)
		if _, err := sandbox.Find(name); err == nil {
			t.Errorf("sandbox %s left", name)
		}
	}
	if _, err := os.Stat(sandbox.LogPath(demoName("logs"))); err == nil {
		t.Errorf("log %s left", sandbox.LogPath(demoName("logs")))
	}
}

func mibOf(t *testing.T, s string) float64 {
	t.Helper()
	var f float64
	if _, err := fmt.Sscanf(strings.TrimSuffix(s, "M"), "%g", &f); err != nil {
		t.Fatalf("%q is no MiB figure: %v", s, err)
	}
	return f
}

// TestMeshTelemetryDemo runs the demo: it fails itself unless the scraped
// counters match the requests sent and the spans link up; here the views
// and the clean-up are checked.
func TestMeshTelemetryDemo(t *testing.T) {
	meshReady(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rec := &recorder{}
	if err := meshTelemetryDemo(telemetryDemoNet).Run(ctx, rec); err != nil {
		t.Fatal(err)
	}
	var page []string
	for _, e := range rec.Of(event.KindOutput) {
		page = append(page, lines(e.Text)...)
	}
	for _, want := range []string{
		"# TYPE kcna_mesh_requests_total counter",
		`kcna_mesh_requests_total{direction="inbound",service="reviews",code="404"} 10`,
		`kcna_mesh_request_duration_seconds_bucket{direction="inbound",service="reviews",le="+Inf"} 40`,
	} {
		if !anyLineHas(page, want) {
			t.Errorf("scraped page lacks %q: %q", want, page)
		}
	}
	what := rec.compare(t, "What the page says")
	if len(what.Left.Lines) != 6 || what.Left.Lines[0] != "40 requests" || what.Left.Lines[1] != "30 × 200, 10 × 404" || what.Left.Lines[2] != "25% answered 404" {
		t.Errorf("what the page says: %q", what.Left.Lines)
	}
	tr := rec.compare(t, "Trace ")
	if len(tr.Left.Lines) != 3 || !strings.Contains(tr.Left.Lines[1], "frontend sidecar, outbound") || !strings.Contains(tr.Left.Lines[2], "reviews sidecar, inbound") {
		t.Errorf("trace tree: %q", tr.Left.Lines)
	}

	meshLeftNothing(t, demoName("obsmesh"), telemetryDemoNet.Bridge)
}

// TestCheckCanary404s: the check fails with no 404s, fails when they land
// on v1, and passes once only v2 has counted five, all read from the
// sidecars' /metrics over HTTP.
func TestCheckCanary404s(t *testing.T) {
	meshReady(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if len(mesh.Running()) == 0 {
		v, err := checkCanary404s(ctx)
		if err != nil || v.Passed || !strings.Contains(v.Detail, "no mesh is running") {
			t.Errorf("with no mesh: %+v, %v", v, err)
		}
	}
	up := func(name string) *mesh.Lab {
		lab, err := mesh.Up(ctx, mesh.LabSpec{Name: name, Net: canaryCheckNet}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = lab.Close() })
		return lab
	}
	send := func(lab *mesh.Lab, split map[string]int, n int) {
		t.Helper()
		if err := lab.CP.Push(mesh.Rules{Services: map[string]mesh.ServiceRules{"reviews": {Split: split}}}); err != nil {
			t.Fatal(err)
		}
		front := lab.Pod("frontend", "")
		// A push reaches frontend's sidecar when it reads it: wait until
		// a call lands where the split says, then send the 404s.
		want := "reviews v2"
		if split["v2"] == 0 {
			want = "reviews v1"
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			a, err := mesh.Call(ctx, front.Name, "reviews", "/", 3)
			if err != nil {
				t.Fatal(err)
			}
			if a[0].Body == want && a[1].Body == want && a[2].Body == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the split %v is not in force after 10s: %v", split, a)
			}
		}
		if _, err := mesh.Call(ctx, front.Name, "reviews", "/missing", n); err != nil {
			t.Fatal(err)
		}
	}
	verdict := func(name, want string, passed bool) {
		t.Helper()
		var v Verdict
		deadline := time.Now().Add(5 * time.Second)
		for v = canaryVerdict(ctx, name); v.Passed != passed && time.Now().Before(deadline); v = canaryVerdict(ctx, name) {
			time.Sleep(50 * time.Millisecond)
		}
		if v.Passed != passed || !strings.Contains(v.Detail, want) {
			t.Errorf("mesh %s: want passed=%v with %q, got %+v", name, passed, want, v)
		}
	}

	const name = "kt-c404"
	lab := up(name)
	verdict(name, "v2's sidecar has counted 0 answers of 404", false)
	send(lab, map[string]int{"v2": 100}, 3)
	verdict(name, "v2's sidecar has counted 3 answers of 404", false)
	send(lab, map[string]int{"v2": 100}, 2)
	verdict(name, "v2's sidecar counts 5 inbound answers of 404 and v1's none", true)
	c, _ := Builtin().Check("canary-404s")
	if got, err := c.Verify(ctx); err != nil || !got.Passed {
		t.Errorf("the registered check: %+v, %v", got, err)
	}
	send(lab, map[string]int{"v1": 100}, 1)
	verdict(name, "reviews v1's sidecar has counted 1 answers of 404", false)
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	verdict(name, "does not answer", false)
}
