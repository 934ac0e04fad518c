package mesh

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// testApp is an app instance behind a sidecar: it counts what reaches it.
type testApp struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	last *http.Request
}

// newApp starts an app on 127.0.0.1 that answers "NAME VERSION PATH", or
// runs h when one is given.
func newApp(t testing.TB, name, version string, h http.HandlerFunc) *testApp {
	t.Helper()
	a := &testApp{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.hits.Add(1)
		a.mu.Lock()
		a.last = r.Clone(r.Context())
		a.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		_, _ = io.WriteString(w, name+" "+version+" "+r.URL.Path)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *testApp) lastRequest() *http.Request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// recorder is a sink that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []event.Event
	drop   bool // keep nothing (benchmarks)
}

func (r *recorder) Emit(e event.Event) {
	r.mu.Lock()
	if !r.drop {
		r.events = append(r.events, e)
	}
	r.mu.Unlock()
}

// find returns the events whose Action (or Text) contains every part.
func (r *recorder) find(parts ...string) []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Event
next:
	for _, e := range r.events {
		s := e.Action + e.Text
		for _, p := range parts {
			if !strings.Contains(s, p) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out
}

// waitFor polls cond for up to 5s; events and registry changes arrive
// asynchronously across the control socket.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testMesh is a control plane with in-process sidecars on loopback.
type testMesh struct {
	t    testing.TB
	cp   *ControlPlane
	sink *recorder
}

func newMesh(t testing.TB) *testMesh {
	t.Helper()
	sink := &recorder{}
	cp, err := NewControlPlane(sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	return &testMesh{t: t, cp: cp, sink: sink}
}

// sidecar starts and registers a sidecar for app on ephemeral loopback ports.
func (m *testMesh) sidecar(service, version string, app *testApp, mutate ...func(*SidecarConfig)) *Sidecar {
	m.t.Helper()
	cfg := SidecarConfig{
		Service: service, Version: version,
		Inbound: "127.0.0.1:0", Outbound: "127.0.0.1:0",
		App: strings.TrimPrefix(app.URL, "http://"),
	}
	for _, f := range mutate {
		f(&cfg)
	}
	s, err := NewSidecar(cfg, m.sink)
	if err != nil {
		m.t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { s.Close() })
	if err := m.cp.Register(s); err != nil {
		m.t.Fatal(err)
	}
	return s
}

func (m *testMesh) push(r Rules) {
	m.t.Helper()
	if err := m.cp.Push(r); err != nil {
		m.t.Fatal(err)
	}
}

// client is a plain HTTP client that never uses the environment's proxy.
var client = &http.Client{
	Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64},
	Timeout:   10 * time.Second,
}

// call sends METHOD path to service through the caller's sidecar, the way
// the caller's app would, and returns the status and body.
func call(t testing.TB, caller *Sidecar, method, service, path string) (int, string) {
	t.Helper()
	return send(t, method, "http://"+caller.OutboundAddr()+path, service)
}

func send(t testing.TB, method, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, url, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}
