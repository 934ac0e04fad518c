package demos

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/sandbox"
	// Importing the network engine registers it as the sandbox's network
	// plugin, which Spec.Net needs.
	"github.com/kcna-lab/kcna-lab/plugin/network"
)

// Lesson 10, networking: two sandboxes on kcna-lab's bridge, each with
// its own network namespace, address and port 8080, one published on the
// host's loopback.

// listening is netstat -ltn inside a sandbox, cut to the listening
// addresses so that it fits a column.
const listening = `netstat -ltn | awk '/LISTEN/ { print "netstat: listening on", $4 }'`

// webPort is the port the lesson's servers listen on, in every sandbox.
const webPort = 8080

func networkingDemos() []Demo {
	return []Demo{{
		ID:         "bridge-network",
		Title:      "Two sandboxes on a bridge: own addresses, the same port twice, one published",
		Run:        runBridgeNetwork,
		Blocked:    needsBridge,
		ShellFlags: []string{"--name", "lab-net", "--keep", "--net", "bridge"},
	}}
}

func networkingChecks() []Check {
	return []Check{
		{ID: "same-port", Verify: checkSamePort},
		{ID: "publish-port", Verify: checkPublishPort},
	}
}

// needsBridge says why a demo that puts sandboxes on the bridge cannot run.
func needsBridge(r sandbox.Report) string {
	if why := needsNamespaces(r, sandbox.NSNet, sandbox.NSPid, sandbox.NSMount); why != "" {
		return why
	}
	return r.Bridge
}

