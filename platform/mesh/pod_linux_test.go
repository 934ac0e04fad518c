//go:build linux

package mesh

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestMain lets this test binary be a sandbox's init and a pod's sidecar:
// in tests /proc/self/exe is the test binary, so a pod re-executes it as
// `mesh.test mesh sidecar ...`, as it would kcna-lab.
func TestMain(m *testing.M) {
	sandbox.Init()
	if IsSidecarCommand(os.Args[1:]) {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		err := RunSidecarCommand(ctx, os.Args[3:], os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The tests' own bridge and subnet, so that a learner's kl-br0 and other
// packages' tests are never touched.
const (
	testBridge = "kl-t-mesh"
	testLab    = "kt-mesh"
)

var testSubnet = netip.MustParsePrefix("10.213.72.0/24")

// TestPodsInSandboxes is the mesh for real: two sandboxes on a bridge, each
// with a sidecar process inside its network namespace, the control plane
// here. Traffic from the frontend's app reaches reviews through both
// sidecars; with mTLS on, a plaintext request to a sidecar is refused
// (from the host and from inside another sandbox) while sidecar-to-sidecar
// traffic carries the caller's SPIFFE identity; a denied path is refused
// by the callee's sidecar. Afterwards nothing of the test's is left.
func TestPodsInSandboxes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: pods are sandboxes on a bridge (CI runs as root)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := &recorder{}
	lab, err := Up(ctx, LabSpec{
		Name:     testLab,
		Net:      sandbox.Net{Bridge: testBridge, Subnet: testSubnet},
		Services: []Service{{"reviews", "v1"}, {"frontend", "v1"}},
	}, rec)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = lab.Close()
		}
	}()
	front, reviews := lab.Pod("frontend", ""), lab.Pod("reviews", "v1")
	if !testSubnet.Contains(reviews.IP) || reviews.Inbound != reviews.IP.String()+":15006" {
		t.Fatalf("reviews pod at %s, inbound %s", reviews.IP, reviews.Inbound)
	}
	// The sidecar lives in the pod's network namespace, not the host's.
	sidecarNS, _ := sandbox.NamespaceInode(reviews.SidecarPID, sandbox.NSNet)
	podNS, _ := sandbox.NamespaceInode(reviews.InitPID, sandbox.NSNet)
	hostNS, _ := sandbox.NamespaceInode(os.Getpid(), sandbox.NSNet)
	if sidecarNS != podNS || sidecarNS == hostNS {
		t.Fatalf("net namespaces: sidecar %s, pod %s, host %s; want the sidecar in the pod's", sidecarNS, podNS, hostNS)
	}

	// Plaintext: from the frontend's app through both sidecars.
	answers, err := Call(ctx, front.Name, "reviews", "/", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range answers {
		if a.Status != 200 || a.Body != "reviews v1" {
			t.Fatalf("frontend → reviews: %v", answers)
		}
	}
	if a, _ := Call(ctx, front.Name, "reviews", "/admin", 1); a[0].Status != 200 || a[0].Body != "reviews v1 admin page" {
		t.Fatalf("/admin before any rule: %v", a)
	}
	// The reviews sidecar's /metrics, scraped from inside the frontend
	// sandbox over the bridge, counts the four 200s it answered.
	waitFor(t, "reviews' /metrics to count 4 answers", func() bool {
		a, err := Fetch(ctx, front.Name, "http://"+reviews.Metrics+"/metrics", "", 1)
		return err == nil && a[0].Status == 200 &&
			strings.Contains(a[0].Body, `kcna_mesh_requests_total{direction="inbound",service="reviews",code="200"} 4`)
	})
	// The app is on the pod's loopback only: the host cannot reach it.
	if _, err := PlaintextGet(ctx, reviews.IP.String()+":8080", "reviews", "/"); err == nil {
		t.Errorf("the app answered on %s:8080; it should listen on 127.0.0.1 only", reviews.IP)
	}

	admin, err := Dial(ctx, lab.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Push(Rules{MTLS: true, Services: map[string]ServiceRules{"reviews": {Deny: []string{"/admin"}}}}); err != nil {
		t.Fatal(err)
	}
	// The sidecars apply pushed rules when they read them: wait until the
	// reviews sidecar's listener refuses plaintext (400). A connection it
	// accepted just before is refused by the handler instead (403).
	var plain Answer
	waitFor(t, "the reviews sidecar to refuse plaintext", func() bool {
		plain, _ = PlaintextGet(ctx, reviews.Inbound, "reviews", "/")
		return plain.Status == 400
	})
	if plain.Status != 400 || !strings.Contains(plain.Body, "plaintext refused") {
		t.Errorf("plaintext from the host with mTLS on: %+v", plain)
	}
	if a, err := Fetch(ctx, front.Name, "http://"+reviews.Inbound+"/", "reviews", 1); err != nil || a[0].Status != 400 {
		t.Errorf("plaintext from inside the frontend sandbox, skipping its sidecar: %v, %v", a, err)
	}
	// TLS without a certificate from the mesh CA is no better.
	conn, err := tls.Dial("tcp", reviews.Inbound, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the point is the missing client certificate
	if err == nil {
		_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: reviews\r\n\r\n"))
		if err == nil {
			_, err = conn.Read(make([]byte, 1))
		}
		conn.Close()
	}
	if err == nil {
		t.Error("a TLS client without a certificate got an answer with mTLS on")
	}

	waitFor(t, "the frontend sidecar to switch to mTLS", func() bool {
		return len(rec.find("frontend sidecar: mTLS on")) == 1
	})
	answers, err = Call(ctx, front.Name, "reviews", "/", 2)
	if err != nil || answers[0].Status != 200 || answers[0].Body != "reviews v1" {
		t.Fatalf("frontend → reviews with mTLS on: %v, %v", answers, err)
	}
	waitFor(t, "reviews to see the frontend's SPIFFE ID", func() bool {
		return len(rec.find("reviews sidecar ← "+SPIFFEID("frontend"), "GET / → 200", "mTLS")) >= 2
	})
	a, err := Call(ctx, front.Name, "reviews", "/admin", 1)
	if err != nil || a[0].Status != 403 {
		t.Fatalf("denied /admin: %v, %v", a, err)
	}
	waitFor(t, "the refusal in reviews' inbound stats", func() bool {
		stats, _ := admin.Stats()
		for _, row := range stats {
			if row.Direction == Inbound && row.Service == "reviews" && row.Denied == 1 {
				return true
			}
		}
		return false
	})
	if eps, err := admin.Endpoints(); err != nil || len(eps["reviews"]) != 1 || eps["reviews"][0].Sidecar != reviews.Inbound {
		t.Errorf("Endpoints() = %v, %v", eps, err)
	}
	if st, err := SandboxAt(front.Inbound); err != nil || st.Name != front.Name {
		t.Errorf("SandboxAt(%s) = %s, %v", front.Inbound, st.Name, err)
	}

	pods := lab.Pods
	ports, _ := filepath.Glob("/sys/class/net/" + testBridge + "/brif/*")
	if len(ports) != len(pods) {
		t.Errorf("bridge ports %v, want one veth per pod", ports)
	}
	closed = true
	if err := lab.Close(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, lab, pods)
	for _, port := range ports {
		if _, err := os.Stat("/sys/class/net/" + filepath.Base(port)); err == nil {
			t.Errorf("veth %s left", filepath.Base(port))
		}
	}
}

// assertGone checks that the lab left none of its objects: processes,
// sandboxes, links, cgroups, the socket and the journals.
func assertGone(t *testing.T, lab *Lab, pods []*Pod) {
	t.Helper()
	for _, p := range pods {
		for what, pid := range map[string]int{"sidecar": p.SidecarPID, "init": p.InitPID} {
			if _, err := journal.ProcStartTime(pid); err == nil && !processZombie(pid) {
				t.Errorf("the %s of %s (PID %d) still runs", what, p.Name, pid)
			}
		}
		if _, err := sandbox.Find(p.Name); err == nil {
			t.Errorf("sandbox %s is still there", p.Name)
		}
		if m, _ := filepath.Glob("/sys/fs/cgroup/*kcna-lab/kcna-" + p.Name); len(m) > 0 {
			t.Errorf("cgroups left: %v", m)
		}
		if m, _ := filepath.Glob("/sys/fs/cgroup/*/kcna-lab/kcna-" + p.Name); len(m) > 0 {
			t.Errorf("cgroups left: %v", m)
		}
		if _, err := os.Stat(filepath.Join(sandbox.JournalDir(), "kcna-sidecar-"+p.Name+".journal")); err == nil {
			t.Errorf("the journal of %s's sidecar is left", p.Name)
		}
	}
	if _, err := os.Stat("/sys/class/net/" + testBridge); err == nil {
		t.Errorf("bridge %s left", testBridge)
	}
	for _, p := range []string{lab.Socket, filepath.Join(sandbox.JournalDir(), "kcna-mesh-"+lab.Name+".journal")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left", p)
		}
	}
}
