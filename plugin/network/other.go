//go:build !linux

package network

import (
	"errors"
	"io"
	"net/netip"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// errNeedsLinux is what the network operations say off Linux: bridges,
// veth pairs and network namespaces are Linux kernel features.
var errNeedsLinux = errors.New("kcna-lab's sandbox network needs Linux: bridges, veth pairs and network namespaces are Linux kernel features; run it in a Linux VM")

// Attach needs Linux.
func Attach(Config, string, int, *journal.Journal, event.Sink) (*Endpoint, error) {
	return nil, errNeedsLinux
}

// Detach needs Linux.
func (*Endpoint) Detach(event.Sink) error { return errNeedsLinux }

// Prune needs Linux.
func Prune(string, event.Sink) error { return errNeedsLinux }

// PruneAll needs Linux.
func PruneAll(event.Sink) error { return errNeedsLinux }

// ServeDNS needs Linux.
func ServeDNS(int, func(string) (netip.Addr, bool)) (io.Closer, error) { return nil, errNeedsLinux }

// Links needs Linux.
func Links(string) ([]LinkInfo, error) { return nil, errNeedsLinux }

// Leases needs Linux.
func Leases(string) ([]Lease, error) { return nil, errNeedsLinux }

// Lookup knows no names off Linux.
func Lookup(string) func(string) (netip.Addr, bool) {
	return func(string) (netip.Addr, bool) { return netip.Addr{}, false }
}

func rootlessAttach(sandbox.Net, string, int, event.Sink) (*sandbox.Attachment, error) {
	return nil, errNeedsLinux
}

// HolderPID is 0: there is no network holder off Linux.
func HolderPID() int { return 0 }
