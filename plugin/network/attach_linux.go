//go:build linux

package network

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// Attach connects the network namespace of pid (a process already in its
// own one, such as a sandbox's init before it execs) to the bridge: the
// bridge is made if need be (address = the subnet's first host, up), an
// address is leased, a veth pair is made with one end on the bridge and
// the other moved into the namespace and renamed eth0, and inside the
// namespace lo and eth0 come up with the address and a default route via
// the bridge. The host end of the veth is journaled in j before it is
// made. On failure everything Attach made is removed again.
//
// The bridge itself is not journaled: other sandboxes may be using it, so
// undoing one sandbox's journal must not delete it. Detach removes it
// after the last sandbox leaves; Prune removes one a crash left empty.
func Attach(cfg Config, name string, pid int, j *journal.Journal, sink event.Sink) (_ *Endpoint, err error) {
	if sink == nil {
		sink = event.Discard
	}
	cfg, err = cfg.resolve()
	if err != nil {
		return nil, fmt.Errorf("attach sandbox %s: %w", name, err)
	}
	fail := func(err error) (*Endpoint, error) {
		return nil, fmt.Errorf("attach sandbox %s to %s: %w", name, cfg.Bridge, err)
	}
	if err := validName(name); err != nil {
		return fail(err)
	}
	if j == nil {
		return fail(errors.New("no journal to record the veth in"))
	}
	start, err := journal.ProcStartTime(pid)
	if err != nil {
		return fail(fmt.Errorf("process %d: %w", pid, err))
	}
	shared, err := sharesHostNetns(pid)
	if err != nil {
		return fail(err)
	}
	if shared {
		return fail(fmt.Errorf("process %d shares the host's network namespace; start it in its own (clone with CLONE_NEWNET, i.e. --isolate net) before attaching it", pid))
	}

	lk, err := lockBridge(cfg.Bridge)
	if err != nil {
		return fail(err)
	}
	defer lk.unlock()

	lf, err := readLeases(cfg.Bridge)
	if err != nil {
		return fail(err)
	}
	live, dead := liveLeases(lf.Leases)
	for _, d := range dead {
		event.Narrate(sink, fmt.Sprintf("IPAM: %s is free again: sandbox %s (pid %d) that leased it is gone.", d.IP, d.Name, d.PID))
	}
	for _, l := range live {
		if l.Name == name {
			return fail(fmt.Errorf("a running sandbox called %s is already attached (pid %d, %s); names must be unique so that %s.kcna.local means one sandbox", name, l.PID, l.IP, name))
		}
	}
	if len(live) > 0 && lf.Subnet.IsValid() && lf.Subnet != cfg.Subnet {
		return fail(fmt.Errorf("%s is in use with subnet %s by %d running sandbox(es); use --subnet %s, or another bridge", cfg.Bridge, lf.Subnet, len(live), lf.Subnet))
	}
	lf.Subnet, lf.Leases = cfg.Subnet, live

	event.Narrate(sink, fmt.Sprintf("Networking sandbox %s: a veth pair is a virtual cable; one end stays on the host, plugged into bridge %s (a virtual switch), the other becomes eth0 inside the sandbox's network namespace.", name, cfg.Bridge))

	// From here on a failure undoes what was made: the endpoint (veth,
	// lease, and the bridge if it is then empty), or just an empty bridge.
	var ep *Endpoint
	defer func() {
		if err == nil {
			return
		}
		var cerr error
		if ep != nil {
			cerr = ep.detachLocked(sink, true)
		} else {
			_, cerr = removeBridgeIfUnused(cfg.Bridge, sink)
		}
		if cerr != nil {
			err = errors.Join(err, fmt.Errorf("undo: %w", cerr))
		}
	}()

	br, err := ensureBridge(cfg, sink)
	if err != nil {
		return fail(err)
	}
	ip, err := allocate(cfg.Subnet, live)
	if err != nil {
		return fail(err)
	}
	host, peer, err := vethNames(name)
	if err != nil {
		return fail(err)
	}
	ep = &Endpoint{
		Name: name, PID: pid, IP: ip, Prefix: netip.PrefixFrom(ip, cfg.Subnet.Bits()),
		Gateway: cfg.Gateway(), HostVeth: host, Bridge: cfg.Bridge,
		startTime: start,
	}
	// The lease is written before the veth is made: a crash part-way then
	// leaves a lease (freed once its process is gone), never an address in
	// use that the IPAM does not know about.
	lf.Leases = append(lf.Leases, Lease{Name: name, IP: ip, PID: pid, StartTime: start, HostVeth: host, Created: time.Now().UTC()})
	if err := writeLeases(lf); err != nil {
		return fail(err)
	}
	event.Narrate(sink, fmt.Sprintf("IPAM: %s leased to sandbox %s (pid %d), recorded in %s.", ip, name, pid, leasePath(cfg.Bridge)))

	if err := ep.plumb(br, peer, j, sink); err != nil {
		return fail(err)
	}
	return ep, nil
}

