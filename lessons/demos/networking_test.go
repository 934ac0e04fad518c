//go:build linux

package demos

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/plugin/network"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Part 2's demo tests check the kernel while the demo runs: a probe
// sink calls a function when a view with a given title arrives, and the
// demo waits for it (Emit is synchronous), so the state it looks at is the
// state the view describes.

// probe records events and runs a check when a Compare's title starts
// with one of its keys.
type probe struct {
	recorder
	at map[string]func(event.Compare)
}

func (p *probe) Emit(e event.Event) {
	p.recorder.Emit(e)
	if e.Kind != event.KindCompare {
		return
	}
	for prefix, fn := range p.at {
		if strings.HasPrefix(e.Compare.Title, prefix) {
			fn(*e.Compare)
		}
	}
}

// runProbed runs a registered demo with checks at named views, failing
// the test if a view never came.
func runProbed(t *testing.T, id string, at map[string]func(event.Compare)) *probe {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: demos create namespaces, mounts, cgroups and links (CI runs as root)")
	}
	d, ok := Builtin().Demo(id)
	if !ok {
		t.Fatalf("demo %s is not registered", id)
	}
	if why := d.Blocked(sandbox.Doctor()); why != "" {
		t.Skipf("this host cannot run %s: %s", id, why)
	}
	seen := map[string]bool{}
	p := &probe{at: map[string]func(event.Compare){}}
	for prefix, fn := range at {
		p.at[prefix] = func(c event.Compare) { seen[prefix] = true; fn(c) }
	}
	if err := d.Run(context.Background(), p); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	for _, e := range p.Of(event.KindStep) {
		if !e.OK() {
			t.Errorf("%s: step %s failed: %s", id, e.Action, e.Err)
		}
	}
	for prefix := range at {
		if !seen[prefix] {
			t.Errorf("%s showed no view titled %q", id, prefix)
		}
	}
	return p
}

// needRoot skips a test that makes sandboxes when not root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root)")
	}
}

// stopNamed ends the named sandboxes if they run, whoever started them,
// and waits until they are gone: challenge tests use the names learners
// type, which a crashed earlier run may have left.
func stopNamed(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		st, err := sandbox.Find(name)
		if err != nil {
			continue
		}
		_ = syscall.Kill(st.InitPID, syscall.SIGTERM)
		deadline := time.Now().Add(10 * time.Second)
		for st.Running() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if st.Running() {
			_ = syscall.Kill(st.InitPID, syscall.SIGKILL)
		}
	}
	waitGone(t, names...)
}