func runBridgeNetwork(ctx context.Context, sink event.Sink) error {
	a, b := demoName("net-a"), demoName("net-b")
	hostPort, err := freePort()
	if err != nil {
		return err
	}
	event.Narrate(sink, fmt.Sprintf("Start two sandboxes, %s and %s, on kcna-lab's bridge %s. Each runs busybox httpd on port %d serving its own hostname; %s's port is also published on the host as 127.0.0.1:%d.", a, b, network.DefaultBridge, webPort, a, hostPort))
	boxA, stopA, err := serveHostname(ctx, a, []sandbox.PortMapping{{HostPort: hostPort, ContainerPort: webPort}}, sink)
	if err != nil {
		return err
	}
	defer stopA()
	boxB, stopB, err := serveHostname(ctx, b, nil, sink)
	if err != nil {
		return err
	}
	defer stopB()

	veths, err := bridgeMap(sink, a, b)
	if err != nil {
		return err
	}
	ipA, ipB := sandboxIP(a), sandboxIP(b)
	if !ipA.IsValid() || !ipB.IsValid() {
		return fmt.Errorf("sandboxes %s and %s have no address on the bridge; see `kcna-lab ps`", a, b)
	}

	// Across the bridge, by address.
	fromB, err := inside(ctx, b, "wget", "-qO-", fmt.Sprintf("http://%s:%d/", ipA, webPort))
	if err != nil {
		return err
	}
	fromA, err := inside(ctx, a, "wget", "-qO-", fmt.Sprintf("http://%s:%d/", ipB, webPort))
	if err != nil {
		return err
	}
	columns(sink, "By address, across the bridge: each fetches the other's page with wget",
		a, []string{fmt.Sprintf("wget http://%s:%d/", ipB, webPort), "-> " + strings.Join(fromA, " ")},
		b, []string{fmt.Sprintf("wget http://%s:%d/", ipA, webPort), "-> " + strings.Join(fromB, " ")})
	event.Narrate(sink, "Each answer is the other sandbox's hostname: the packets left through eth0, crossed the veth pair to the host, were switched by the bridge to the other veth and arrived in the other namespace.")

	// The same port twice.
	var views [2][]string
	for i, box := range []*sandbox.Sandbox{boxA, boxB} {
		ns, err := sandbox.NamespaceInode(box.PID(), sandbox.NSNet)
		if err != nil {
			return err
		}
		ls, err := listeners(box.PID())
		if err != nil {
			return err
		}
		views[i] = append(views[i], "netns "+ns, fmt.Sprintf("from /proc/%d/net/tcp and tcp6:", box.PID()))
		for _, l := range listenersOn(ls, webPort) {
			views[i] = append(views[i], fmt.Sprintf("  %s LISTEN, socket %s", l.Addr, l.Inode))
		}
		out, err := inside(ctx, box.Name, "sh", "-c", listening)
		if err != nil {
			return err
		}
		views[i] = append(append(views[i], "netstat -ltn inside:"), out...)
	}
	hostNS, _ := sandbox.NamespaceInode(os.Getpid(), sandbox.NSNet)
	columns(sink, fmt.Sprintf("Port %d twice: one listener in each network namespace", webPort), a, views[0], b, views[1])
	event.Narrate(sink, fmt.Sprintf("Both bind port %d without a clash: a port belongs to a network namespace, and these are two (the host's is %s). Inside one namespace a second bind(2) to the same port fails with EADDRINUSE; containers of one Kubernetes pod share a namespace, so they must use different ports, while two pods may use the same one. The 127.0.0.11:53 line is kcna-lab's DNS server, listening inside each sandbox's namespace.", webPort, hostNS))

	// Published on the host.
	body, err := httpGet(ctx, fmt.Sprintf("http://127.0.0.1:%d/", hostPort))
	if err != nil {
		return fmt.Errorf("fetch the published port 127.0.0.1:%d from the host: %w", hostPort, err)
	}
	var proxy []string
	hostLs, err := listeners(os.Getpid())
	if err != nil {
		return err
	}
	holder := fmt.Sprintf("kcna-lab, PID %d", os.Getpid())
	if pid := network.HolderPID(); pid != 0 {
		holder = fmt.Sprintf("kcna-lab's network holder, PID %d", pid)
	}
	for _, l := range listenersOn(hostLs, hostPort) {
		proxy = append(proxy, fmt.Sprintf("%s LISTEN, socket %s (held by %s)", l.Addr, l.Inode, holder))
	}
	columns(sink, fmt.Sprintf("Published: 127.0.0.1:%d on the host forwards to %s:%d", hostPort, ipA, webPort),
		"host: /proc/net/tcp", proxy,
		"host: GET http://127.0.0.1:"+strconv.Itoa(hostPort)+"/", []string{"-> " + strings.TrimSpace(body)})
	event.Narrate(sink, fmt.Sprintf("The host got %q, %s's hostname. The listener is a proxy (%s) on the host's loopback, which opens a connection to %s:%d over the bridge for each client: the same job as docker-proxy (Docker adds iptables DNAT rules as well; kcna-lab changes no firewall). Only this machine can reach 127.0.0.1.", strings.TrimSpace(body), a, holder, ipA, webPort))
	if network.HolderPID() != 0 {
		event.Narrate(sink, "Rootless, the listening socket was made in the host's network namespace by kcna-lab and handed to the holder over a Unix socket (SCM_RIGHTS); the holder accepts on it and connects from its own namespace, where the bridge is. A socket stays in the namespace it was made in, whoever holds it: that is how rootless runtimes (rootlesskit's port driver) publish ports.")
	}

	// Stopped: the links go with the namespaces.
	stopA()
	stopB()
	var gone []string
	left, err := bridgePorts()
	if err != nil {
		return err
	}
	for _, v := range veths {
		if !slices.Contains(left, v) {
			gone = append(gone, v+": gone")
		} else {
			gone = append(gone, v+": still there")
		}
	}
	leases, _ := network.Leases("")
	var held []string
	for _, l := range leases {
		if l.Name == a || l.Name == b {
			held = append(held, fmt.Sprintf("%s still holds %s", l.Name, l.IP))
		}
	}
	if len(held) == 0 {
		held = []string{fmt.Sprintf("no lease for %s or %s", a, b)}
	}
	columns(sink, "After both stopped: netlink and the IPAM", "links on "+network.DefaultBridge, gone, "IPAM leases", held)
	event.Narrate(sink, "The veth pairs are gone from the bridge and both addresses are free again: a veth pair lives and dies as one, and the end inside a namespace goes when the namespace's last process exits.")
	return nil
}

