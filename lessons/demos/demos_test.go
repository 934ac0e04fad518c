//go:build linux

package demos

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestMain lets this test binary act as a sandbox's init.
func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

// recorder keeps a demo's events for the test to check.
type recorder struct{ event.Recorder }

// compare returns the side-by-side view whose title starts with prefix.
func (r *recorder) compare(t *testing.T, prefix string) event.Compare {
	t.Helper()
	for _, e := range r.Of(event.KindCompare) {
		if strings.HasPrefix(e.Compare.Title, prefix) {
			return *e.Compare
		}
	}
	t.Fatalf("no side-by-side view titled %q", prefix)
	return event.Compare{}
}

// runDemo runs a registered demo as root and returns its events.
func runDemo(t *testing.T, id string) *recorder {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: demos create namespaces, mounts and cgroups (CI runs as root)")
	}
	d, ok := Builtin().Demo(id)
	if !ok {
		t.Fatalf("demo %s is not registered", id)
	}
	if why := d.Blocked(sandbox.Doctor()); why != "" {
		t.Skipf("this host cannot run %s: %s", id, why)
	}
	rec := &recorder{}
	if err := d.Run(context.Background(), rec); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	for _, e := range rec.Of(event.KindStep) {
		if !e.OK() {
			t.Errorf("%s: step %s failed: %s", id, e.Action, e.Err)
		}
	}
	return rec
}

func TestNamespacesTour(t *testing.T) {
	rec := runDemo(t, "namespaces-tour")
	ids := rec.compare(t, "Namespace identities")
	for i := range ids.Left.Lines {
		if ids.Left.Lines[i] == ids.Right.Lines[i] {
			t.Errorf("namespace %s is the same inside and out: %s", ids.Left.Lines[i], ids.Right.Lines[i])
		}
	}
	ps := rec.compare(t, "pid:")
	if len(ps.Right.Lines) < 2 || !strings.Contains(ps.Right.Lines[1], "1 ") {
		t.Errorf("ps inside does not start with PID 1: %q", ps.Right.Lines)
	}
	host, _ := os.Hostname()
	uts := rec.compare(t, "uts:")
	if uts.Left.Lines[0] != host || uts.Right.Lines[0] != sandboxHostname {
		t.Errorf("hostnames: host %q sandbox %q", uts.Left.Lines, uts.Right.Lines)
	}
	net := rec.compare(t, "net:")
	if strings.Join(net.Right.Lines, ",") != "lo" {
		t.Errorf("interfaces inside: %q, want only lo", net.Right.Lines)
	}
	// The narration says the sandbox's cgroup looks like the root and its
	// uptime starts near zero: what the kernel showed inside must agree.
	for _, l := range rec.compare(t, "cgroup:").Right.Lines {
		if !strings.HasSuffix(l, ":/") {
			t.Errorf("inside the cgroup namespace %q is not the root", l)
		}
	}
	up := rec.compare(t, "time:")
	hostUp, box := seconds(up.Left.Lines[0]), seconds(up.Right.Lines[0])
	if box < 0 || box > 60 || box >= hostUp {
		t.Errorf("uptime inside %v s, on the host %v s: the time namespace should start the sandbox's near zero", box, hostUp)
	}
}

