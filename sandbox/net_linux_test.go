//go:build linux

package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/network"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// A bridge and subnet of the tests' own, so that a learner's kl-br0, or
// another package's tests, are never touched.
const (
	testBridge = "kl-t-sandbox"
	testPort   = 18093
)

var testSubnet = netip.MustParsePrefix("10.213.61.0/24")

// webServer is a sandbox on the test bridge serving its own hostname on
// port 80, the same port in every such sandbox.
func webServer(t *testing.T, name string, publish ...network.PortMapping) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{
		Name: name,
		Args: []string{"sh", "-c", "mkdir /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www"},
		Net:  &sandbox.Net{Bridge: testBridge, Subnet: testSubnet, Publish: publish},
	}, event.Discard)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() { stopSandbox(sb) })
	waitListening(t, sb.PID(), 80)
	return sb
}

func stopSandbox(sb *sandbox.Sandbox) {
	_ = sb.Signal(syscall.SIGTERM)
	_, _ = sb.Wait()
}

// TestBridgeReachNamesAndPublish is the networking lesson's whole claim,
// read from the kernel: two sandboxes on one bridge have their own network
// namespaces and addresses, both listen on port 80, reach each other by
// address and by name, and one is published on the host's loopback. When
// one stops, its name stops resolving; when both have, nothing is left.
func TestBridgeReachNamesAndPublish(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	srv := webServer(t, "kt-srv", network.PortMapping{HostPort: testPort, ContainerPort: 80})
	cli := webServer(t, "kt-cli")

	// Own network namespaces, so the same port twice.
	srvNS, err := sandbox.NamespaceInode(srv.PID(), sandbox.NSNet)
	if err != nil {
		t.Fatal(err)
	}
	cliNS, _ := sandbox.NamespaceInode(cli.PID(), sandbox.NSNet)
	hostNS, _ := sandbox.NamespaceInode(os.Getpid(), sandbox.NSNet)
	if srvNS == cliNS || srvNS == hostNS || cliNS == hostNS {
		t.Fatalf("net namespaces: server %s, client %s, host %s; want three different", srvNS, cliNS, hostNS)
	}

	// eth0's address, as the kernel inside reports it, is the one in state.
	st, err := sandbox.Find("kt-srv")
	if err != nil || st.Net == nil {
		t.Fatalf("state of kt-srv: %+v, %v", st, err)
	}
	if !testSubnet.Contains(st.Net.IP) {
		t.Fatalf("kt-srv has %s, outside %s", st.Net.IP, testSubnet)
	}
	addr := execOut(t, "kt-srv", "ip", "-o", "-4", "addr", "show", "eth0")
	if !strings.Contains(addr, st.Net.IP.String()+"/24") {
		t.Fatalf("eth0 inside kt-srv: %q, want %s/24", addr, st.Net.IP)
	}
	route := execOut(t, "kt-cli", "ip", "route")
	if gw := testSubnet.Addr().Next(); !strings.Contains(route, "default via "+gw.String()) {
		t.Errorf("kt-cli's routes %q: want a default route via the bridge, %s", route, gw)
	}
	if _, err := os.Stat("/sys/class/net/" + testBridge + "/bridge"); err != nil {
		t.Errorf("bridge %s: %v", testBridge, err)
	}

	// By address and by name, across the bridge.
	if got := strings.TrimSpace(execOut(t, "kt-cli", "wget", "-qO-", "http://"+st.Net.IP.String()+"/")); got != "kt-srv" {
		t.Errorf("kt-cli fetching %s got %q, want kt-srv", st.Net.IP, got)
	}
	if got := strings.TrimSpace(execOut(t, "kt-cli", "wget", "-qO-", "http://kt-srv/")); got != "kt-srv" {
		t.Errorf("kt-cli fetching http://kt-srv/ (search kcna.local) got %q, want kt-srv", got)
	}
	resolv := execOut(t, "kt-cli", "cat", "/etc/resolv.conf")
	if !strings.Contains(resolv, "nameserver 127.0.0.11") {
		t.Errorf("kt-cli's /etc/resolv.conf: %q", resolv)
	}

	// Published on the host's loopback.
	body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d/", testPort))
	if strings.TrimSpace(body) != "kt-srv" {
		t.Errorf("127.0.0.1:%d answered %q, want kt-srv", testPort, body)
	}

	// A stopped sandbox's name is gone at once.
	stopSandbox(srv)
	out, _, err := sandbox.ExecOutput(context.Background(), "kt-cli", "nslookup", "kt-srv.kcna.local", "127.0.0.11")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "NXDOMAIN") && !strings.Contains(out, "can't find") {
		t.Errorf("after kt-srv stopped, nslookup said %q; want NXDOMAIN", out)
	}
	if _, err := os.Stat("/sys/class/net/" + testBridge); err != nil {
		t.Errorf("the bridge went while kt-cli still uses it: %v", err)
	}
	stopSandbox(cli)
	if _, err := os.Stat("/sys/class/net/" + testBridge); err == nil {
		t.Errorf("bridge %s left after its last sandbox stopped", testBridge)
	}
}

