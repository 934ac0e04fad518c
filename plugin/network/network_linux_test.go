//go:build linux

package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// The tests use their own bridge and subnet so that they never meet a
// real kl-br0 (10.213.0.0/24) that a sandbox or another package's test
// may be using at the same time.
const testBridge = "kl-test-br"

var testSubnet = netip.MustParsePrefix("10.213.250.0/24")

func testConfig() Config { return Config{Bridge: testBridge, Subnet: testSubnet} }

func TestAllocate(t *testing.T) {
	s := netip.MustParsePrefix("10.1.2.0/30") // .0 network, .1 gateway, .2 the only host, .3 broadcast
	a, err := allocate(s, nil)
	if err != nil || a != netip.MustParseAddr("10.1.2.2") {
		t.Fatalf("allocate /30 = %v, %v", a, err)
	}
	if _, err := allocate(s, []Lease{{IP: a}}); err == nil || !strings.Contains(err.Error(), "full") {
		t.Errorf("allocate on a full /30: %v", err)
	}
	s = netip.MustParsePrefix("10.1.2.0/24")
	used := []Lease{{IP: netip.MustParseAddr("10.1.2.2")}, {IP: netip.MustParseAddr("10.1.2.4")}}
	if a, _ := allocate(s, used); a != netip.MustParseAddr("10.1.2.3") {
		t.Errorf("lowest free = %s, want 10.1.2.3", a)
	}
	if l := lastAddr(s); l != netip.MustParseAddr("10.1.2.255") {
		t.Errorf("lastAddr = %s", l)
	}
}

// recorder keeps the events a test's network steps emit, to check them
// and to show them when a test fails.
type recorder struct{ event.Recorder }

func (r *recorder) steps() []event.Event { return r.Of(event.KindStep) }

func (r *recorder) hasShell(prefix string) bool {
	for _, e := range r.steps() {
		if strings.HasPrefix(e.Shell, prefix) && e.OK() {
			return true
		}
	}
	return false
}

// lab is one root test's world: a journal, an event recorder, and the
// cleanup that leaves the host as it was even when the test fails.
type lab struct {
	t   *testing.T
	cfg Config
	j   *journal.Journal
	rec *recorder
}

