package network

import (
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/kcna-lab/kcna-lab/event"
)

func TestDefaultSubnetAvoidsCommonRanges(t *testing.T) {
	// The ranges DefaultSubnet's comment promises to stay clear of.
	for _, s := range []string{
		"172.17.0.0/16", "172.16.0.0/12", "192.168.0.0/16", // Docker
		"10.244.0.0/16", "10.96.0.0/12", // Kubernetes pods, services
		"10.88.0.0/16",                 // podman
		"10.42.0.0/16", "10.43.0.0/16", // k3s
		"10.32.0.0/12",  // Weave
		"10.233.0.0/16", // kubespray
	} {
		if DefaultSubnet.Overlaps(netip.MustParsePrefix(s)) {
			t.Errorf("DefaultSubnet %s overlaps %s", DefaultSubnet, s)
		}
	}
	if err := checkSubnet(DefaultSubnet); err != nil {
		t.Errorf("DefaultSubnet is not valid: %v", err)
	}
	if err := validLinkName(DefaultBridge); err != nil {
		t.Errorf("DefaultBridge: %v", err)
	}
	if got := (Config{}).Gateway(); got != netip.MustParseAddr("10.213.0.1") {
		t.Errorf("default gateway = %s", got)
	}
}

func TestParseSubnet(t *testing.T) {
	if p, err := ParseSubnet(" 10.9.8.0/24 "); err != nil || p != netip.MustParsePrefix("10.9.8.0/24") {
		t.Errorf("ParseSubnet(10.9.8.0/24) = %v, %v", p, err)
	}
	for in, want := range map[string]string{
		"10.9.8.1/24":     "did you mean 10.9.8.0/24",
		"10.9.8.0":        "give the prefix length too, e.g. 10.9.8.0/24",
		"banana":          "CIDR form",
		"fd00::/64":       "only IPv4",
		"10.9.8.0/31":     "too small",
		"10.0.0.0/7":      "too large",
		"8.8.8.0/24":      "not a private",
		"172.31.255.0/24": "", // private: fine
	} {
		_, err := ParseSubnet(in)
		switch {
		case want == "" && err != nil:
			t.Errorf("ParseSubnet(%q): %v", in, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("ParseSubnet(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}

func TestParsePublish(t *testing.T) {
	for in, want := range map[string]PortMapping{
		"8080:80":           {HostPort: 8080, ContainerPort: 80},
		"127.0.0.1:8080:80": {HostPort: 8080, ContainerPort: 80},
		"8080:80/tcp":       {HostPort: 8080, ContainerPort: 80},
		"1:65535":           {HostPort: 1, ContainerPort: 65535},
	} {
		got, err := ParsePublish(in)
		if err != nil || got != want {
			t.Errorf("ParsePublish(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"8080":                 "want HOSTPORT:CTRPORT",
		"8080:80/udp":          "only tcp",
		"0.0.0.0:8080:80":      "127.0.0.1 only",
		"8080:http":            "sandbox port: \"http\" is not a number",
		"70000:80":             "host port: 70000 is out of range",
		"8080-8081:80-81":      "ranges are not supported",
		":80":                  "host port: missing",
		"1:2:3:4":              "want HOSTPORT:CTRPORT",
		"127.0.0.1:8080:0/tcp": "sandbox port: 0 is out of range",
	} {
		_, err := ParsePublish(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePublish(%q) = %v, want an error saying %q", in, err, want)
		}
	}
	if got, err := ParsePublish(" 8080:80 "); err != nil || got != (PortMapping{HostPort: 8080, ContainerPort: 80}) {
		t.Errorf("ParsePublish with spaces = %v, %v", got, err)
	}
	if s := (PortMapping{HostPort: 8080, ContainerPort: 80}).String(); s != "8080:80" {
		t.Errorf("String = %q", s)
	}
}

func TestResolvConf(t *testing.T) {
	rc := string(ResolvConf())
	for _, line := range []string{"nameserver 127.0.0.11\n", "search kcna.local\n"} {
		if !strings.Contains(rc, line) {
			t.Errorf("ResolvConf lacks %q:\n%s", line, rc)
		}
	}
	if strings.Count(rc, "nameserver") != 1 {
		t.Errorf("ResolvConf must name exactly one nameserver (no fallback that leaks queries):\n%s", rc)
	}
}

func TestValidNames(t *testing.T) {
	for _, ok := range []string{"kl-br0", "kcna-x", "kl-test-br", "kl-12345678901"} {
		if err := validLinkName(ok); err != nil {
			t.Errorf("validLinkName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"br0", "docker0", "kl-1234567890123", "kl-a b", "kl-a/b"} {
		if validLinkName(bad) == nil {
			t.Errorf("validLinkName(%q) accepted", bad)
		}
	}
	for _, ok := range []string{"web", "a", "db-1", strings.Repeat("a", 63)} {
		if err := validName(ok); err != nil {
			t.Errorf("validName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Web", "-a", "a-", "a.b", strings.Repeat("a", 64)} {
		if validName(bad) == nil {
			t.Errorf("validName(%q) accepted", bad)
		}
	}
}

// names is a lookup the test can change while the server runs.
type names struct {
	mu sync.Mutex
	m  map[string]netip.Addr
}

func (n *names) lookup(name string) (netip.Addr, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	a, ok := n.m[name]
	return a, ok
}

func (n *names) set(name string, a netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a.IsValid() {
		n.m[name] = a
	} else {
		delete(n.m, name)
	}
}

// query asks server one question over network ("udp" or "tcp").
func query(t *testing.T, network, server, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, server)
	return r, err
}

// checkAnswers runs the DNS assertions shared by the loopback test and the
// in-namespace test: ask is how to send one query.
func checkAnswers(t *testing.T, ask func(network, name string, qtype uint16) (*dns.Msg, error), n *names, want netip.Addr) {
	t.Helper()
	for _, nw := range []string{"udp", "tcp"} {
		r, err := ask(nw, "web.kcna.local.", dns.TypeA)
		if err != nil {
			t.Fatalf("%s query web.kcna.local: %v", nw, err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !r.Authoritative {
			t.Fatalf("%s web.kcna.local: rcode %s, %d answers, aa=%v", nw, dns.RcodeToString[r.Rcode], len(r.Answer), r.Authoritative)
		}
		a, ok := r.Answer[0].(*dns.A)
		if !ok || a.A.String() != want.String() || a.Hdr.Ttl != 0 {
			t.Fatalf("%s web.kcna.local answer = %v, want %s with TTL 0", nw, r.Answer[0], want)
		}
	}
	// Case does not matter in DNS.
	if r, err := ask("udp", "WEB.Kcna.Local.", dns.TypeA); err != nil || len(r.Answer) != 1 {
		t.Errorf("WEB.Kcna.Local: %v %v", r, err)
	}
	// AAAA for a known name: the name exists, it just has no IPv6 address.
	if r, err := ask("udp", "web.kcna.local.", dns.TypeAAAA); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Errorf("AAAA web.kcna.local = %v, %v; want NOERROR with no answer", r, err)
	}
	if r, err := ask("udp", "nope.kcna.local.", dns.TypeA); err != nil || r.Rcode != dns.RcodeNameError {
		t.Errorf("nope.kcna.local = %v, %v; want NXDOMAIN", r, err)
	}
	if r, err := ask("udp", "example.com.", dns.TypeA); err != nil || r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Errorf("example.com = %v, %v; want REFUSED", r, err)
	}
	if r, err := ask("udp", "kcna.local.", dns.TypeSOA); err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Errorf("SOA kcna.local = %v, %v", r, err)
	}
	// The sandbox stops: lookup no longer knows it, and the name is gone.
	n.set("web", netip.Addr{})
	if r, err := ask("udp", "web.kcna.local.", dns.TypeA); err != nil || r.Rcode != dns.RcodeNameError {
		t.Errorf("web.kcna.local after it stopped = %v, %v; want NXDOMAIN", r, err)
	}
}

// TestDNSHandler runs the server on loopback in the test's own namespace,
// so the answers are checked without root.
func TestDNSHandler(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("10.213.0.7")
	n := &names{m: map[string]netip.Addr{"web": ip}}
	s, err := serveDNS(pc, ln, n.lookup)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ask := func(network, name string, qtype uint16) (*dns.Msg, error) {
		addr := pc.LocalAddr().String()
		if network == "tcp" {
			addr = ln.Addr().String()
		}
		return query(t, network, addr, name, qtype)
	}
	checkAnswers(t, ask, n, ip)
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := query(t, "tcp", ln.Addr().String(), "web.kcna.local.", dns.TypeA); err == nil {
		t.Error("server still answers after Close")
	}
}

// upperServer accepts on ln; for each connection it reads until the
// client half-closes, then answers prefix + the upper-cased request and
// closes. Reading to EOF before answering is what shows half-close works.
func upperServer(ln net.Listener, prefix string) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := io.ReadAll(c)
				if err != nil {
					return
				}
				_, _ = c.Write([]byte(prefix + strings.ToUpper(string(b))))
			}()
		}
	}()
}

// roundTrip sends msg on c, half-closes, and reads the whole reply.
func roundTrip(c net.Conn, msg string) (string, error) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		return "", err
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestPublishLoopback checks the proxy itself against a loopback server.
func TestPublishLoopback(t *testing.T) {
	back, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	upperServer(back, "back:")
	target := back.Addr().(*net.TCPAddr).AddrPort()

	var events []event.Event
	var mu sync.Mutex
	sink := event.SinkFunc(func(e event.Event) { mu.Lock(); events = append(events, e); mu.Unlock() })
	port := freePort(t)
	p, err := Publish(port, target, sink)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// Several at once, each with a large body, to exercise both copies.
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				t.Error(err)
				return
			}
			body := strings.Repeat(string(rune('a'+i)), 200_000)
			got, err := roundTrip(c, body)
			if err != nil || got != "back:"+strings.ToUpper(body) {
				t.Errorf("through the proxy: %d bytes, %v", len(got), err)
			}
		}()
	}
	wg.Wait()

	mu.Lock()
	var sawStep, sawDNAT bool
	for _, e := range events {
		sawStep = sawStep || (e.Kind == event.KindStep && strings.HasPrefix(e.Shell, "socat TCP-LISTEN:") && e.OK())
		sawDNAT = sawDNAT || (e.Kind == event.KindNarration && strings.Contains(e.Text, "DNAT") && strings.Contains(e.Text, "docker-proxy"))
	}
	mu.Unlock()
	if !sawStep || !sawDNAT {
		t.Errorf("events: listen step %v, DNAT narration %v", sawStep, sawDNAT)
	}

	// The same port twice is a clear error.
	if _, err := Publish(port, target, nil); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("second Publish on %d: %v", port, err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if c, err := net.DialTimeout("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		c.Close()
		t.Error("port still open after Close")
	}
}