// plumb makes the veth pair and configures both ends.
func (ep *Endpoint) plumb(br netlink.Link, peer string, j *journal.Journal, sink event.Sink) error {
	host := ep.HostVeth
	// Journaled before it exists, so a kill -9 between here and Detach
	// leaves `kcna-lab clean` a name to delete. Deleting the host end also
	// deletes its peer, wherever that is, so one entry covers the pair.
	if err := j.Record(journal.Entry{Kind: journal.Link, Name: host, Shell: "ip link delete " + host}); err != nil {
		return err
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: host}, PeerName: peer}
	if err := event.Step(sink,
		fmt.Sprintf("RTM_NEWLINK %s type=veth peer=%s", host, peer),
		fmt.Sprintf("ip link add %s type veth peer name %s", host, peer),
		func() error { return netlink.LinkAdd(veth) }); err != nil {
		return fmt.Errorf("create veth pair %s/%s: %w", host, peer, err)
	}
	hostLink, err := netlink.LinkByName(host)
	if err != nil {
		return fmt.Errorf("find %s: %w", host, err)
	}
	if err := event.Step(sink,
		fmt.Sprintf("RTM_SETLINK %s master=%s", host, br.Attrs().Name),
		fmt.Sprintf("ip link set %s master %s", host, br.Attrs().Name),
		func() error { return netlink.LinkSetMaster(hostLink, br) }); err != nil {
		return fmt.Errorf("plug %s into %s: %w", host, br.Attrs().Name, err)
	}
	if err := event.Step(sink,
		fmt.Sprintf("RTM_NEWLINK %s flags=UP", host),
		fmt.Sprintf("ip link set %s up", host),
		func() error { return netlink.LinkSetUp(hostLink) }); err != nil {
		return fmt.Errorf("bring %s up: %w", host, err)
	}
	peerLink, err := netlink.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("find %s: %w", peer, err)
	}
	if err := event.Step(sink,
		fmt.Sprintf("RTM_SETLINK %s net_ns_pid=%d", peer, ep.PID),
		fmt.Sprintf("ip link set %s netns %d", peer, ep.PID),
		func() error { return netlink.LinkSetNsPid(peerLink, ep.PID) }); err != nil {
		return fmt.Errorf("move %s into the network namespace of %d: %w", peer, ep.PID, err)
	}
	event.Narrate(sink, fmt.Sprintf("%s has left the host: it now exists only in the network namespace of process %d. The next steps run there (nsenter --net).", peer, ep.PID))

	h, err := handleAt(ep.PID)
	if err != nil {
		return err
	}
	defer h.Close()
	in := fmt.Sprintf("nsenter --net=%s ", netnsPath(ep.PID))
	where := fmt.Sprintf("[netns of %d] ", ep.PID)

	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("find lo in the sandbox: %w", err)
	}
	if err := event.Step(sink, where+"RTM_NEWLINK lo flags=UP", in+"ip link set lo up",
		func() error { return h.LinkSetUp(lo) }); err != nil {
		return fmt.Errorf("bring lo up in the sandbox: %w", err)
	}
	eth, err := h.LinkByName(peer)
	if err != nil {
		return fmt.Errorf("find %s in the sandbox: %w", peer, err)
	}
	if err := event.Step(sink, where+fmt.Sprintf("RTM_SETLINK %s ifname=eth0", peer), in+fmt.Sprintf("ip link set %s name eth0", peer),
		func() error { return h.LinkSetName(eth, "eth0") }); err != nil {
		return fmt.Errorf("rename %s to eth0 in the sandbox: %w", peer, err)
	}
	if eth, err = h.LinkByName("eth0"); err != nil {
		return fmt.Errorf("find eth0 in the sandbox: %w", err)
	}
	if err := event.Step(sink, where+fmt.Sprintf("RTM_NEWADDR %s dev eth0", ep.Prefix), in+fmt.Sprintf("ip addr add %s dev eth0", ep.Prefix),
		func() error { return h.AddrAdd(eth, &netlink.Addr{IPNet: toIPNet(ep.Prefix)}) }); err != nil {
		return fmt.Errorf("address eth0 in the sandbox: %w", err)
	}
	if err := event.Step(sink, where+"RTM_NEWLINK eth0 flags=UP", in+"ip link set eth0 up",
		func() error { return h.LinkSetUp(eth) }); err != nil {
		return fmt.Errorf("bring eth0 up in the sandbox: %w", err)
	}
	gw := ep.Gateway
	if err := event.Step(sink, where+fmt.Sprintf("RTM_NEWROUTE default via %s dev eth0", gw), in+fmt.Sprintf("ip route add default via %s dev eth0", gw),
		func() error {
			return h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: net.IP(gw.AsSlice())})
		}); err != nil {
		return fmt.Errorf("default route in the sandbox: %w", err)
	}
	waitForwarding(host, br.Attrs().Name, sink)
	event.Narrate(sink, fmt.Sprintf("Sandbox %s is %s on %s. Packets for other sandboxes cross the bridge; everything else goes to the gateway %s, the host. kcna-lab sets up no NAT, so nothing beyond the host answers.", ep.Name, ep.IP, ep.Bridge, gw))
	return nil
}

