package mesh

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSidecarAcrossControlSocket runs the reviews sidecar the way the CLI
// will in a sandbox: driven through a unix socket (here from a goroutine,
// not another process), with an admin client pushing rules over the same
// socket.
func TestSidecarAcrossControlSocket(t *testing.T) {
	m := newMesh(t)
	dir, err := os.MkdirTemp("", "kl-mesh")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "mesh.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- m.cp.Serve(ln) }()

	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	reviewsApp := newApp(t, "reviews", "v1", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() {
		ran <- RunSidecar(ctx, SidecarConfig{
			Service: "reviews", Version: "v1", Inbound: "127.0.0.1:0",
			App: strings.TrimPrefix(reviewsApp.URL, "http://"),
		}, sock)
	}()
	waitFor(t, "reviews to join", func() bool { eps, _ := m.cp.Resolve("reviews"); return len(eps) == 1 })

	if status, body := call(t, frontend, "GET", "reviews", "/x"); status != 200 || body != "reviews v1 /x" {
		t.Fatalf("to the remote sidecar: %d %q", status, body)
	}
	// Its events reach the control plane's sink: one stream for the mesh.
	waitFor(t, "the remote sidecar's inbound event", func() bool {
		return len(m.sink.find("reviews sidecar ← 127.0.0.1:", "GET /x → 200")) == 1
	})
	if len(m.sink.find("listen tcp 127.0.0.1:", "reviews inbound")) != 1 {
		t.Error("the remote sidecar's listen step did not arrive")
	}

	admin, err := Dial(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	rules := Rules{MTLS: true, Services: map[string]ServiceRules{"reviews": {Deny: []string{"/admin"}}}}
	if err := admin.Push(rules); err != nil {
		t.Fatal(err)
	}
	// Push returns once the rules are sent; the remote sidecar applies them
	// when it reads them, so look for its narration.
	waitFor(t, "the remote sidecar to switch mTLS on", func() bool {
		return len(m.sink.find("reviews sidecar: mTLS on")) == 1
	})
	if status, _ := call(t, frontend, "GET", "reviews", "/admin"); status != 403 {
		t.Errorf("denied path via the remote sidecar: %d", status)
	}
	if status, _ := call(t, frontend, "GET", "reviews", "/ok"); status != 200 {
		t.Errorf("mTLS hop to the remote sidecar: %d", status)
	}
	eps, _ := m.cp.Resolve("reviews")
	if status, _ := send(t, "GET", "http://"+eps[0].Sidecar+"/ok", "reviews"); status != http.StatusBadRequest {
		t.Errorf("plaintext to the remote sidecar with mTLS on: %d, want 400", status)
	}
	if got, err := admin.Rules(); err != nil || !got.MTLS || got.Services["reviews"].Deny[0] != "/admin" {
		t.Errorf("Rules() = %+v, %v", got, err)
	}
	if err := admin.Push(Rules{Services: map[string]ServiceRules{"Bad": {}}}); err == nil {
		t.Error("invalid rules accepted")
	}
	waitFor(t, "the remote sidecar's request records", func() bool {
		stats, err := admin.Stats()
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range stats {
			if row.Direction == Inbound && row.Service == "reviews" && row.Count == 3 && row.Denied == 1 {
				return true
			}
		}
		return false
	})

	// Stopping the sidecar takes it out of the registry.
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("RunSidecar: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunSidecar did not return after its context ended")
	}
	waitFor(t, "reviews to leave", func() bool { eps, _ := m.cp.Resolve("reviews"); return len(eps) == 0 })
	if status, _ := call(t, frontend, "GET", "reviews", "/x"); status != http.StatusServiceUnavailable {
		t.Errorf("after the sidecar left: %d, want 503", status)
	}

	if err := m.cp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestSidecarOutlivesControlPlane: the data plane carries traffic without
// the control plane; it only cannot change.
func TestSidecarOutlivesControlPlane(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	near, far := net.Pipe()
	go m.cp.ServeConn(near)
	reviewsApp := newApp(t, "reviews", "v1", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() {
		ran <- NewClient(far).RunSidecar(ctx, SidecarConfig{
			Service: "reviews", Version: "v1", Inbound: "127.0.0.1:0",
			App: strings.TrimPrefix(reviewsApp.URL, "http://"),
		})
	}()
	waitFor(t, "reviews to join", func() bool { eps, _ := m.cp.Resolve("reviews"); return len(eps) == 1 })
	eps, _ := m.cp.Resolve("reviews")
	m.push(Rules{MTLS: true})
	waitFor(t, "mTLS on in the remote sidecar", func() bool { return len(m.sink.find("reviews sidecar: mTLS on")) == 1 })

	if err := m.cp.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ran:
		t.Fatalf("RunSidecar returned when the control plane went away: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	// The remote sidecar still holds its certificate and rules: an mTLS
	// hop from the frontend (which kept the old table) still works, and
	// plaintext is still refused.
	frontend.SetEndpoints(map[string][]Endpoint{"reviews": eps})
	if status, _ := call(t, frontend, "GET", "reviews", "/still"); status != 200 {
		t.Errorf("with the control plane gone: %d", status)
	}
	if status, _ := send(t, "GET", "http://"+eps[0].Sidecar+"/", "reviews"); status != http.StatusBadRequest {
		t.Errorf("plaintext with the control plane gone: %d, want 400", status)
	}
	cancel()
	if err := <-ran; err != nil {
		t.Errorf("RunSidecar: %v", err)
	}
}

func TestCertificateRotation(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	reviews := m.sidecar("reviews", "v1", newApp(t, "reviews", "v1", nil))
	m.push(Rules{MTLS: true})
	before := reviews.identity.Load()
	if status, _ := call(t, frontend, "GET", "reviews", "/"); status != 200 {
		t.Fatalf("before rotation: %d", status)
	}
	m.cp.rotate()
	after := reviews.identity.Load()
	if after == before || after.cert.Leaf.SerialNumber.Cmp(before.cert.Leaf.SerialNumber) == 0 {
		t.Fatal("the certificate was not replaced")
	}
	// New connections use the new certificates.
	frontend.secure.Range(func(_, t any) bool { t.(*http.Transport).CloseIdleConnections(); return true })
	if status, _ := call(t, frontend, "GET", "reviews", "/"); status != 200 {
		t.Fatalf("after rotation: %d", status)
	}
	if e := m.sink.find("rotating the certificates of 2 sidecar(s)"); len(e) != 1 {
		t.Errorf("rotation narration: %d", len(e))
	}
}