// newLab skips without root and serialises this package's root tests
// across processes (two `go test` runs at once would share kl-test-br).
// Its cleanup, which runs after the test's own (which kill the sandbox
// processes), undoes the journal as `kcna-lab clean` does, prunes the
// test bridge and then checks that no kl- link of the test is left.
func newLab(t *testing.T) *lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a bridge, veth pairs and network namespaces")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		t.Skipf("no network namespaces on this kernel: %v", err)
	}
	if err := os.MkdirAll(stateDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	lf, err := os.OpenFile(filepath.Join(stateDir(), "kl-test.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(lf.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Create(t.TempDir(), "net-test")
	if err != nil {
		t.Fatal(err)
	}
	l := &lab{t: t, cfg: testConfig(), j: j, rec: &recorder{}}
	t.Cleanup(func() { lf.Close() })
	t.Cleanup(l.assertClean)
	t.Cleanup(func() {
		if err := Prune(testBridge, l.rec); err != nil {
			t.Errorf("Prune: %v", err)
		}
	})
	t.Cleanup(func() {
		if err := j.Rollback(undoLikeClean); err != nil {
			t.Errorf("journal rollback: %v", err)
		}
		if t.Failed() {
			for _, e := range l.rec.Events() {
				t.Logf("event %s %s | %s %s", e.Kind, e.Action+e.Text, e.Shell, e.Err)
			}
		}
	})
	return l
}

// undoLikeClean does for a Link entry what sandbox/clean_linux.go does:
// `ip link delete NAME` for a kl-/kcna- name that still exists.
func undoLikeClean(e journal.Entry) error {
	if e.Kind != journal.Link {
		return fmt.Errorf("unexpected journal entry %s", e)
	}
	if !strings.HasPrefix(e.Name, "kl-") && !strings.HasPrefix(e.Name, "kcna-") {
		return fmt.Errorf("refusing to delete link %s: not a kcna-lab name", e.Name)
	}
	if _, err := os.Stat("/sys/class/net/" + e.Name); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if out, err := exec.Command("ip", "link", "delete", e.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip link delete %s: %w: %s", e.Name, err, out)
	}
	return nil
}

// assertClean checks, with netlink and with `ip -o link`, that neither the
// test bridge nor any veth the test made (host end or temporary peer
// name) is left on the host. Other kl- links belong to whoever else runs
// sandboxes on this machine right now; they are listed, not failed.
func (l *lab) assertClean() {
	t := l.t
	ours := map[string]bool{testBridge: true, "kl-test-br2": true}
	for _, e := range l.j.Entries() {
		ours[e.Name] = true
		if i := strings.LastIndexByte(e.Name, '-'); i > 0 {
			ours["kl-c-"+e.Name[i+1:]] = true
		}
	}
	var left, others []string
	links, err := netlink.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Errorf("LinkList: %v", err)
	}
	for _, lk := range links {
		n := lk.Attrs().Name
		switch {
		case ours[n]:
			left = append(left, n)
		case strings.HasPrefix(n, "kl-") || strings.HasPrefix(n, "kcna-"):
			others = append(others, n)
		}
	}
	if out, err := exec.Command("ip", "-o", "link").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 {
				n, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
				if ours[n] && !contains(left, n) {
					left = append(left, n)
				}
			}
		}
	}
	if len(left) > 0 {
		t.Errorf("links left behind: %v", left)
	}
	if len(others) > 0 {
		t.Logf("other kl- links on the host (not this test's): %v", others)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// sandbox starts `sleep 60` in a new network namespace: a stand-in for a
// sandbox's init. It is killed when the test ends.
func (l *lab) sandbox() *exec.Cmd {
	return l.sandboxWith(&syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET})
}

