package demos

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/network"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Lesson 11, service discovery: a sandbox on the bridge is found by its
// name through kcna-lab's DNS, which answers only while it runs.

func discoveryDemos() []Demo {
	return []Demo{{
		ID:         "dns-discovery",
		Title:      "Find a sandbox by name, then lose it: DNS on the bridge",
		Run:        runDNSDiscovery,
		Blocked:    needsBridge,
		ShellFlags: []string{"--name", "lab-dns", "--keep", "--net", "bridge"},
	}}
}

func discoveryChecks() []Check {
	return []Check{{ID: "find-by-name", Verify: checkFindByName}}
}

func runDNSDiscovery(ctx context.Context, sink event.Sink) error {
	db, app := demoName("db"), demoName("app")
	event.Narrate(sink, fmt.Sprintf("Start a server, %s, and a client, %s, on the bridge. Neither is told the other's address; the client will ask for a name.", db, app))
	_, stopDB, err := serveHostname(ctx, db, nil, sink)
	if err != nil {
		return err
	}
	defer stopDB()
	_, stopApp, err := held(ctx, sandbox.Spec{Name: app, Net: &sandbox.Net{}}, sink)
	if err != nil {
		return err
	}
	defer stopApp()

	resolv, err := inside(ctx, app, "grep", "-v", "^#", "/etc/resolv.conf")
	if err != nil {
		return err
	}
	columns(sink, "The client's resolver configuration", app+": /etc/resolv.conf", resolv, "what it means", []string{
		"nameserver 127.0.0.11: ask the DNS server",
		"  listening inside this sandbox's own netns",
		"search kcna.local: a bare name NAME is",
		"  tried as NAME.kcna.local",
	})

	fqdn := db + ".kcna.local"
	answer, err := inside(ctx, app, "nslookup", fqdn, "127.0.0.11")
	if err != nil {
		return err
	}
	eth0, err := peerAddr(db)
	if err != nil {
		return err
	}
	got := nslookupAddrs(strings.Join(answer, "\n"))
	columns(sink, "The DNS answer beside the server's own eth0, read with netlink in its namespace",
		app+": nslookup "+fqdn+" 127.0.0.11", nonEmpty(answer),
		db+": eth0 (ip -4 addr show eth0)", []string{eth0.String()})
	if len(got) != 1 || got[0] != eth0.Addr() {
		return fmt.Errorf("nslookup %s answered %v, but %s's eth0 has %s", fqdn, got, db, eth0)
	}
	event.Narrate(sink, fmt.Sprintf("The name resolves to exactly the address %s holds: kcna-lab's DNS answers from the IPAM's leases, the way cluster DNS answers a Service name from the API server's records instead of from anything typed by hand.", db))

	page, err := inside(ctx, app, "wget", "-qO-", fmt.Sprintf("http://%s:%d/", db, webPort))
	if err != nil {
		return err
	}
	columns(sink, "By name: the search domain turns "+db+" into "+fqdn,
		app, []string{fmt.Sprintf("wget -qO- http://%s:%d/", db, webPort)}, "answer", page)

	event.Narrate(sink, fmt.Sprintf("Now stop %s and ask again.", db))
	stopDB()
	after, _, err := sandbox.ExecOutput(ctx, app, "nslookup", fqdn, "127.0.0.11")
	if err != nil {
		return err
	}
	columns(sink, "After the server stopped", app+": nslookup "+fqdn+" 127.0.0.11", lines(after), "the IPAM", leaseLines(db))
	if !strings.Contains(after, "NXDOMAIN") {
		return fmt.Errorf("after %s stopped, nslookup still said %q; want NXDOMAIN", db, strings.TrimSpace(after))
	}
	event.Narrate(sink, "NXDOMAIN: the name does not exist any more. A lease counts only while its sandbox's process runs, so the name went the moment the server did, before anyone cleaned up. That is what a client must expect in a cluster too: names point at what runs now, and a Service's endpoints change as pods come and go.")
	return nil
}