// TestVolumeOutlivesTheSandboxAndIsShared: a file in a volume stays on the
// host after the sandbox ends, owned by the sandbox's root as the host
// sees it; one in the writable layer goes with it; two running sandboxes
// with one volume see each other's writes.
func TestVolumeOutlivesTheSandboxAndIsShared(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	vol := hostDir(t)

	res, _ := run(t, sandbox.Spec{
		Name:    "kt-vol",
		Args:    []string{"sh", "-c", "echo kept > /data/kept && echo lost > /lost"},
		Overlay: true,
		Volumes: []sandbox.Volume{{Host: vol, Target: "/data"}},
	})
	if res.ExitCode != 0 {
		t.Fatalf("writer exited %d", res.ExitCode)
	}
	b, err := os.ReadFile(filepath.Join(vol, "kept"))
	if err != nil || string(b) != "kept\n" {
		t.Fatalf("the volume's file after the sandbox ended: %q, %v", b, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(vol, "kept"), &st); err != nil {
		t.Fatal(err)
	}
	if want := sandbox.VolumeWriter(vol); int(st.Uid) != want {
		t.Errorf("the file is owned by uid %d on the host; root in the sandbox should write it as %d", st.Uid, want)
	}
	// The writable layer was in the sandbox's state dir, which is gone
	// (leaveNoTrace checks), and never in the shared root filesystem.
	if cache, err := sandbox.CacheDir(); err == nil {
		if matches, _ := filepath.Glob(filepath.Join(cache, "*", "lost")); len(matches) > 0 {
			t.Errorf("the writable layer's file reached the shared root filesystem: %v", matches)
		}
	}

	// Shared, live.
	for _, name := range []string{"kt-writer", "kt-reader"} {
		sb, err := sandbox.Start(context.Background(), sandbox.Spec{Name: name, Hold: true, Volumes: []sandbox.Volume{{Host: vol, Target: "/shared"}}}, event.Discard)
		if err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() { stopSandbox(sb) })
	}
	execOut(t, "kt-writer", "sh", "-c", "echo from-writer > /shared/note")
	if got := strings.TrimSpace(execOut(t, "kt-reader", "cat", "/shared/note")); got != "from-writer" {
		t.Errorf("kt-reader read %q from the shared volume, want from-writer", got)
	}
}

func hasUserNS() bool {
	for _, n := range sandbox.DefaultIsolation() {
		if n == sandbox.NSUser {
			return true
		}
	}
	return false
}

// hostDir is a temporary host directory the sandbox's root (uid 100000 on
// the host) can enter: t.TempDir's parents are 0700.
func hostDir(t *testing.T) string { return sharedDir(t, "kcna-test-vol-", 0o777) }

// sharedDir is a directory under /var/tmp with mode, removed after the
// test: t.TempDir is private to root, and a sandbox's root user is
// another uid on the host.
func sharedDir(t *testing.T, prefix string, mode os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// execOut runs a command in a running sandbox and returns its output.
func execOut(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, res, err := sandbox.ExecOutput(ctx, name, args...)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("exec %s %v: exit %d, %v: %s", name, args, res.ExitCode, err, out)
	}
	return out
}