// forwardingWait bounds how long Attach waits for the bridge to forward
// on a new port.
const forwardingWait = 3 * time.Second

// waitForwarding waits until the bridge forwards frames on port. The
// kernel learns that a new veth has carrier from a deferred work item
// (linkwatch, run at most about once a second), and only then moves the
// bridge port from "disabled" to "forwarding"; until then frames are
// dropped, and a first connection waits a second for the retransmission.
// Waiting here means a sandbox is reachable the moment Attach returns.
// The state is read from sysfs because the netlink library does not
// expose IFLA_BRPORT_STATE; a port that does not get there in time is
// narrated, not an error: it will get there.
func waitForwarding(port, bridge string, sink event.Sink) {
	path := "/sys/class/net/" + port + "/brport/state"
	const forwarding = "3" // BR_STATE_FORWARDING
	err := event.Step(sink,
		fmt.Sprintf("read %s until %s (forwarding)", path, forwarding),
		fmt.Sprintf("bridge link show dev %s   # until it says state forwarding", port),
		func() error {
			deadline := time.Now().Add(forwardingWait)
			for {
				b, err := os.ReadFile(path)
				if err != nil {
					return fmt.Errorf("read bridge port state: %w", err)
				}
				st := strings.TrimSpace(string(b))
				if st == forwarding {
					return nil
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s is in bridge port state %s, not yet forwarding, after %s", port, st, forwardingWait)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	if err != nil {
		event.Narrate(sink, fmt.Sprintf("%s does not forward on %s yet (%v); the first packets may be delayed.", bridge, port, err))
	}
}

// Detach takes the sandbox off the bridge: it deletes the host end of the
// veth (the kernel deletes its peer, eth0, with it), releases the lease,
// and deletes the bridge if no port is left on it. It holds the IPAM lock
// throughout, so a concurrent Attach never finds the bridge half gone.
// A veth that is already gone (the sandbox's namespace died with its last
// process) is not an error, and calling Detach twice is harmless.
func (ep *Endpoint) Detach(sink event.Sink) error {
	if sink == nil {
		sink = event.Discard
	}
	if ep == nil || ep.Bridge == "" || ep.HostVeth == "" {
		return errors.New("detach: not an endpoint that Attach returned")
	}
	lk, err := lockBridge(ep.Bridge)
	if err != nil {
		return fmt.Errorf("detach sandbox %s: %w", ep.Name, err)
	}
	defer lk.unlock()
	if err := ep.detachLocked(sink, false); err != nil {
		return fmt.Errorf("detach sandbox %s from %s: %w", ep.Name, ep.Bridge, err)
	}
	return nil
}

// detachLocked is Detach with the lock already held; undoing says it
// undoes a failed Attach, whose veth may never have been made.
func (ep *Endpoint) detachLocked(sink event.Sink, undoing bool) error {
	var errs []error
	gone := false
	if err := event.Step(sink, "RTM_DELLINK "+ep.HostVeth, "ip link delete "+ep.HostVeth, func() error {
		l, err := netlink.LinkByName(ep.HostVeth)
		if isNotFound(err) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		if err := netlink.LinkDel(l); err != nil && !isNotFound(err) {
			return err
		}
		return nil
	}); err != nil {
		errs = append(errs, fmt.Errorf("delete %s: %w", ep.HostVeth, err))
	}
	if gone && !undoing {
		event.Narrate(sink, fmt.Sprintf("%s was already gone: when the last process in a network namespace exits, the kernel destroys the namespace's eth0, and a veth end never outlives its peer.", ep.HostVeth))
	}

	lf, err := readLeases(ep.Bridge)
	if err != nil {
		errs = append(errs, err)
	} else {
		live, _ := liveLeases(lf.Leases)
		kept := live[:0]
		for _, l := range live {
			if l.Name == ep.Name && l.PID == ep.PID && l.StartTime == ep.startTime {
				continue
			}
			kept = append(kept, l)
		}
		// Also drop this endpoint's lease if its process has died already
		// (liveLeases dropped it with the other dead ones).
		lf.Leases = kept
		if err := writeLeases(lf); err != nil {
			errs = append(errs, err)
		} else {
			event.Narrate(sink, fmt.Sprintf("IPAM: %s released by sandbox %s.", ep.IP, ep.Name))
		}
	}

	removed, err := removeBridgeIfUnused(ep.Bridge, sink)
	if err != nil {
		errs = append(errs, err)
	}
	if removed && err == nil && len(lf.Leases) == 0 {
		if err := os.Remove(leasePath(ep.Bridge)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove IPAM lease file: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Prune tidies a bridge ("" for DefaultBridge) after crashed runs: it
// drops leases whose sandbox is gone and deletes the bridge if nothing is
// plugged into it. `kcna-lab clean` should call it: the bridge is shared,
// so no sandbox's journal undoes it.
func Prune(bridge string, sink event.Sink) error {
	if sink == nil {
		sink = event.Discard
	}
	if bridge == "" {
		bridge = DefaultBridge
	}
	if err := validLinkName(bridge); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	lk, err := lockBridge(bridge)
	if err != nil {
		return fmt.Errorf("prune %s: %w", bridge, err)
	}
	defer lk.unlock()
	lf, err := readLeases(bridge)
	if err != nil {
		return fmt.Errorf("prune %s: %w", bridge, err)
	}
	live, dead := liveLeases(lf.Leases)
	if len(dead) > 0 {
		lf.Leases = live
		if err := writeLeases(lf); err != nil {
			return fmt.Errorf("prune %s: %w", bridge, err)
		}
		for _, d := range dead {
			event.Narrate(sink, fmt.Sprintf("IPAM: dropped the lease of %s on %s: sandbox %s (pid %d) is gone.", d.IP, bridge, d.Name, d.PID))
		}
	}
	// Rootless, the bridge lives and dies with the network holder; one of
	// that name on the host is root's, not this user's to delete.
	removed := os.Geteuid() != 0
	if !removed {
		if removed, err = removeBridgeIfUnused(bridge, sink); err != nil {
			return fmt.Errorf("prune %s: %w", bridge, err)
		}
	}
	if removed && len(live) == 0 {
		if err := os.Remove(leasePath(bridge)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("prune %s: remove IPAM lease file: %w", bridge, err)
		}
	}
	return nil
}

// PruneAll prunes every bridge kcna-lab has leases for, and as root the
// default one if it exists: what `kcna-lab clean` runs after a crash.
// With neither, it touches nothing, not even the lock files.
func PruneAll(sink event.Sink) error {
	var bridges []string
	if _, err := os.Stat("/sys/class/net/" + DefaultBridge); err == nil && os.Geteuid() == 0 {
		bridges = append(bridges, DefaultBridge)
	}
	files, _ := filepath.Glob(filepath.Join(stateDir(), "*.json"))
	for _, f := range files {
		b := strings.TrimSuffix(filepath.Base(f), ".json")
		if validLinkName(b) == nil && !slices.Contains(bridges, b) {
			bridges = append(bridges, b)
		}
	}
	var errs []error
	for _, b := range bridges {
		errs = append(errs, Prune(b, sink))
	}
	return errors.Join(errs...)
}

// ensureBridge returns the bridge, making it (or fixing its address and
// state) if need be.
func ensureBridge(cfg Config, sink event.Sink) (netlink.Link, error) {
	name := cfg.Bridge
	gw := netip.PrefixFrom(cfg.Gateway(), cfg.Subnet.Bits())
	br, err := findLink(name, sink)
	if err != nil {
		return nil, err
	}
	if br != nil {
		if br.Type() != "bridge" {
			return nil, fmt.Errorf("%s exists but is a %s link, not a bridge; delete it (ip link delete %s) or choose another bridge name", name, br.Type(), name)
		}
		var addrs []netlink.Addr
		if err := event.Step(sink, "RTM_GETADDR dev "+name, "ip -4 addr show dev "+name, func() error {
			return retryDump(func() (err error) { addrs, err = netlink.AddrList(br, netlink.FAMILY_V4); return err })
		}); err != nil {
			return nil, fmt.Errorf("read addresses of %s: %w", name, err)
		}
		has := false
		var other []string
		for _, a := range addrs {
			if p, ok := toPrefix(a.IPNet); ok && p == gw {
				has = true
			} else if ok {
				other = append(other, p.String())
			}
		}
		switch {
		case has:
		case len(other) > 0:
			ports, err := bridgePorts(br, sink)
			if err != nil {
				return nil, err
			}
			if len(ports) > 0 {
				return nil, fmt.Errorf("%s has address %s, not %s, and connects %s; use the same --subnet as the sandboxes already on it, or another bridge", name, strings.Join(other, ", "), gw, strings.Join(ports, ", "))
			}
			event.Narrate(sink, fmt.Sprintf("%s is left over from a run with another subnet (%s) and connects nothing: making it again.", name, strings.Join(other, ", ")))
			if err := event.Step(sink, "RTM_DELLINK "+name, "ip link delete "+name, func() error { return netlink.LinkDel(br) }); err != nil {
				return nil, fmt.Errorf("delete stale %s: %w", name, err)
			}
			br = nil
		default:
			if err := checkOverlap(cfg.Subnet, sink); err != nil {
				return nil, err
			}
			if err := event.Step(sink, fmt.Sprintf("RTM_NEWADDR %s dev %s", gw, name), fmt.Sprintf("ip addr add %s dev %s", gw, name),
				func() error { return netlink.AddrAdd(br, &netlink.Addr{IPNet: toIPNet(gw)}) }); err != nil {
				return nil, fmt.Errorf("address %s: %w", name, err)
			}
		}
		if br != nil {
			if br.Attrs().Flags&net.FlagUp == 0 {
				if err := event.Step(sink, fmt.Sprintf("RTM_NEWLINK %s flags=UP", name), fmt.Sprintf("ip link set %s up", name),
					func() error { return netlink.LinkSetUp(br) }); err != nil {
					return nil, fmt.Errorf("bring %s up: %w", name, err)
				}
			}
			return br, nil
		}
	}

	if err := checkOverlap(cfg.Subnet, sink); err != nil {
		return nil, err
	}
	event.Narrate(sink, fmt.Sprintf("Making bridge %s: a virtual switch in the host's network namespace. With %s on it the host is itself a member of %s, and the sandboxes' gateway.", name, gw, cfg.Subnet))
	if err := event.Step(sink, fmt.Sprintf("RTM_NEWLINK %s type=bridge", name), fmt.Sprintf("ip link add %s type bridge", name),
		func() error { return netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}) }); err != nil {
		return nil, fmt.Errorf("create bridge %s: %w", name, err)
	}
	if br, err = netlink.LinkByName(name); err != nil {
		return nil, fmt.Errorf("find new bridge %s: %w", name, err)
	}
	if err := event.Step(sink, fmt.Sprintf("RTM_NEWADDR %s dev %s", gw, name), fmt.Sprintf("ip addr add %s dev %s", gw, name),
		func() error { return netlink.AddrAdd(br, &netlink.Addr{IPNet: toIPNet(gw)}) }); err != nil {
		return nil, fmt.Errorf("address %s: %w", name, err)
	}
	if err := event.Step(sink, fmt.Sprintf("RTM_NEWLINK %s flags=UP", name), fmt.Sprintf("ip link set %s up", name),
		func() error { return netlink.LinkSetUp(br) }); err != nil {
		return nil, fmt.Errorf("bring %s up: %w", name, err)
	}
	if b, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables"); err == nil && strings.TrimSpace(string(b)) == "1" {
		event.Narrate(sink, "Note: br_netfilter is loaded on this host (net.bridge.bridge-nf-call-iptables = 1), so packets between sandboxes on the bridge also pass the host's iptables FORWARD chain; a firewall that drops forwarded packets (Docker sets that chain's policy to DROP) would block them too.")
	}
	return br, nil
}

// findLink looks a host link up by name; nil if there is none.
func findLink(name string, sink event.Sink) (netlink.Link, error) {
	var l netlink.Link
	err := event.Step(sink, "RTM_GETLINK "+name, "ip link show "+name, func() error {
		var err error
		l, err = netlink.LinkByName(name)
		if isNotFound(err) {
			l = nil
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", name, err)
	}
	return l, nil
}

// bridgePorts names the links enslaved to br.
func bridgePorts(br netlink.Link, sink event.Sink) ([]string, error) {
	var links []netlink.Link
	name := br.Attrs().Name
	if err := event.Step(sink, "RTM_GETLINK dump, master="+name, "ip link show master "+name, func() error {
		return retryDump(func() (err error) { links, err = netlink.LinkList(); return err })
	}); err != nil {
		return nil, fmt.Errorf("list ports of %s: %w", name, err)
	}
	var ports []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			ports = append(ports, l.Attrs().Name)
		}
	}
	return ports, nil
}

// removeBridgeIfUnused deletes the bridge when nothing is plugged into it.
// It counts every port, not only kl- veths: a bridge that connects
// anything else is in use by something kcna-lab should not cut off.
func removeBridgeIfUnused(name string, sink event.Sink) (removed bool, err error) {
	br, err := findLink(name, sink)
	if err != nil || br == nil {
		return br == nil && err == nil, err
	}
	if br.Type() != "bridge" {
		return false, nil
	}
	ports, err := bridgePorts(br, sink)
	if err != nil {
		return false, err
	}
	if len(ports) > 0 {
		event.Narrate(sink, fmt.Sprintf("%s stays: it still connects %s.", name, strings.Join(ports, ", ")))
		return false, nil
	}
	if err := event.Step(sink, "RTM_DELLINK "+name, "ip link delete "+name, func() error {
		if err := netlink.LinkDel(br); err != nil && !isNotFound(err) {
			return err
		}
		return nil
	}); err != nil {
		return false, fmt.Errorf("delete bridge %s: %w", name, err)
	}
	return true, nil
}

// checkOverlap refuses a subnet that a route on the host already covers
// (or that covers one): the bridge's connected route would hijack or be
// shadowed by it. Default routes are fine; everything is more specific
// than those.
func checkOverlap(subnet netip.Prefix, sink event.Sink) error {
	var routes []netlink.Route
	if err := event.Step(sink, "RTM_GETROUTE dump, all tables", "ip -4 route show table all", func() error {
		return retryDump(func() (err error) {
			routes, err = netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
			return err
		})
	}); err != nil {
		return fmt.Errorf("read the host's routes: %w", err)
	}
	used := routedPrefixes(routes)
	for _, u := range used {
		if !u.dst.Overlaps(subnet) {
			continue
		}
		dev := ""
		if l, err := netlink.LinkByIndex(u.link); err == nil {
			dev = " dev " + l.Attrs().Name
		}
		msg := fmt.Sprintf("subnet %s overlaps %s, which this host already routes (%s%s)", subnet, u.dst, u.dst, dev)
		if s, ok := suggestSubnet(used); ok {
			return fmt.Errorf("%s; choose another with --subnet, e.g. %s", msg, s)
		}
		return fmt.Errorf("%s; choose another with --subnet", msg)
	}
	return nil
}

// routed is a destination the host routes, and through which link.
type routed struct {
	dst  netip.Prefix
	link int
}

// routedPrefixes keeps the unicast and local routes that are not default
// routes: the ones a sandbox subnet must not overlap.
func routedPrefixes(routes []netlink.Route) []routed {
	var out []routed
	for _, r := range routes {
		if r.Dst == nil || (r.Type != unix.RTN_UNICAST && r.Type != unix.RTN_LOCAL) {
			continue
		}
		if p, ok := toPrefix(r.Dst); ok && p.Bits() > 0 {
			out = append(out, routed{dst: p.Masked(), link: r.LinkIndex})
		}
	}
	return out
}

// suggestSubnet finds a /24 next to the default that no route covers.
func suggestSubnet(used []routed) (netip.Prefix, bool) {
	base := DefaultSubnet.Addr().As4()
	for n := range 256 {
		c := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], byte(n), 0}), 24)
		free := true
		for _, u := range used {
			if u.dst.Overlaps(c) {
				free = false
				break
			}
		}
		if free {
			return c, true
		}
	}
	return netip.Prefix{}, false
}

// vethNames picks a fresh host-side name (kl-, up to 5 bytes of the
// sandbox name so `ip link` stays readable, and 6 random hex digits, 15
// bytes at most) and a temporary name for the peer until it is eth0 in
// the sandbox. A name in use is skipped: the journal entry for the host
// end must never name a link that belongs to someone else.
func vethNames(name string) (host, peer string, err error) {
	short := name
	if len(short) > 5 {
		short = short[:5]
	}
	short = strings.TrimRight(short, "-")
	for range 16 {
		var b [3]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", "", fmt.Errorf("random veth name: %w", err)
		}
		suffix := hex.EncodeToString(b[:])
		host, peer = "kl-"+short+"-"+suffix, "kl-c-"+suffix
		_, herr := netlink.LinkByName(host)
		_, perr := netlink.LinkByName(peer)
		if isNotFound(herr) && isNotFound(perr) {
			return host, peer, nil
		}
	}
	return "", "", errors.New("no free veth name after 16 tries")
}

// toIPNet converts for the netlink library.
func toIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// toPrefix converts from the netlink library (IPv4 as 4 or 16 bytes).
func toPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, false
	}
	if a.Is4() && bits == 128 {
		ones -= 96
	}
	return netip.PrefixFrom(a, ones), true
}