// bridgePorts names the links on the bridge, as netlink reports them in
// the namespace that holds it (the host's, or rootless the holder's); a
// bridge that is gone has none.
func bridgePorts() ([]string, error) {
	links, err := network.Links("")
	if err != nil {
		return nil, fmt.Errorf("read the bridge from netlink: %w", err)
	}
	var out []string
	for _, l := range links {
		if l.Master != "" {
			out = append(out, l.Name)
		}
	}
	return out, nil
}

// bridgeHome names the network namespace the bridge is in.
func bridgeHome() string {
	if pid := network.HolderPID(); pid != 0 {
		return fmt.Sprintf("network holder's namespace (PID %d)", pid)
	}
	return "host's network namespace"
}

// serveHostname starts a sandbox on the bridge running httpd on webPort
// with its hostname as the page, and waits until it listens; stop ends
// it and may be called more than once.
func serveHostname(ctx context.Context, name string, publish []sandbox.PortMapping, sink event.Sink) (*sandbox.Sandbox, func(), error) {
	sb, err := sandbox.Start(ctx, sandbox.Spec{
		Name: name,
		Args: []string{"sh", "-c", fmt.Sprintf("mkdir -p /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p %d -h /tmp/www", webPort)},
		Net:  &sandbox.Net{Publish: publish},
	}, sink)
	if err != nil {
		return nil, nil, err
	}
	stop := sync.OnceFunc(func() {
		_ = sb.Signal(syscall.SIGTERM)
		_, _ = sb.Wait()
	})
	if err := waitListening(ctx, sb.PID(), webPort); err != nil {
		stop()
		return nil, nil, fmt.Errorf("sandbox %s: %w", name, err)
	}
	return sb, stop, nil
}

// bridgeMap shows the bridge and the veths of the named sandboxes as
// netlink reports them, host end beside the end inside each namespace,
// and returns the host ends' names.
func bridgeMap(sink event.Sink, names ...string) ([]string, error) {
	links, err := network.Links("")
	if err != nil {
		return nil, fmt.Errorf("read the bridge from netlink: %w", err)
	}
	var host, ns, veths []string
	others := 0
	for _, l := range links {
		switch {
		case l.Master == "":
			host = append(host, fmt.Sprintf("%s  %s  %s  %s", l.Name, l.Kind, joinPrefixes(l.Addrs), l.OperState))
			ns = append(ns, "(switch; gateway of all)")
		case slices.Contains(names, l.Sandbox):
			veths = append(veths, l.Name)
			host = append(host, fmt.Sprintf(" └ %s %s@if%d", l.Name, l.Kind, l.PeerIndex))
			ns = append(ns, fmt.Sprintf("%s #%d %s %s", l.PeerName, l.PeerIndex, joinPrefixes(l.PeerAddrs), l.Sandbox))
		default:
			others++
		}
	}
	if others > 0 {
		host = append(host, fmt.Sprintf(" (%d more port(s): other sandboxes on the bridge)", others))
	}
	if len(veths) != len(names) {
		return veths, fmt.Errorf("netlink shows %d veth(s) for %s on %s, want %d; see `ip link show master %s`", len(veths), strings.Join(names, " and "), network.DefaultBridge, len(names), network.DefaultBridge)
	}
	home := bridgeHome()
	columns(sink, "The bridge map, from netlink (ip -d link show master "+network.DefaultBridge+")", home, host, "the other end, inside each sandbox", ns)
	event.Narrate(sink, "A bridge is a virtual switch in the host's kernel. Each sandbox is plugged in by a veth pair, a virtual cable: one end enslaved to the bridge, the other moved into the sandbox's namespace and renamed eth0, where it holds the address the IPAM handed out.")
	if home != "host's network namespace" {
		event.Narrate(sink, "Without root the bridge cannot be on the host: it is in the "+home+", a network namespace owned by a user namespace of yours, as rootless Docker and Podman keep theirs. The sandboxes' user namespaces are children of the holder's, so it may move a veth end into them. From the host, see it with `nsenter --user --net --preserve-credentials --target PID ip link`.")
	}
	return veths, nil
}