// sandboxWith starts `sleep 60` with the given clone attributes.
func (l *lab) sandboxWith(attr *syscall.SysProcAttr) *exec.Cmd {
	t := l.t
	t.Helper()
	cmd := exec.Command("sleep", "60")
	attr.Pdeathsig = syscall.SIGKILL
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) {
			t.Skipf("cannot create a network namespace here: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// attach attaches a new sandbox called name.
func (l *lab) attach(name string) (*Endpoint, *exec.Cmd) {
	l.t.Helper()
	cmd := l.sandbox()
	ep, err := Attach(l.cfg, name, cmd.Process.Pid, l.j, l.rec)
	if err != nil {
		l.t.Fatalf("Attach %s: %v", name, err)
	}
	return ep, cmd
}

// listenIn listens on addr inside pid's network namespace and answers
// like upperServer, prefixing who answered.
func listenIn(t *testing.T, pid int, addr, who string) {
	t.Helper()
	var ln net.Listener
	if err := inNetns(pid, func() (err error) { ln, err = net.Listen("tcp4", addr); return err }); err != nil {
		t.Fatalf("listen on %s in the netns of %d: %v", addr, pid, err)
	}
	t.Cleanup(func() { ln.Close() })
	upperServer(ln, who+":")
}

// dialFrom connects to addr from inside pid's network namespace.
func dialFrom(pid int, addr string) (net.Conn, error) {
	var c net.Conn
	err := inNetns(pid, func() (err error) { c, err = net.DialTimeout("tcp4", addr, 3*time.Second); return err })
	return c, err
}

func linkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

func TestTwoSandboxesReachEachOther(t *testing.T) {
	l := newLab(t)
	a, ca := l.attach("alpha")
	b, cb := l.attach("beta")

	if a.IP == b.IP {
		t.Fatalf("both sandboxes got %s", a.IP)
	}
	for _, ep := range []*Endpoint{a, b} {
		if !testSubnet.Contains(ep.IP) || ep.IP == ep.Gateway || ep.Gateway != netip.MustParseAddr("10.213.250.1") {
			t.Errorf("%s: IP %s gateway %s, want a host of %s other than .1", ep.Name, ep.IP, ep.Gateway, testSubnet)
		}
		if !strings.HasPrefix(ep.HostVeth, "kl-") || len(ep.HostVeth) > 15 {
			t.Errorf("host veth name %q", ep.HostVeth)
		}
	}

	// What the kernel says inside alpha: lo and eth0 up, the address, the
	// default route via the bridge.
	h, err := handleAt(ca.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	eth, err := h.LinkByName("eth0")
	if err != nil {
		t.Fatalf("no eth0 in the sandbox: %v", err)
	}
	addrs, _ := h.AddrList(eth, netlink.FAMILY_V4)
	if len(addrs) != 1 || addrs[0].IPNet.String() != a.Prefix.String() {
		t.Errorf("eth0 addresses %v, want %s", addrs, a.Prefix)
	}
	lo, _ := h.LinkByName("lo")
	if lo == nil || lo.Attrs().Flags&net.FlagUp == 0 || eth.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("lo or eth0 not up")
	}
	routes, _ := h.RouteList(eth, netlink.FAMILY_V4)
	var defGW string
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			defGW = r.Gw.String()
		}
	}
	if defGW != a.Gateway.String() {
		t.Errorf("default route via %q, want %s (routes %v)", defGW, a.Gateway, routes)
	}

	// The bridge/veth map.
	infos, err := Links(testBridge)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 || infos[0].Name != testBridge || infos[0].Kind != "bridge" {
		t.Fatalf("Links = %+v", infos)
	}
	if len(infos[0].Addrs) == 0 || infos[0].Addrs[0] != netip.PrefixFrom(a.Gateway, 24) {
		t.Errorf("bridge addresses %v", infos[0].Addrs)
	}
	for _, li := range infos[1:] {
		want := map[string]*Endpoint{a.HostVeth: a, b.HostVeth: b}[li.Name]
		if want == nil || li.Kind != "veth" || li.Master != testBridge || li.Sandbox != want.Name ||
			li.PeerName != "eth0" || li.PeerNetnsID < 0 || li.PeerIndex == 0 || !li.Up ||
			len(li.PeerAddrs) == 0 || li.PeerAddrs[0] != want.Prefix {
			t.Errorf("Links entry %+v", li)
		}
	}

	// Both listen on the same port, each in its own namespace, and each
	// reaches the other by IP.
	listenIn(t, ca.Process.Pid, ":8080", "alpha")
	listenIn(t, cb.Process.Pid, ":8080", "beta")
	for _, tc := range []struct {
		from *exec.Cmd
		to   *Endpoint
	}{{ca, b}, {cb, a}} {
		c, err := dialFrom(tc.from.Process.Pid, netip.AddrPortFrom(tc.to.IP, 8080).String())
		if err != nil {
			t.Fatalf("dial %s:8080: %v", tc.to.IP, err)
		}
		got, err := roundTrip(c, "hi")
		if want := tc.to.Name + ":HI"; err != nil || got != want {
			t.Errorf("from pid %d to %s: %q, %v; want %q", tc.from.Process.Pid, tc.to.Name, got, err, want)
		}
	}
	// And ICMP, with busybox's ping, when it is there.
	if bb, err := exec.LookPath("busybox"); err == nil {
		out, err := exec.Command("nsenter", "--net="+netnsPath(ca.Process.Pid), bb, "ping", "-c", "1", "-W", "2", b.IP.String()).CombinedOutput()
		if err != nil {
			t.Errorf("ping %s from alpha: %v\n%s", b.IP, err, out)
		}
	}

	// Every netlink call was a step with its ip command.
	for _, want := range []string{
		"ip link add " + testBridge + " type bridge",
		"ip addr add 10.213.250.1/24 dev " + testBridge,
		"ip link add " + a.HostVeth + " type veth peer name kl-c-",
		"ip link set " + a.HostVeth + " master " + testBridge,
		"nsenter --net=" + netnsPath(ca.Process.Pid) + " ip link set kl-c-",
		"nsenter --net=" + netnsPath(ca.Process.Pid) + " ip route add default via 10.213.250.1 dev eth0",
		"bridge link show dev " + a.HostVeth,
	} {
		if !l.rec.hasShell(want) {
			t.Errorf("no successful step %q", want)
		}
	}

	// Detach one: its veth goes, the bridge stays for the other.
	if err := a.Detach(l.rec); err != nil {
		t.Fatal(err)
	}
	if linkExists(a.HostVeth) || !linkExists(testBridge) || !linkExists(b.HostVeth) {
		t.Errorf("after detaching alpha: %s %v, bridge %v, %s %v", a.HostVeth, linkExists(a.HostVeth), linkExists(testBridge), b.HostVeth, linkExists(b.HostVeth))
	}
	if _, err := h.LinkByName("eth0"); err == nil {
		t.Error("alpha's eth0 outlived the host end of its veth")
	}
	// Detach the last: the bridge goes too, and the lease file with it.
	if err := b.Detach(l.rec); err != nil {
		t.Fatal(err)
	}
	if linkExists(b.HostVeth) || linkExists(testBridge) {
		t.Errorf("after detaching the last sandbox: veth %v, bridge %v", linkExists(b.HostVeth), linkExists(testBridge))
	}
	if _, err := os.Stat(leasePath(testBridge)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lease file left: %v", err)
	}
	// Twice is harmless.
	if err := b.Detach(nil); err != nil {
		t.Errorf("second Detach: %v", err)
	}
}

