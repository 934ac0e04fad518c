//go:build linux

package demos

import (
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/network"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

func TestDNSDiscoveryDemo(t *testing.T) {
	db, app := demoName("db"), demoName("app")
	var veths []string
	leaveNoTrace(t, &veths, db, app)
	lookup := network.Lookup("")
	runProbed(t, "dns-discovery", map[string]func(event.Compare){
		"The DNS answer beside": func(c event.Compare) {
			veths = append(veths, vethsOf(t, db, app)...)
			ip, ok := lookup(db)
			eth0, err := peerAddr(db)
			if !ok || err != nil || eth0.Addr() != ip {
				t.Fatalf("the IPAM says %s is %v (%v); netlink inside it says eth0 is %v (%v)", db, ip, ok, eth0, err)
			}
			// What the client was told is the address the kernel shows.
			if got := nslookupAddrs(strings.Join(c.Left.Lines, "\n")); len(got) != 1 || got[0] != ip {
				t.Errorf("the client's nslookup answered %v, want %s", got, ip)
			}
		},
		"After the server stopped": func(event.Compare) {
			if ip, ok := lookup(db); ok {
				t.Errorf("after %s stopped, the IPAM still resolves it to %s", db, ip)
			}
			if _, err := sandbox.Find(db); err == nil {
				t.Errorf("%s still runs", db)
			}
		},
	})
}

func TestCheckFindByName(t *testing.T) {
	var veths []string
	leaveNoTrace(t, &veths, "db", "app")
	wantVerdict(t, "find-by-name", false, "no sandbox called db")
	start(t, sandbox.Spec{Name: "db", Net: &sandbox.Net{}})
	stopApp := start(t, sandbox.Spec{Name: "app"})
	wantVerdict(t, "find-by-name", false, "sandbox app runs but is not on a bridge")
	stopApp()
	start(t, sandbox.Spec{Name: "app", Net: &sandbox.Net{}})
	veths = vethsOf(t, "db", "app")
	st, err := sandbox.Find("db")
	if err != nil || st.Net == nil {
		t.Fatalf("db: %+v %v", st, err)
	}
	wantVerdict(t, "find-by-name", true, "answers "+st.Net.IP.String())
}