// seconds is the first number of a /proc/uptime line, or -1.
func seconds(line string) float64 {
	f := strings.Fields(line)
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

func TestDependencies(t *testing.T) {
	rec := runDemo(t, "dependencies")
	c := rec.compare(t, "The same questions")
	release := readTrim("/proc/sys/kernel/osrelease")
	if !contains(c.Right.Lines, "kernel: "+release) || !contains(c.Left.Lines, "kernel: "+release) {
		t.Errorf("both sides should report the host's kernel %s:\n%q\n%q", release, c.Left.Lines, c.Right.Lines)
	}
}

func TestSharedKernel(t *testing.T) {
	rec := runDemo(t, "shared-kernel")
	// One view: uname on both sides, a blank line, then the sandbox's
	// processes as listed from its cgroup (as root, with cgroups).
	c := rec.compare(t, "uname -r; uname -v, then the sandbox's processes from its cgroup.procs")
	if len(c.Left.Lines) < 5 || len(c.Right.Lines) != len(c.Left.Lines) {
		t.Fatalf("want 2 uname lines, a blank and 2+ processes each side: %q | %q", c.Left.Lines, c.Right.Lines)
	}
	if strings.Join(c.Left.Lines[:2], "|") != strings.Join(c.Right.Lines[:2], "|") ||
		c.Left.Lines[0] != readTrim("/proc/sys/kernel/osrelease") {
		t.Errorf("uname inside differs from the host's: %q vs %q", c.Left.Lines[:2], c.Right.Lines[:2])
	}
	// Its init and the sleep it started, each a host process whose host
	// PID is not its PID inside, with NSpid listing both.
	hostProcs, boxProcs := c.Left.Lines[3:], c.Right.Lines[3:]
	if !strings.HasPrefix(boxProcs[0], "PID 1 ") || !strings.Contains(strings.Join(boxProcs, "\n"), "sleep 300") {
		t.Errorf("want PID 1 and the sleep inside: %q", boxProcs)
	}
	for i, l := range hostProcs {
		host := numberAfter(l, "PID ")
		inner := numberAfter(boxProcs[i], "PID ")
		if host <= 1 || host == inner || !strings.Contains(l, fmt.Sprintf("NSpid %d %d)", host, inner)) {
			t.Errorf("row %d: host %q, inside %q: want a host PID and NSpid listing both", i, l, boxProcs[i])
		}
	}
	// The cgroup's own charge is read and is more than nothing; on a
	// hybrid host an unlimited sandbox has no memory cgroup, which the
	// demo must say rather than show nothing.
	var mem, none string
	for _, e := range rec.Of(event.KindNarration) {
		if strings.Contains(e.Text, "charges it to the sandbox's cgroup") {
			mem = e.Text
		}
		if strings.Contains(e.Text, cgroup.UnjoinedWhy("memory")) {
			none = e.Text
		}
	}
	if h, err := cgroup.Detect(); err == nil && os.Geteuid() == 0 && h.Mode() == "hybrid" && h.Controllers()["memory"] == cgroup.V1 {
		if none == "" || mem != "" {
			t.Errorf("on this hybrid host the unlimited sandbox has no memory cgroup; the demo said %q / %q", mem, none)
		}
		return
	}
	n := numberAfter(mem, "memory.current = ")
	if n <= 0 {
		n = numberAfter(mem, "memory.usage_in_bytes = ")
	}
	if n <= 0 {
		t.Errorf("no memory read from the sandbox's cgroup: %q", mem)
	}
}

func TestCgroupLimits(t *testing.T) {
	rec := runDemo(t, "cgroup-limits")
	if len(rec.Of(event.KindOOM)) == 0 {
		t.Error("no OOM event: the 32M memory hog was not OOM-killed")
	}
	oom := false
	for _, e := range rec.Of(event.KindResult) {
		if e.Result != nil && e.Result.OOMKilled && e.Result.ExitCode == 137 {
			oom = true
		}
	}
	if !oom {
		t.Error("no result with exit 137 and OOMKilled")
	}
	if len(rec.Of(event.KindMetric)) == 0 {
		t.Error("no metric samples for the gauges")
	}
	pids := rec.compare(t, "The sandbox's cgroup")
	if !contains(pids.Left.Lines, "pids.max     = 20") {
		t.Errorf("pids.max should read 20: %q", pids.Left.Lines)
	}
	if !strings.Contains(strings.Join(pids.Left.Lines, "\n"), "host can still fork") {
		t.Errorf("the host could not fork: %q", pids.Left.Lines)
	}
	if n := numberAfter(strings.Join(pids.Left.Lines, " "), "max "); n <= 0 {
		t.Errorf("pids.events shows no refused fork: %q", pids.Left.Lines)
	}
	// The first pids.current was read while the bomb pressed on the
	// limit: more tasks than the init and the sleep the top shell became
	// (read after the bomb had burnt out, it shows 1 or 2).
	if n := numberAfter(strings.Join(pids.Left.Lines, " "), "pids.current"); n <= 3 {
		t.Errorf("pids.current at the first refused fork = %d, want the bomb's many: %q", n, pids.Left.Lines)
	}
	// A real fork bomb ran: the shell inside saw its forks refused.
	if !strings.Contains(strings.Join(pids.Right.Lines, "\n"), "can't fork") {
		t.Errorf("the fork bomb's shell saw no refused fork: %q", pids.Right.Lines)
	}
	cpu := rec.compare(t, "cpu.stat after")
	if n := numberAfter(strings.Join(cpu.Left.Lines, " "), "nr_throttled"); n <= 0 {
		t.Errorf("cpu.stat shows no throttling: %q", cpu.Left.Lines)
	}
}

func TestOverlayLayers(t *testing.T) {
	rec := runDemo(t, "overlay-layers")
	c := rec.compare(t, "What the sandbox did")
	got := strings.Join(c.Right.Lines, "\n")
	for _, want := range []string{"added     /hello.txt", "copied-up /app/config", "whiteout  /app/README"} {
		if !strings.Contains(got, want) {
			t.Errorf("the upper layer should show %q:\n%s", want, got)
		}
	}
}

func TestCapabilities(t *testing.T) {
	rec := runDemo(t, "capabilities")
	c := rec.compare(t, "CapEff")
	inside := strings.Join(c.Right.Lines, " ")
	if strings.Contains(inside, "cap_sys_admin") || !strings.Contains(inside, "cap_chown") {
		t.Errorf("the sandbox's capabilities are not the default set: %s", inside)
	}
	probe := strings.Join(rec.compare(t, "Writing to the image").Right.Lines, "\n")
	for _, want := range []string{"Read-only file system", "/proc/keys: 0 bytes"} {
		if !strings.Contains(probe, want) {
			t.Errorf("inside, want %q in:\n%s", want, probe)
		}
	}
	sc := rec.compare(t, "personality(ADDR_NO_RANDOMIZE)")
	free, filtered := strings.Join(sc.Left.Lines, "\n"), strings.Join(sc.Right.Lines, "\n")
	host, err := statusField(strconv.Itoa(os.Getpid()), "Seccomp")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(free, "Seccomp:\t"+host) || !strings.Contains(free, "00040000") {
		t.Errorf("unconfined, want this process's seccomp mode (%s) and the personality set:\n%s", host, free)
	}
	if !strings.Contains(filtered, "Seccomp:\t2") || !strings.Contains(filtered, "personality(0x40000):\n  Operation not permitted") {
		t.Errorf("under Docker's profile, want a filter and EPERM:\n%s", filtered)
	}
}

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

// numberAfter is the number that follows the first key in s, or -1.
func numberAfter(s, key string) int {
	i := strings.Index(s, key)
	if i < 0 {
		return -1
	}
	n, ok := -1, false
	for _, r := range strings.TrimLeft(s[i+len(key):], " =:") {
		if r < '0' || r > '9' {
			break
		}
		if !ok {
			n, ok = 0, true
		}
		n = n*10 + int(r-'0')
	}
	return n
}