// waitListening waits until pid's network namespace has a TCP listener on
// port, read from /proc/PID/net/tcp and tcp6 (which show that namespace's
// sockets; busybox httpd listens on [::], which takes IPv4 too).
func waitListening(t *testing.T, pid, port int) {
	t.Helper()
	want := fmt.Sprintf(":%04X", port)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, table := range []string{"tcp", "tcp6"} {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				if len(f) > 3 && strings.HasSuffix(f[1], want) && f[3] == "0A" {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on port %d in the network namespace of pid %d", port, pid)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVolumeUnderAPrivateDirectory: a volume whose parent the sandbox's
// root (uid 100000 on the host) may not enter, like a 0700 or 0750 home,
// still mounts: the parent clones the mount tree with open_tree and the
// init attaches it with move_mount, so no one walks the path as the
// sandbox's root. Read-only stays read-only.
func TestVolumeUnderAPrivateDirectory(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	private, err := os.MkdirTemp("/var/tmp", "kcna-test-home-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(private) })
	if err := os.Chmod(private, 0o700); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(private, "data")
	if err := os.Mkdir(data, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o777); err != nil {
		t.Fatal(err)
	}
	res, rec := run(t, sandbox.Spec{Args: []string{"sh", "-c", "echo kept > /data/f && cat /data/f"}, Volumes: []sandbox.Volume{{Host: data, Target: "/data"}}})
	if res.ExitCode != 0 || strings.TrimSpace(rec.output()) != "kept" {
		t.Fatalf("writing a volume under a 0700 directory: exit %d, %q", res.ExitCode, rec.output())
	}
	if b, err := os.ReadFile(filepath.Join(data, "f")); err != nil || string(b) != "kept\n" {
		t.Fatalf("on the host: %q, %v", b, err)
	}
	res, rec = run(t, sandbox.Spec{Args: []string{"sh", "-c", "cat /data/f && echo no > /data/g"}, Volumes: []sandbox.Volume{{Host: data, Target: "/data", ReadOnly: true}}})
	if res.ExitCode == 0 || !strings.Contains(rec.output(), "kept") || !strings.Contains(rec.output(), "Read-only") {
		t.Errorf("a read-only volume: exit %d, %q; want it readable and writes refused", res.ExitCode, rec.output())
	}
}

// TestVolumeIsIdmappedToTheInvokingUser: as root under sudo, a volume's
// files are the learner's on the host and root's inside, both ways, as
// the kernel reports owners (stat on the host, ls -ln inside) and marks
// the mount (idmapped, in the sandbox's mountinfo).
func TestVolumeIsIdmappedToTheInvokingUser(t *testing.T) {
	needRoot(t)
	if !hasUserNS() {
		t.Skip("no user namespace here: root inside is the host's root, nothing to map")
	}
	leaveNoTrace(t)
	vol := sharedDir(t, "kcna-test-idmap-", 0o755)
	if err := sandbox.IdmapProblem(vol); err != nil {
		t.Skipf("%s cannot be idmapped here: %v", vol, err)
	}
	const learner = 4242
	if err := os.Chown(vol, learner, learner); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "mine"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(vol, "mine"), learner, learner); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SUDO_UID", strconv.Itoa(learner))
	t.Setenv("SUDO_GID", strconv.Itoa(learner))
	res, rec := run(t, sandbox.Spec{
		Args:    []string{"sh", "-c", "ls -ln /data/mine; echo x > /data/new; grep ' /data ' /proc/self/mountinfo"},
		Volumes: []sandbox.Volume{{Host: vol, Target: "/data"}},
	})
	out := rec.output()
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, out)
	}
	if f := strings.Fields(out); len(f) < 4 || f[2] != "0" || f[3] != "0" {
		t.Errorf("inside, the learner's file should be root's: %q", out)
	}
	if !strings.Contains(out, "idmapped") {
		t.Errorf("the sandbox's mountinfo does not mark /data idmapped: %q", out)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(vol, "new"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != learner || st.Gid != learner {
		t.Errorf("the file root wrote inside is %d:%d on the host, want the learner's %d:%d", st.Uid, st.Gid, learner, learner)
	}
	if !strings.Contains(out, "nosuid") {
		t.Errorf("the idmapped volume is not nosuid: %q", out)
	}

	// Root itself, not under sudo: the host's root is never mapped in,
	// or the sandbox could make set-uid-root files in the volume.
	t.Setenv("SUDO_UID", "")
	t.Setenv("SUDO_GID", "")
	if err := os.Chmod(vol, 0o777); err != nil {
		t.Fatal(err)
	}
	res, rec = run(t, sandbox.Spec{
		Args:    []string{"sh", "-c", "echo x > /data/asroot; grep ' /data ' /proc/self/mountinfo"},
		Volumes: []sandbox.Volume{{Host: vol, Target: "/data"}},
	})
	if out := rec.output(); res.ExitCode != 0 || strings.Contains(out, "idmapped") {
		t.Errorf("as root without sudo the volume must not be idmapped: exit %d, %q", res.ExitCode, out)
	}
	if err := syscall.Stat(filepath.Join(vol, "asroot"), &st); err != nil || st.Uid != sandbox.RootMapBase {
		t.Errorf("as root without sudo, root inside wrote as uid %d (%v); want %d", st.Uid, err, sandbox.RootMapBase)
	}
}

// TestVolumeNotIdmappableIsSaidBeforeTheStart: sysfs cannot be idmapped;
// the learner is warned, with the fix, and the sandbox still runs.
func TestVolumeNotIdmappableIsSaidBeforeTheStart(t *testing.T) {
	needRoot(t)
	if !hasUserNS() {
		t.Skip("no user namespace here: nothing is idmapped")
	}
	leaveNoTrace(t)
	t.Setenv("SUDO_UID", "4242")
	t.Setenv("SUDO_GID", "4242")
	res, rec := run(t, sandbox.Spec{
		Args:    []string{"ls", "/x"},
		Volumes: []sandbox.Volume{{Host: "/sys/kernel/mm", Target: "/x", ReadOnly: true}},
	})
	warnings := rec.Of(event.KindWarning)
	if len(warnings) != 1 || !strings.Contains(warnings[0].Text, "is not idmapped") || !strings.Contains(warnings[0].Text, "Fix:") {
		t.Errorf("warnings %+v; want one saying the volume is not idmapped, and the fix", warnings)
	}
	if res.ExitCode != 0 {
		t.Errorf("the sandbox did not run: exit %d, %q", res.ExitCode, rec.output())
	}
}