func joinPrefixes(ps []netip.Prefix) string {
	var s []string
	for _, p := range ps {
		if p.Addr().Is4() {
			s = append(s, p.String())
		}
	}
	if len(s) == 0 {
		return "(no IPv4 address)"
	}
	return strings.Join(s, ",")
}

// sandboxIP is the address a running sandbox holds on its bridge.
func sandboxIP(name string) netip.Addr {
	st, err := sandbox.Find(name)
	if err != nil || st.Net == nil {
		return netip.Addr{}
	}
	return st.Net.IP
}

// columns emits a Compare whose two columns are titled by the caller, for
// views that are not "host" against "sandbox".
func columns(sink event.Sink, title, leftTitle string, left []string, rightTitle string, right []string) {
	sink.Emit(event.Event{Time: time.Now(), Kind: event.KindCompare, Compare: &event.Compare{
		Title: title,
		Left:  event.Column{Title: leftTitle, Lines: left},
		Right: event.Column{Title: rightTitle, Lines: right},
	}})
}

func checkSamePort(context.Context) (Verdict, error) {
	const start = "kcna-lab run --detach --name %s --net bridge -- httpd -f -p 8080"
	var ns [2]string
	for i, name := range []string{"a", "b"} {
		st, v := running(name, fmt.Sprintf(start, name))
		if v != nil {
			return *v, nil
		}
		n, err := sandbox.NamespaceInode(st.InitPID, sandbox.NSNet)
		if err != nil {
			return Verdict{}, fmt.Errorf("read the network namespace of sandbox %s: %w", name, err)
		}
		ns[i] = n
		if !slices.Contains(st.Isolate, sandbox.NSNet) {
			return fail("sandbox %s shares the host's network namespace (%s): start it with its own (the default, or --isolate including net)", name, n)
		}
		ls, err := listeners(st.InitPID)
		if err != nil {
			return Verdict{}, err
		}
		if len(listenersOn(ls, webPort)) == 0 {
			return fail("nothing in sandbox %s's network namespace (%s) listens on TCP %d (read from /proc/%d/net/tcp and tcp6): start a server in it, e.g. %s", name, n, webPort, st.InitPID, fmt.Sprintf(start, name))
		}
	}
	if ns[0] == ns[1] {
		return fail("a and b are in the same network namespace (%s): then only one of them could bind port %d", ns[0], webPort)
	}
	return pass("a (%s) and b (%s) both listen on TCP %d: two network namespaces, two separate port spaces", ns[0], ns[1], webPort)
}

func checkPublishPort(ctx context.Context) (Verdict, error) {
	const start = "kcna-lab run --detach --name web --net bridge --publish 8080:80 -- httpd -f -p 80 -h /etc"
	st, v := running("web", start)
	if v != nil {
		return *v, nil
	}
	var m *sandbox.PortMapping
	if st.Net != nil {
		for i, p := range st.Net.Publish {
			if p.HostPort == webPort {
				m = &st.Net.Publish[i]
			}
		}
	}
	if m == nil {
		return fail("sandbox web runs but publishes no host port %d: stop it and start it with --net bridge --publish 8080:PORT, e.g. %s", webPort, start)
	}
	ls, err := listeners(st.InitPID)
	if err != nil {
		return Verdict{}, err
	}
	if len(listenersOn(ls, m.ContainerPort)) == 0 {
		return fail("web publishes %s, but nothing inside web listens on port %d: the proxy has nowhere to forward to; start a server on %d in it", m, m.ContainerPort, m.ContainerPort)
	}
	// The host's listener must be the proxy of web's own kcna-lab (the
	// init's parent), not some other program on port 8080.
	owner, err := hostPortOwner(webPort)
	if err != nil {
		return Verdict{}, err
	}
	parent, _ := statusField(strconv.Itoa(st.InitPID), "PPid")
	if owner == 0 || strconv.Itoa(owner) != parent {
		return fail("127.0.0.1:%d on the host is not held by web's kcna-lab (PID %s) but by PID %d: free the port and start web again", webPort, parent, owner)
	}
	body, err := httpGet(ctx, fmt.Sprintf("http://127.0.0.1:%d/", webPort))
	if err != nil {
		return fail("GET http://127.0.0.1:%d/ from the host failed: %v; does the server in web speak HTTP on port %d?", webPort, err, m.ContainerPort)
	}
	return pass("GET http://127.0.0.1:%d/ answered (%d bytes) through web's proxy (PID %s), which forwards to %s:%d where web's server listens", webPort, len(body), parent, st.Net.IP, m.ContainerPort)
}

