// Package network gives sandboxes a network the way Docker's default
// bridge network does it, built step by step on the learner's kernel: a
// Linux bridge (a virtual switch) on the host, one veth pair (a virtual
// cable) per sandbox with one end on the bridge and the other end, renamed
// eth0, inside the sandbox's network namespace, an address from a small
// IPAM, and a default route via the bridge. Every netlink call is emitted
// as an event with the `ip ...` command that does the same.
//
// On top of that: a DNS server inside each sandbox's network namespace
// that answers NAME.kcna.local (service discovery), and a userspace TCP
// proxy on 127.0.0.1 for published ports. Nothing here forwards or NATs
// traffic to the outside world, and nothing changes the host's sysctls or
// firewall.
//
// Without root the same network runs one level down, as rootless
// container runtimes run theirs: the bridge is in the network namespace of
// a holder process in the user's own user namespace (holder_linux.go),
// which clones the user's networked sandboxes so that it may plug them in,
// and serves their DNS and published ports (rootless_linux.go is the
// client's side). Lessons 10 (networking), 11 (service discovery) and 12
// (service mesh) run on it.
package network

import (
	"errors"
	"fmt"
	"github.com/kcna-lab/kcna-lab/sandbox"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultBridge is the bridge sandboxes join unless told otherwise. The
// kl- prefix is what lets `kcna-lab clean` recognise it as kcna-lab's.
const DefaultBridge = "kl-br0"

// DefaultSubnet is the network sandboxes get their addresses from.
//
// Why 10.213.0.0/24: it is private (RFC 1918), so it is never routed on
// the internet, and it stays clear of the ranges container tools on a
// learner's machine are likely to use already: Docker's bridge
// 172.17.0.0/16 and its default pools (172.16.0.0/12, 192.168.0.0/16),
// Kubernetes' usual pod network 10.244.0.0/16 and service range
// 10.96.0.0/12 (10.96-10.111), podman's 10.88.0.0/16, k3s's 10.42/10.43,
// Weave's 10.32.0.0/12 and kubespray's 10.233.0.0/16. A /24 (253
// sandboxes) is plenty for a lab and takes little room. Attach still
// checks the host's routes and refuses a subnet that overlaps one, so a
// clash is reported, not silently routed.
var DefaultSubnet = netip.MustParsePrefix("10.213.0.0/24")

// Config says which bridge and subnet a sandbox joins. The zero value
// means DefaultBridge and DefaultSubnet.
type Config struct {
	// Bridge is the bridge's name: kl- or kcna- prefix, at most 15 bytes
	// (the kernel's IFNAMSIZ less the NUL).
	Bridge string
	// Subnet is the IPv4 network; its first host is the bridge's (and the
	// sandboxes' gateway's) address.
	Subnet netip.Prefix
}

// resolve fills in defaults and checks the result.
func (c Config) resolve() (Config, error) {
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if !c.Subnet.IsValid() {
		c.Subnet = DefaultSubnet
	}
	if err := validLinkName(c.Bridge); err != nil {
		return c, fmt.Errorf("bridge: %w", err)
	}
	if err := checkSubnet(c.Subnet); err != nil {
		return c, err
	}
	return c, nil
}

// Gateway is the bridge's address: the subnet's first host.
func (c Config) Gateway() netip.Addr {
	s := c.Subnet
	if !s.IsValid() {
		s = DefaultSubnet
	}
	return s.Masked().Addr().Next()
}

// ParseSubnet reads a --subnet value such as "10.213.0.0/24".
func ParseSubnet(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil && a.Is4() {
			return netip.Prefix{}, fmt.Errorf("--subnet %q: give the prefix length too, e.g. %s/24", s, a)
		}
		return netip.Prefix{}, fmt.Errorf("--subnet %q: want an IPv4 network in CIDR form, e.g. %s", s, DefaultSubnet)
	}
	if err := checkSubnet(p); err != nil {
		return netip.Prefix{}, fmt.Errorf("--subnet %q: %w", s, err)
	}
	return p, nil
}