// TestAttachUserNamespace attaches a sandbox whose network namespace
// belongs to its own user namespace, as kcna-lab's sandboxes' do by
// default: host root still configures it from outside.
func TestAttachUserNamespace(t *testing.T) {
	l := newLab(t)
	cmd := l.sandboxWith(&syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 100000, Size: 1}},
	})
	ep, err := Attach(l.cfg, "userns", cmd.Process.Pid, l.j, l.rec)
	if err != nil {
		t.Fatalf("Attach into a user-namespaced netns: %v", err)
	}
	listenIn(t, cmd.Process.Pid, ":8080", "userns")
	// The host reaches it through the bridge.
	c, err := net.DialTimeout("tcp4", netip.AddrPortFrom(ep.IP, 8080).String(), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(c, "hi"); err != nil || got != "userns:HI" {
		t.Errorf("host -> %s:8080 = %q, %v", ep.IP, got, err)
	}
	if err := ep.Detach(l.rec); err != nil {
		t.Error(err)
	}
}

func TestConcurrentAttach(t *testing.T) {
	l := newLab(t)
	const n = 6
	pids := make([]int, n)
	for i := range pids {
		pids[i] = l.sandbox().Process.Pid
	}
	eps := make([]*Endpoint, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			eps[i], errs[i] = Attach(l.cfg, "s"+strconv.Itoa(i), pids[i], l.j, l.rec)
		}()
	}
	wg.Wait()
	seen := map[netip.Addr]string{}
	for i, ep := range eps {
		if errs[i] != nil {
			t.Fatalf("Attach s%d: %v", i, errs[i])
		}
		if other, dup := seen[ep.IP]; dup {
			t.Errorf("%s and %s both got %s", other, ep.Name, ep.IP)
		}
		seen[ep.IP] = ep.Name
	}
	leases, err := Leases(testBridge)
	if err != nil || len(leases) != n {
		t.Errorf("Leases = %d, %v; want %d", len(leases), err, n)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = eps[i].Detach(l.rec)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Detach s%d: %v", i, err)
		}
	}
	if linkExists(testBridge) {
		t.Error("bridge left after every sandbox detached")
	}
}