// peerAddr is the IPv4 address on eth0 inside the named sandbox, read
// with netlink in its namespace (network.Links).
func peerAddr(name string) (netip.Prefix, error) {
	links, err := network.Links("")
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("read the bridge from netlink: %w", err)
	}
	for _, l := range links {
		if l.Sandbox != name {
			continue
		}
		for _, p := range l.PeerAddrs {
			if p.Addr().Is4() {
				return p, nil
			}
		}
	}
	return netip.Prefix{}, fmt.Errorf("netlink shows no address inside sandbox %s: is it on %s? (`kcna-lab ps`)", name, network.DefaultBridge)
}

// leaseLines lists the leases held under name.
func leaseLines(name string) []string {
	ls, err := network.Leases("")
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, l := range ls {
		if l.Name == name {
			out = append(out, fmt.Sprintf("%s holds %s", l.Name, l.IP))
		}
	}
	if len(out) == 0 {
		out = []string{"no live lease for " + name}
	}
	return out
}

// nonEmpty drops blank lines, which nslookup prints between sections.
func nonEmpty(ls []string) []string {
	var out []string
	for _, l := range ls {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// nslookupAddrs picks the answer's addresses out of busybox nslookup's
// output: the "Address" lines after "Name:", not the server's own.
func nslookupAddrs(out string) []netip.Addr {
	var addrs []netip.Addr
	named := false
	for _, l := range lines(out) {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "Name:") {
			named = true
			continue
		}
		if !named || !strings.HasPrefix(l, "Address") {
			continue
		}
		f := strings.Fields(l)
		if a, err := netip.ParseAddr(f[len(f)-1]); err == nil {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// resolvesTo runs nslookup for query inside the sandbox from and reports
// whether the answer is exactly the running sandbox to's address; detail
// says what was found either way.
func resolvesTo(ctx context.Context, from, query, to string, args ...string) (ok bool, detail string, err error) {
	st, err := sandbox.Find(to)
	if err != nil || st.Net == nil {
		return false, fmt.Sprintf("sandbox %s has no address on a bridge", to), nil
	}
	cmd := append([]string{"nslookup", query}, args...)
	out, _, err := sandbox.ExecOutput(ctx, from, cmd...)
	if err != nil {
		return false, "", fmt.Errorf("run %s inside %s: %w", strings.Join(cmd, " "), from, err)
	}
	got := nslookupAddrs(out)
	switch {
	case len(got) == 0:
		msg := strings.Join(lines(strings.TrimSpace(out)), " / ")
		return false, fmt.Sprintf("inside %s, `%s` found no address: %s", from, strings.Join(cmd, " "), msg), nil
	case len(got) != 1 || got[0] != st.Net.IP:
		return false, fmt.Sprintf("inside %s, `%s` answered %v, but %s holds %s", from, strings.Join(cmd, " "), got, to, st.Net.IP), nil
	}
	return true, fmt.Sprintf("inside %s, `%s` answers %s, the address %s holds on %s", from, strings.Join(cmd, " "), st.Net.IP, to, st.Net.Bridge), nil
}

func checkFindByName(ctx context.Context) (Verdict, error) {
	for _, name := range []string{"db", "app"} {
		st, v := running(name, fmt.Sprintf("kcna-lab run --detach --name %s --net bridge", name))
		if v != nil {
			return *v, nil
		}
		if st.Net == nil {
			return fail("sandbox %s runs but is not on a bridge, so it has no name in DNS: stop it (kcna-lab stop %s) and start it with --net bridge", name, name)
		}
	}
	ok, detail, err := resolvesTo(ctx, "app", "db.kcna.local", "db", "127.0.0.11")
	if err != nil || !ok {
		return Verdict{Detail: detail}, err
	}
	eth0, err := peerAddr("db")
	if err != nil {
		return Verdict{}, err
	}
	if ip := sandboxIP("db"); eth0.Addr() != ip {
		return fail("db's lease says %s, but netlink inside db shows eth0 %s: restart db (kcna-lab stop db, then start it again)", ip, eth0)
	}
	return pass("%s; netlink inside db shows eth0 %s", detail, eth0)
}
