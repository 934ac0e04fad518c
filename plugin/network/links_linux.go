//go:build linux

package network

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"

	"github.com/vishvananda/netlink"
)

// Links reports the bridge ("" for DefaultBridge) and every link plugged
// into it as netlink sees them, bridge first, then its ports by name: the
// data for the TUI's bridge/veth map. For each veth it adds what the lease
// says (sandbox name, PID) and, while that sandbox runs, its peer's name
// and addresses read from inside the sandbox's namespace. A bridge that
// does not exist gives an empty list, not an error: no sandbox is on it.
// It emits no events, so a screen can poll it.
func Links(bridge string) ([]LinkInfo, error) {
	if bridge == "" {
		bridge = DefaultBridge
	}
	if os.Geteuid() != 0 {
		// Rootless, the bridge is in the network holder's namespace.
		return rootlessLinks(bridge)
	}
	br, err := netlink.LinkByName(bridge)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", bridge, err)
	}
	var links []netlink.Link
	if err := retryDump(func() (err error) { links, err = netlink.LinkList(); return err }); err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	// Leases are best effort: a map without sandbox names is still a map.
	leases, _ := Leases(bridge)
	byVeth := map[string]Lease{}
	for _, l := range leases {
		byVeth[l.HostVeth] = l
	}

	out := []LinkInfo{describe(br, "")}
	var ports []LinkInfo
	for _, l := range links {
		if l.Attrs().MasterIndex != br.Attrs().Index {
			continue
		}
		li := describe(l, bridge)
		if lease, ok := byVeth[li.Name]; ok {
			li.Sandbox, li.PID = lease.Name, lease.PID
			if li.Kind == "veth" && li.PeerIndex > 0 {
				li.PeerName, li.PeerAddrs = peerOf(lease, li.PeerIndex)
			}
		}
		ports = append(ports, li)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].Name < ports[j].Name })
	return append(out, ports...), nil
}

// describe turns one netlink link into a LinkInfo.
func describe(l netlink.Link, master string) LinkInfo {
	a := l.Attrs()
	li := LinkInfo{
		Name: a.Name, Kind: l.Type(), Index: a.Index, Master: master,
		Up: a.Flags&net.FlagUp != 0, OperState: a.OperState.String(),
		MAC: a.HardwareAddr.String(), MTU: a.MTU, PeerNetnsID: -1,
	}
	if li.Kind == "veth" {
		// For a veth, IFLA_LINK is the peer's ifindex, counted in the
		// peer's namespace; IFLA_LINK_NETNSID says which namespace that is
		// (the host's id for it). `ip link` shows them as kl-...@ifN and
		// link-netnsid N.
		li.PeerIndex, li.PeerNetnsID = a.ParentIndex, a.NetNsID
	}
	if addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL); err == nil {
		li.Addrs = prefixes(addrs)
	}
	return li
}

// prefixes converts netlink addresses, IPv4 first (the ones the lab
// hands out; IPv6 ones are the kernel's automatic link-local addresses).
func prefixes(addrs []netlink.Addr) []netip.Prefix {
	var out []netip.Prefix
	for _, ad := range addrs {
		if p, ok := toPrefix(ad.IPNet); ok {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr().Is4() && !out[j].Addr().Is4() })
	return out
}

// peerOf reads the veth peer's name and addresses from inside the
// sandbox's namespace, if its process still runs.
func peerOf(lease Lease, index int) (string, []netip.Prefix) {
	if !lease.alive() {
		return "", nil
	}
	h, err := handleAt(lease.PID)
	if err != nil {
		return "", nil
	}
	defer h.Close()
	l, err := h.LinkByIndex(index)
	if err != nil {
		return "", nil
	}
	addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return l.Attrs().Name, nil
	}
	return l.Attrs().Name, prefixes(addrs)
}
