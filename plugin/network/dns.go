package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Domain is the DNS zone sandboxes are named in: NAME.kcna.local.
const Domain = "kcna.local."

// DNSAddr is where ServeDNS listens inside a sandbox: the address Docker's
// embedded DNS uses too. Any 127.x address is local once lo is up, so it
// needs no `ip addr add`.
var DNSAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 11}), 53)

// soa is the zone's SOA, sent with negative answers. Its minimum TTL is 0,
// as are the A records' TTLs, so no resolver caches an answer: a stopped
// sandbox's name stops resolving at once and a new one's starts at once.
var soa = &dns.SOA{
	Hdr:     dns.RR_Header{Name: Domain, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 0},
	Ns:      "ns." + Domain,
	Mbox:    "hostmaster." + Domain,
	Serial:  1,
	Refresh: 3600,
	Retry:   600,
	Expire:  86400,
	Minttl:  0,
}

// dnsHandler answers for kcna.local from lookup and refuses the rest.
type dnsHandler struct {
	lookup func(name string) (netip.Addr, bool)
}

// ServeDNS implements dns.Handler.
func (h dnsHandler) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	_ = w.WriteMsg(h.answer(r))
}

// answer builds the reply to r.
func (h dnsHandler) answer(r *dns.Msg) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = false // we never recurse: no forwarding to the outside
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(1232, false)
	}
	if r.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return m
	}
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return m
	}
	q := r.Question[0]
	name := dns.CanonicalName(q.Name)
	if !dns.IsSubDomain(Domain, name) || (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) {
		// Not ours. A real embedded DNS (Docker's) forwards these to the
		// host's resolvers; kcna-lab's sandboxes have no way out, so say
		// so plainly rather than time out.
		m.Rcode = dns.RcodeRefused
		return m
	}
	m.Authoritative = true
	if name == Domain {
		if q.Qtype == dns.TypeSOA || q.Qtype == dns.TypeANY {
			m.Answer = append(m.Answer, soa)
		} else {
			m.Ns = append(m.Ns, soa)
		}
		return m
	}
	label := strings.TrimSuffix(name, "."+Domain)
	ip, ok := netip.Addr{}, false
	if !strings.Contains(label, ".") {
		ip, ok = h.lookup(label)
	}
	if !ok || !ip.Is4() {
		m.Rcode = dns.RcodeNameError // NXDOMAIN: no such sandbox (any more)
		m.Ns = append(m.Ns, soa)
		return m
	}
	switch q.Qtype {
	case dns.TypeA, dns.TypeANY:
		m.Answer = append(m.Answer, &dns.A{
			Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 0},
			A:   net.IP(ip.AsSlice()),
		})
	default:
		// The name exists but has no record of this type (AAAA, MX...):
		// NOERROR with no answer. NXDOMAIN here would make resolvers that
		// ask for A and AAAA together (musl, glibc) give up on the name.
		m.Ns = append(m.Ns, soa)
	}
	return m
}

// dnsServer is a running ServeDNS: one UDP and one TCP server.
type dnsServer struct {
	servers []*dns.Server
	wg      sync.WaitGroup
	once    sync.Once
	err     error
}

// serveDNS serves on sockets that already exist (made in the sandbox's
// namespace by ServeDNS) and returns once both servers run.
func serveDNS(pc net.PacketConn, ln net.Listener, lookup func(string) (netip.Addr, bool)) (*dnsServer, error) {
	if lookup == nil {
		return nil, errors.New("serve DNS: no lookup function")
	}
	h := dnsHandler{lookup: lookup}
	s := &dnsServer{servers: []*dns.Server{
		{PacketConn: pc, Handler: h},
		{Listener: ln, Handler: h},
	}}
	// Each server may report twice (started, then an error), so the
	// channel has room for all of them and no sender ever blocks.
	started := make(chan error, 2*len(s.servers))
	for _, srv := range s.servers {
		srv.NotifyStartedFunc = func() { started <- nil }
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			// ActivateAndServe returns at once on error, and after
			// Shutdown otherwise; only the first case matters here.
			if err := srv.ActivateAndServe(); err != nil {
				started <- err
			}
		}()
	}
	for range s.servers {
		if err := <-started; err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("serve DNS: %w", err)
		}
	}
	return s, nil
}

// Close stops both servers and closes their sockets.
func (s *dnsServer) Close() error {
	s.once.Do(func() {
		var errs []error
		for _, srv := range s.servers {
			if err := srv.Shutdown(); err != nil && !strings.Contains(err.Error(), "not started") {
				errs = append(errs, err)
			}
		}
		s.wg.Wait()
		// Shutdown leaves the sockets of a server that never started open.
		for _, srv := range s.servers {
			if srv.PacketConn != nil {
				_ = srv.PacketConn.Close()
			}
			if srv.Listener != nil {
				_ = srv.Listener.Close()
			}
		}
		s.err = errors.Join(errs...)
	})
	return s.err
}

var _ io.Closer = (*dnsServer)(nil)