// checkSubnet says what is wrong with p as a sandbox network.
func checkSubnet(p netip.Prefix) error {
	if !p.Addr().Is4() {
		return fmt.Errorf("subnet %s: only IPv4 is supported, e.g. %s", p, DefaultSubnet)
	}
	if p.Masked() != p {
		return fmt.Errorf("subnet %s has host bits set; did you mean %s?", p, p.Masked())
	}
	if p.Bits() > 30 {
		return fmt.Errorf("subnet %s is too small: the bridge takes one address and each sandbox another, so use /30 or larger (e.g. /24)", p)
	}
	if p.Bits() < 8 {
		return fmt.Errorf("subnet %s is too large: use /8 or smaller (a lab needs a /24)", p)
	}
	// A public range would shadow real hosts on the internet for the
	// whole machine; private ranges are never routed there.
	if !p.Addr().IsPrivate() || !lastAddr(p).IsPrivate() {
		return fmt.Errorf("subnet %s is not a private (RFC 1918) range; pick one inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16, e.g. %s", p, DefaultSubnet)
	}
	return nil
}

// lastAddr is the highest address of an IPv4 prefix (its broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Endpoint is one sandbox's place on the bridge.
type Endpoint struct {
	// Name is the sandbox's name, which DNS answers as Name.kcna.local.
	Name string
	// PID is the process whose network namespace eth0 lives in.
	PID int
	// IP is eth0's address; Prefix is the same with the subnet's length.
	IP     netip.Addr
	Prefix netip.Prefix
	// Gateway is the bridge's address, the sandbox's default route.
	Gateway netip.Addr
	// HostVeth is the host end of the veth pair, enslaved to Bridge.
	HostVeth string
	Bridge   string

	// startTime ties the endpoint to its lease: a PID alone may be reused.
	startTime uint64
}

// Lease is one address the IPAM has handed out. It is tied to the
// sandbox's name and to its process (PID and start time, since PIDs are
// reused): when that process is gone the lease is dead and its address
// can be handed out again, even if nobody called Detach.
type Lease struct {
	Name      string     `json:"name"`
	IP        netip.Addr `json:"ip"`
	PID       int        `json:"pid"`
	StartTime uint64     `json:"start_time"`
	HostVeth  string     `json:"host_veth"`
	Created   time.Time  `json:"created"`
}

// LinkInfo is what netlink reports about the bridge or one of its ports,
// for the TUI's bridge/veth map.
type LinkInfo struct {
	Name  string // kl-br0, kl-web-3f2a1c
	Kind  string // "bridge" or "veth" (or whatever else was enslaved)
	Index int
	// Master is the bridge a port is enslaved to; empty for the bridge.
	Master    string
	Up        bool   // administratively up (ip link set ... up)
	OperState string // what the kernel says: "up", "down", "lowerlayerdown", ...
	MAC       string
	MTU       int
	Addrs     []netip.Prefix // addresses on this link (the bridge has the gateway's)

	// For a veth: its peer's interface index and network namespace id, as
	// the host sees them (`ip link` prints them as "@ifN" and
	// "link-netnsid N"); PeerNetnsID is -1 when unknown.
	PeerIndex   int
	PeerNetnsID int
	// PeerName and PeerAddrs are read from inside the peer's namespace
	// when the lease names a live process that holds it; empty otherwise.
	PeerName  string
	PeerAddrs []netip.Prefix
	// Sandbox and PID come from the IPAM lease for this veth, if any.
	Sandbox string
	PID     int
}

// PortMapping is a parsed --publish HOSTPORT:CTRPORT; the sandbox's type,
// which a Spec carries.
type PortMapping = sandbox.PortMapping