// listener is a listening TCP socket as /proc/PID/net/tcp and tcp6 list it.
type listener struct {
	Addr  netip.AddrPort
	Inode string
}

// listeners reads the listening TCP sockets of the network namespace pid
// is in: /proc/PID/net shows that namespace, whichever process of it
// opened them.
func listeners(pid int) ([]listener, error) {
	var out []listener
	for _, table := range []string{"tcp", "tcp6"} {
		p := fmt.Sprintf("/proc/%d/net/%s", pid, table)
		b, err := os.ReadFile(p)
		if err != nil {
			if table == "tcp6" && errors.Is(err, os.ErrNotExist) {
				continue // a kernel without IPv6
			}
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		for _, l := range lines(string(b))[1:] {
			f := strings.Fields(l)
			if len(f) < 10 || f[3] != "0A" { // 0A is TCP_LISTEN
				continue
			}
			if a, ok := parseProcAddr(f[1]); ok {
				out = append(out, listener{Addr: a, Inode: f[9]})
			}
		}
	}
	return out, nil
}

// parseProcAddr reads "0100007F:1F90": the address as the kernel's
// 32-bit words in host (little-endian) byte order, the port in hex.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(p, 16, 16)
	if !ok || err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(a, uint16(port)), true
}

// listenersOn picks the listeners on port.
func listenersOn(ls []listener, port int) []listener {
	var out []listener
	for _, l := range ls {
		if int(l.Addr.Port()) == port {
			out = append(out, l)
		}
	}
	return out
}

// waitListening waits until pid's network namespace has a TCP listener
// on port.
func waitListening(ctx context.Context, pid, port int) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		ls, err := listeners(pid)
		if err != nil {
			return err
		}
		if len(listenersOn(ls, port)) > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on port %d after 10s (see /proc/%d/net/tcp6)", port, pid)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// hostPortOwner is the PID of the process that holds the listener on
// 127.0.0.1:port in this process's network namespace, 0 if none does.
func hostPortOwner(port int) (int, error) {
	ls, err := listeners(os.Getpid())
	if err != nil {
		return 0, err
	}
	inodes := map[string]bool{}
	for _, l := range listenersOn(ls, port) {
		inodes[l.Inode] = true
	}
	if len(inodes) == 0 {
		return 0, nil
	}
	owners, err := socketOwners(inodes)
	if err != nil {
		return 0, err
	}
	for _, pid := range owners {
		return pid, nil
	}
	return 0, nil
}

// socketOwners maps socket inodes to a process that has them open, read
// from /proc/*/fd as ss -p and netstat -p do.
func socketOwners(inodes map[string]bool) (map[string]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	out := map[string]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		if err != nil {
			continue // gone, or a kernel thread
		}
		for _, fd := range fds {
			target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
			if ino, ok := strings.CutPrefix(target, "socket:["); ok && err == nil {
				ino = strings.TrimSuffix(ino, "]")
				if inodes[ino] {
					if _, seen := out[ino]; !seen {
						out[ino] = pid
					}
				}
			}
		}
	}
	return out, nil
}

// freePort asks the kernel for a free port on 127.0.0.1 to publish on.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// httpGet fetches url from the host with a short timeout.
func httpGet(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), err
}