func TestPublishToSandbox(t *testing.T) {
	l := newLab(t)
	ep, cmd := l.attach("web")
	listenIn(t, cmd.Process.Pid, ":80", "web")
	port := freePort(t)
	p, err := Publish(port, netip.AddrPortFrom(ep.IP, 80), l.rec)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := roundTrip(c, "get /"); err != nil || got != "web:GET /" {
		t.Errorf("127.0.0.1:%d -> %s:80 = %q, %v", port, ep.IP, got, err)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
	if err := ep.Detach(l.rec); err != nil {
		t.Error(err)
	}
}

func TestServeDNSInSandbox(t *testing.T) {
	l := newLab(t)
	a, ca := l.attach("client")
	b, cb := l.attach("web")

	// The real wiring: answers come from the IPAM's leases.
	srv, err := ServeDNS(ca.Process.Pid, Lookup(testBridge))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	server := DNSAddr.String()
	ask := func(network, name string, qtype uint16) (r *dns.Msg, err error) {
		err2 := inNetns(ca.Process.Pid, func() error {
			r, err = query(t, network, server, name, qtype)
			return nil
		})
		return r, errors.Join(err, err2)
	}
	for _, nw := range []string{"udp", "tcp"} {
		r, err := ask(nw, "web.kcna.local.", dns.TypeA)
		if err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != b.IP.String() {
			t.Fatalf("%s web.kcna.local from inside client: %v, %v", nw, r, err)
		}
	}
	// The server is in the sandbox's namespace, not the host's.
	if _, err := query(t, "udp", server, "web.kcna.local.", dns.TypeA); err == nil {
		t.Error("127.0.0.11:53 answers in the host's namespace too")
	}
	// A real resolver, through the search domain in ResolvConf's spirit.
	if bb, err := exec.LookPath("busybox"); err == nil {
		out, err := exec.Command("nsenter", "--net="+netnsPath(ca.Process.Pid), bb, "nslookup", "web.kcna.local", "127.0.0.11").CombinedOutput()
		if err != nil || !strings.Contains(string(out), b.IP.String()) {
			t.Errorf("busybox nslookup web.kcna.local: %v\n%s", err, out)
		}
	}
	// The sandbox stops: its name stops resolving at once, before anyone
	// detaches it, because its lease's process is gone.
	_ = cb.Process.Kill()
	_ = cb.Wait()
	if r, err := ask("udp", "web.kcna.local.", dns.TypeA); err != nil || r.Rcode != dns.RcodeNameError {
		t.Errorf("web.kcna.local after web stopped: %v, %v; want NXDOMAIN", r, err)
	}
	if r, err := ask("udp", "client.kcna.local.", dns.TypeA); err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != a.IP.String() {
		t.Errorf("client.kcna.local: %v, %v", r, err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}

	// The full set of answers, with a lookup the test controls.
	n := &names{m: map[string]netip.Addr{"web": b.IP}}
	srv2, err := ServeDNS(ca.Process.Pid, n.lookup)
	if err != nil {
		t.Fatalf("ServeDNS again after Close (port 53 must be free again): %v", err)
	}
	defer srv2.Close()
	checkAnswers(t, ask, n, b.IP)
	if err := srv2.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := ask("udp", "client.kcna.local.", dns.TypeA); err == nil {
		t.Error("answers after Close")
	}
	for _, ep := range []*Endpoint{a, b} {
		if err := ep.Detach(l.rec); err != nil {
			t.Error(err)
		}
	}
}

func TestDeadSandboxLeaseIsReclaimed(t *testing.T) {
	l := newLab(t)
	a, ca := l.attach("first")
	_ = ca.Process.Kill()
	_ = ca.Wait()
	// The kernel tears the dead namespace (and with it the veth pair)
	// down in the background; the lease is free at once either way.
	b, _ := l.attach("second")
	if b.IP != a.IP {
		t.Errorf("second got %s, want the dead sandbox's %s back", b.IP, a.IP)
	}
	// The late Detach of the dead one must not touch the new lease.
	if err := a.Detach(l.rec); err != nil {
		t.Errorf("Detach of a dead sandbox: %v", err)
	}
	leases, _ := Leases(testBridge)
	if len(leases) != 1 || leases[0].Name != "second" {
		t.Errorf("leases after the late Detach: %+v", leases)
	}
	if !linkExists(b.HostVeth) || !linkExists(testBridge) {
		t.Error("the late Detach removed the live sandbox's veth or the bridge")
	}
	if err := b.Detach(l.rec); err != nil {
		t.Error(err)
	}
}

func TestAttachRefuses(t *testing.T) {
	l := newLab(t)
	// A process in the host's namespace: Attach must not rewire the host.
	if _, err := Attach(l.cfg, "host", os.Getpid(), l.j, l.rec); err == nil || !strings.Contains(err.Error(), "shares the host's network namespace") {
		t.Errorf("Attach of the test process itself: %v", err)
	}
	if linkExists(testBridge) {
		t.Error("refused Attach still made the bridge")
	}
	if _, err := Attach(l.cfg, "Bad_Name", l.sandbox().Process.Pid, l.j, l.rec); err == nil {
		t.Error("Attach accepted a name that is no DNS label")
	}
	if _, err := Attach(l.cfg, "x", l.sandbox().Process.Pid, nil, l.rec); err == nil {
		t.Error("Attach without a journal")
	}

	a, _ := l.attach("one")
	// The same name twice.
	if _, err := Attach(l.cfg, "one", l.sandbox().Process.Pid, l.j, l.rec); err == nil || !strings.Contains(err.Error(), "already attached") {
		t.Errorf("second sandbox called one: %v", err)
	}
	// The same bridge with another subnet.
	other := Config{Bridge: testBridge, Subnet: netip.MustParsePrefix("10.213.251.0/24")}
	if _, err := Attach(other, "two", l.sandbox().Process.Pid, l.j, l.rec); err == nil || !strings.Contains(err.Error(), "in use with subnet") {
		t.Errorf("other subnet on the same bridge: %v", err)
	}
	// Another bridge whose subnet overlaps a route the host has (ours).
	clash := Config{Bridge: "kl-test-br2", Subnet: netip.MustParsePrefix("10.213.250.128/25")}
	_, err := Attach(clash, "three", l.sandbox().Process.Pid, l.j, l.rec)
	if err == nil || !strings.Contains(err.Error(), "overlaps 10.213.250.0/24") || !strings.Contains(err.Error(), "--subnet, e.g. 10.213.") {
		t.Errorf("overlapping subnet: %v", err)
	}
	if linkExists("kl-test-br2") {
		t.Error("refused Attach left kl-test-br2")
	}
	// The refusals left only one's lease and one's veth.
	if leases, _ := Leases(testBridge); len(leases) != 1 {
		t.Errorf("leases after refusals: %+v", leases)
	}
	if ports, _ := bridgePorts(mustLink(t, testBridge), event.Discard); len(ports) != 1 || ports[0] != a.HostVeth {
		t.Errorf("bridge ports after refusals: %v", ports)
	}
	if err := a.Detach(l.rec); err != nil {
		t.Error(err)
	}
}

func mustLink(t *testing.T, name string) netlink.Link {
	t.Helper()
	lk, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

// TestJournalAndPrune is the crash path: nobody calls Detach, `kcna-lab
// clean` undoes the journal (ip link delete of the host veth), and Prune
// removes the bridge the crash left.
func TestJournalAndPrune(t *testing.T) {
	l := newLab(t)
	a, ca := l.attach("crashy")
	var entry *journal.Entry
	for _, e := range l.j.Entries() {
		if e.Kind == journal.Link && e.Name == a.HostVeth {
			entry = &e
		}
	}
	if entry == nil || entry.Shell != "ip link delete "+a.HostVeth {
		t.Fatalf("journal has no Link entry for %s: %+v", a.HostVeth, l.j.Entries())
	}
	if err := undoLikeClean(*entry); err != nil {
		t.Fatal(err)
	}
	h, err := handleAt(ca.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.LinkByName("eth0"); err == nil {
		t.Error("eth0 still in the sandbox after its host end was deleted")
	}
	// The process still runs, so its lease stands, but nothing is plugged
	// into the bridge any more: Prune removes it.
	if err := Prune(testBridge, l.rec); err != nil {
		t.Fatal(err)
	}
	if linkExists(testBridge) {
		t.Error("Prune left an empty bridge")
	}
}