// ParsePublish reads a --publish value: HOSTPORT:CTRPORT, optionally with
// a 127.0.0.1: prefix or a /tcp suffix, as in Docker's -p.
func ParsePublish(s string) (PortMapping, error) {
	orig := s
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		proto := strings.ToLower(s[i+1:])
		if proto != "tcp" {
			return PortMapping{}, fmt.Errorf("--publish %q: only tcp can be published (kcna-lab's port proxy is a TCP proxy)", orig)
		}
		s = s[:i]
	}
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 2:
	case 3:
		if h := parts[0]; h != "127.0.0.1" && h != "localhost" {
			return PortMapping{}, fmt.Errorf("--publish %q: kcna-lab publishes on 127.0.0.1 only, so nothing outside this machine can reach a sandbox; use HOSTPORT:CTRPORT", orig)
		}
		parts = parts[1:]
	default:
		return PortMapping{}, fmt.Errorf("--publish %q: want HOSTPORT:CTRPORT, e.g. 8080:80 (port 8080 on 127.0.0.1 forwards to port 80 in the sandbox)", orig)
	}
	host, err := parsePort(parts[0])
	if err != nil {
		return PortMapping{}, fmt.Errorf("--publish %q: host port: %w", orig, err)
	}
	ctr, err := parsePort(parts[1])
	if err != nil {
		return PortMapping{}, fmt.Errorf("--publish %q: sandbox port: %w", orig, err)
	}
	return PortMapping{HostPort: host, ContainerPort: ctr}, nil
}

func parsePort(s string) (int, error) {
	if strings.Contains(s, "-") {
		return 0, fmt.Errorf("%q: port ranges are not supported; publish one port at a time", s)
	}
	if s == "" {
		return 0, errors.New("missing; want a number from 1 to 65535")
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number; want 1 to 65535", s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%d is out of range; want 1 to 65535", n)
	}
	return n, nil
}

// linkNameRE is what the kernel accepts as an interface name that we are
// also happy to pass to a shell command unquoted.
var linkNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`) })

// validLinkName checks a name kcna-lab will create: kl- or kcna- prefix,
// so that `kcna-lab clean` knows it and touches nothing else, and short
// enough for the kernel (IFNAMSIZ is 16 with the NUL).
func validLinkName(name string) error {
	if !strings.HasPrefix(name, "kl-") && !strings.HasPrefix(name, "kcna-") {
		return fmt.Errorf("link name %q: must start with kl- or kcna- so that kcna-lab clean recognises it", name)
	}
	if len(name) > 15 {
		return fmt.Errorf("link name %q: %d bytes, the kernel allows 15", name, len(name))
	}
	if !linkNameRE().MatchString(name) {
		return fmt.Errorf("link name %q: use letters, digits, '-', '_' and '.'", name)
	}
	return nil
}

// dnsLabelRE is a DNS label in lower case, which is also what sandbox
// names are (sandbox.ValidateName), so every sandbox name resolves.
var dnsLabelRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`) })

func validName(name string) error {
	if !dnsLabelRE().MatchString(name) {
		return fmt.Errorf("sandbox name %q: must be a DNS label (lower-case letters, digits and inner dashes, at most 63) to resolve as NAME.kcna.local", name)
	}
	return nil
}

// stateDir is where the IPAM keeps its lease files: in the sandboxes'
// state dir, /run/kcna-lab as root, so leases vanish with a reboot just as
// the links they describe do.
func stateDir() string {
	if holderStateDir != "" {
		return filepath.Join(holderStateDir, "network")
	}
	return filepath.Join(sandbox.StateDir(), "network")
}

// holderStateDir is the kcna-lab state directory of the user a rootless
// network holder serves; set in the holder only, where that user is root
// and sandbox.StateDir would name root's.
var holderStateDir string

// ResolvConf is the /etc/resolv.conf for a sandbox on the bridge: its
// resolver is the DNS server ServeDNS runs inside its own network
// namespace, and bare names are tried as NAME.kcna.local.
func ResolvConf() []byte {
	return []byte(`# Written by kcna-lab. 127.0.0.11 is kcna-lab's DNS server, listening
# inside this sandbox's own network namespace (Docker's embedded DNS uses the
# same address). It answers NAME.kcna.local for running sandboxes and
# refuses everything else: there is no forwarding to the outside world.
nameserver 127.0.0.11
search kcna.local
options ndots:1
`)
}
