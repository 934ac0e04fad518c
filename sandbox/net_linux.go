//go:build linux

package sandbox

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/kcna-lab/kcna-lab/sandbox/event"
	"github.com/kcna-lab/kcna-lab/sandbox/network"
)

// attachNetwork plugs the init's network namespace into the bridge while
// the init still waits for its config, so the command starts with its
// network up: a veth and an address (network.Attach), kcna-lab's DNS
// server on 127.0.0.11 inside the namespace, the resolver file the init
// mounts over /etc/resolv.conf, and one proxy per published port. The
// servers live in this process, so they last as long as the sandbox's
// kcna-lab does (the background one, with --detach).
func (sb *Sandbox) attachNetwork(pid int, cfg *initConfig) error {
	n := sb.spec.Net
	if !slices.Contains(sb.spec.Isolate, NSNet) {
		return fmt.Errorf("--net bridge needs the sandbox's own network namespace: add net to --isolate")
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("--net bridge creates a bridge and veth pairs on the host, which needs root: run with sudo (rootless tools use slirp4netns or pasta instead)")
	}
	ep, err := network.Attach(network.Config{Bridge: n.Bridge, Subnet: n.Subnet}, sb.Name, pid, sb.journal, sb.sink)
	if err != nil {
		return err
	}
	sb.endpoint = ep

	var dns io.Closer
	if err := event.Step(sb.sink, fmt.Sprintf("setns(/proc/%d/ns/net); socket(); bind(%s)  # DNS, udp and tcp", pid, network.DNSAddr),
		fmt.Sprintf("nsenter --net=/proc/%d/ns/net <a DNS server on %s>", pid, network.DNSAddr),
		func() (err error) {
			dns, err = network.ServeDNS(pid, network.Lookup(ep.Bridge))
			return err
		}); err != nil {
		return fmt.Errorf("start the DNS server for %s: %w", sb.Name, err)
	}
	sb.closers = append(sb.closers, dns)

	resolv := filepath.Join(sb.dir, "resolv.conf")
	if err := os.WriteFile(resolv, network.ResolvConf(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", resolv, err)
	}
	cfg.ResolvConf = resolv

	for _, m := range n.Publish {
		p, err := network.Publish(m.HostPort, netip.AddrPortFrom(ep.IP, uint16(m.ContainerPort)), sb.sink)
		if err != nil {
			return fmt.Errorf("--publish %s: %w", m, err)
		}
		sb.closers = append(sb.closers, p)
	}
	event.Narrate(sb.sink, fmt.Sprintf("Sandbox %s is %s on %s; other sandboxes on the bridge reach it as %s.kcna.local.", sb.Name, ep.IP, ep.Bridge, sb.Name))
	return nil
}

// detachNetwork stops the servers and takes the sandbox off the bridge.
func (sb *Sandbox) detachNetwork() error {
	var first error
	for _, c := range slices.Backward(sb.closers) {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	sb.closers = nil
	if sb.endpoint != nil {
		if err := sb.endpoint.Detach(sb.sink); err != nil && first == nil {
			first = err
		}
		sb.endpoint = nil
	}
	return first
}
