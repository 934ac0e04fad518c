//go:build linux

package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
)

// ServeDNS runs a DNS server on 127.0.0.11:53, UDP and TCP, inside the
// network namespace of pid, answering A queries for NAME.kcna.local with
// lookup(NAME): NXDOMAIN when lookup says no, REFUSED for any name outside
// kcna.local (nothing is forwarded). Lookup is asked on every query, so a
// name stops resolving the moment lookup stops knowing it; Lookup(bridge)
// is a lookup backed by the IPAM's leases. Call it after Attach: the
// address is on lo, which a new namespace starts with down.
//
// The sockets are made on a thread that joins pid's namespace and comes
// back; a socket belongs to the namespace it was made in for good, so the
// server then runs on ordinary goroutines in this process. That is how
// Docker's embedded DNS listens inside each container (it binds random
// ports there and redirects port 53 to them with iptables rules in the
// container's namespace; kcna-lab binds port 53 itself). The kernel counts
// the sockets as users of the namespace, so it (and the sandbox's eth0,
// and so the host end of its veth) outlives the sandbox's processes until
// Close: close the server when the sandbox stops.
func ServeDNS(pid int, lookup func(name string) (netip.Addr, bool)) (io.Closer, error) {
	if lookup == nil {
		return nil, errors.New("serve DNS: no lookup function")
	}
	var pc net.PacketConn
	var ln net.Listener
	err := inNetns(pid, func() error {
		var err error
		if pc, err = net.ListenPacket("udp4", DNSAddr.String()); err != nil {
			if errors.Is(err, syscall.EADDRNOTAVAIL) {
				// 127.0.0.0/8 is only local once lo is up.
				return fmt.Errorf("listen udp %s: lo is down in that namespace; Attach first (it brings lo up): %w", DNSAddr, err)
			}
			return fmt.Errorf("listen udp %s: %w", DNSAddr, err)
		}
		if ln, err = net.Listen("tcp4", DNSAddr.String()); err != nil {
			_ = pc.Close()
			return fmt.Errorf("listen tcp %s: %w", DNSAddr, err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("serve DNS in the network namespace of %d: %w", pid, err)
	}
	s, err := serveDNS(pc, ln, lookup)
	if err != nil {
		return nil, fmt.Errorf("serve DNS in the network namespace of %d: %w", pid, err)
	}
	return s, nil
}