// waitGone waits for the state dirs of the named sandboxes to be removed
// by whoever ran them.
func waitGone(t *testing.T, names ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, name := range names {
		dir := filepath.Join(sandbox.StateDir(), "sandboxes", name)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(dir); os.IsNotExist(err) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// leaveNoTrace clears the named sandboxes now and, when the test ends,
// stops them and asserts that nothing of theirs is left: state dirs,
// cgroups, and the veths the test recorded in *veths.
func leaveNoTrace(t *testing.T, veths *[]string, names ...string) {
	t.Helper()
	needRoot(t)
	stopNamed(t, names...)
	t.Cleanup(func() {
		stopNamed(t, names...)
		for _, name := range names {
			_ = os.Remove(sandbox.LogPath(name)) // a background sandbox's log outlives it
			if _, err := os.Stat(filepath.Join(sandbox.StateDir(), "sandboxes", name)); err == nil {
				t.Errorf("sandbox %s left its state dir", name)
			}
			for _, pattern := range []string{"/sys/fs/cgroup/kcna-lab/kcna-" + name, "/sys/fs/cgroup/*/kcna-lab/kcna-" + name} {
				if m, _ := filepath.Glob(pattern); len(m) > 0 {
					t.Errorf("sandbox %s left cgroups %v", name, m)
				}
			}
		}
		if veths != nil {
			for _, v := range *veths {
				if _, err := os.Stat("/sys/class/net/" + v); err == nil {
					t.Errorf("veth %s is still on the host", v)
				}
			}
		}
	})
}

// vethsOf records the host ends of the running sandboxes' veths.
func vethsOf(t *testing.T, names ...string) []string {
	t.Helper()
	links, err := network.Links("")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		if l.Master != "" && slices.Contains(names, l.Sandbox) {
			out = append(out, l.Name)
		}
	}
	return out
}

// listensOn reports whether pid's network namespace listens on port.
func listensOn(t *testing.T, pid, port int) bool {
	t.Helper()
	ls, err := listeners(pid)
	if err != nil {
		t.Fatal(err)
	}
	return len(listenersOn(ls, port)) > 0
}

// labBin builds kcna-lab for the setups and the mesh's sidecars (the test
// binary is no kcna-lab) into a directory the sandbox's root may enter,
// and points sandbox.LabProgramEnv at it.
func labBin(t *testing.T) string {
	t.Helper()
	needRoot(t)
	dir, err := os.MkdirTemp("/var/tmp", "kcna-test-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := testbuild.Lab(t, dir)
	t.Setenv(sandbox.LabProgramEnv, bin)
	return bin
}

// labRun runs the built kcna-lab as a learner would.
func labRun(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(os.Getenv(sandbox.LabProgramEnv), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kcna-lab %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// eventually polls a check until its verdict's detail holds want, and
// returns the last verdict.
func eventually(t *testing.T, id string, passed bool, want string, within time.Duration) Verdict {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := verify(t, id)
		if (v.Passed == passed && strings.Contains(v.Detail, want)) || time.Now().After(deadline) {
			if v.Passed != passed || !strings.Contains(v.Detail, want) {
				t.Errorf("check %s: passed=%v %q; want passed=%v and %q", id, v.Passed, v.Detail, passed, want)
			}
			return v
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestBridgeNetworkDemo(t *testing.T) {
	a, b := demoName("net-a"), demoName("net-b")
	var veths []string
	leaveNoTrace(t, &veths, a, b)
	runProbed(t, "bridge-network", map[string]func(event.Compare){
		"The bridge map": func(event.Compare) {
			links, err := network.Links("")
			if err != nil {
				t.Fatal(err)
			}
			var pids []int
			for _, l := range links {
				if l.Sandbox != a && l.Sandbox != b {
					continue
				}
				veths = append(veths, l.Name)
				pids = append(pids, l.PID)
				if l.Kind != "veth" || l.Master != network.DefaultBridge || l.PeerName != "eth0" || len(l.PeerAddrs) == 0 || !network.DefaultSubnet.Contains(l.PeerAddrs[0].Addr()) {
					t.Errorf("netlink: %+v; want a veth on %s whose peer is eth0 with an address in %s", l, network.DefaultBridge, network.DefaultSubnet)
				}
			}
			if len(pids) != 2 {
				t.Fatalf("netlink shows %d veths for %s and %s, want 2", len(pids), a, b)
			}
			nsA, _ := sandbox.NamespaceInode(pids[0], sandbox.NSNet)
			nsB, _ := sandbox.NamespaceInode(pids[1], sandbox.NSNet)
			if nsA == nsB {
				t.Errorf("both sandboxes are in network namespace %s", nsA)
			}
			for _, pid := range pids {
				if !listensOn(t, pid, webPort) {
					t.Errorf("/proc/%d/net/tcp{,6}: nothing listens on %d", pid, webPort)
				}
			}
		},
		"Published:": func(c event.Compare) {
			var port int
			if _, err := fmt.Sscanf(c.Title, "Published: 127.0.0.1:%d", &port); err != nil {
				t.Fatalf("title %q: %v", c.Title, err)
			}
			body, err := httpGet(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/", port))
			if err != nil || strings.TrimSpace(body) != a {
				t.Errorf("GET 127.0.0.1:%d from the test: %q, %v; want %s's hostname", port, body, err, a)
			}
		},
	})
	for _, v := range veths {
		if _, err := os.Stat("/sys/class/net/" + v); err == nil {
			t.Errorf("veth %s outlived the demo", v)
		}
	}
	leases, _ := network.Leases("")
	for _, l := range leases {
		if l.Name == a || l.Name == b {
			t.Errorf("lease %+v outlived the demo", l)
		}
	}
}

func TestCheckSamePort(t *testing.T) {
	leaveNoTrace(t, nil, "a", "b")
	wantVerdict(t, "same-port", false, "no sandbox called a")
	start(t, sandbox.Spec{Name: "a"})
	start(t, sandbox.Spec{Name: "b"})
	wantVerdict(t, "same-port", false, "nothing in sandbox a's network namespace")
	for _, name := range []string{"a", "b"} {
		execIn(t, name, "httpd -p 8080 -h /etc")
	}
	wantVerdict(t, "same-port", true, "both listen on TCP 8080")
}

func TestCheckPublishPort(t *testing.T) {
	var veths []string
	leaveNoTrace(t, &veths, "web")
	wantVerdict(t, "publish-port", false, "no sandbox called web")
	stop := start(t, sandbox.Spec{Name: "web", Net: &sandbox.Net{}})
	veths = append(veths, vethsOf(t, "web")...)
	wantVerdict(t, "publish-port", false, "publishes no host port 8080")
	stop()

	start(t, sandbox.Spec{Name: "web", Net: &sandbox.Net{Publish: []sandbox.PortMapping{{HostPort: 8080, ContainerPort: 80}}}})
	veths = append(veths, vethsOf(t, "web")...)
	wantVerdict(t, "publish-port", false, "nothing inside web listens on port 80")
	execIn(t, "web", "httpd -p 80 -h /etc")
	wantVerdict(t, "publish-port", true, "GET http://127.0.0.1:8080/ answered")
}
