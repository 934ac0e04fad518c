package network

import (
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Importing this package makes it the sandbox's network plugin, for
// Spec.Net (--net bridge).
func init() { sandbox.RegisterNetwork(plugin{}) }

// plugin is --net bridge: a veth on the bridge, an address from the IPAM,
// a DNS server on 127.0.0.11 inside the sandbox's network namespace, and a
// proxy per published port.
type plugin struct{}

func (plugin) Attach(n sandbox.Net, name string, pid int, j *journal.Journal, sink event.Sink) (_ *sandbox.Attachment, err error) {
	if os.Geteuid() != 0 {
		// The holder that cloned the sandbox plugs it in (SpawnInit).
		return rootlessAttach(n, name, pid, sink)
	}
	ep, err := Attach(Config{Bridge: n.Bridge, Subnet: n.Subnet}, name, pid, j, sink)
	if err != nil {
		return nil, err
	}
	a := &sandbox.Attachment{Bridge: ep.Bridge, IP: ep.IP, ResolvConf: ResolvConf()}
	// Closed newest first by whoever ends the sandbox; on failure here.
	var closers []io.Closer
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				_ = closers[i].Close()
			}
		}
	}()
	closers = append(closers, closerFunc(func() error { return ep.Detach(sink) }))

	var dns io.Closer
	if err := event.Step(sink, fmt.Sprintf("setns(/proc/%d/ns/net); socket(); bind(%s)  # DNS, udp and tcp", pid, DNSAddr),
		fmt.Sprintf("nsenter --net=/proc/%d/ns/net <a DNS server on %s>", pid, DNSAddr),
		func() (err error) {
			dns, err = ServeDNS(pid, Lookup(ep.Bridge))
			return err
		}); err != nil {
		return nil, fmt.Errorf("start the DNS server for %s: %w", name, err)
	}
	closers = append(closers, dns)

	for _, m := range n.Publish {
		p, err := Publish(m.HostPort, netip.AddrPortFrom(ep.IP, uint16(m.ContainerPort)), sink)
		if err != nil {
			return nil, fmt.Errorf("--publish %s: %w", m, err)
		}
		closers = append(closers, p)
	}
	event.Narrate(sink, fmt.Sprintf("Sandbox %s is %s on %s; other sandboxes on the bridge reach it as %s.kcna.local.", name, ep.IP, ep.Bridge, name))
	for i := len(closers) - 1; i >= 0; i-- {
		a.Closers = append(a.Closers, closers[i])
	}
	return a, nil
}

func (plugin) Prune(sink event.Sink) error { return PruneAll(sink) }

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
