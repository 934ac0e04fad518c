package mesh

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

func TestRequestCrossesBothSidecars(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	reviewsApp := newApp(t, "reviews", "v1", nil)
	reviews := m.sidecar("reviews", "v1", reviewsApp)

	status, body := call(t, frontend, "GET", "reviews", "/stars")
	if status != 200 || body != "reviews v1 /stars" {
		t.Fatalf("got %d %q, want 200 %q", status, body, "reviews v1 /stars")
	}
	if n := reviewsApp.hits.Load(); n != 1 {
		t.Fatalf("reviews app saw %d requests, want 1", n)
	}
	last := reviewsApp.lastRequest()
	if last.Host != "reviews" {
		t.Errorf("app saw Host %q, want the service name", last.Host)
	}
	// The request reached the app from the reviews sidecar, not straight
	// from the frontend's: it is the reviews sidecar that forwarded it.
	if xff := last.Header.Get("X-Forwarded-For"); xff != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q", xff)
	}
	if got := last.Header.Get(xfcc); got != "" {
		t.Errorf("plaintext hop, yet the app was told the caller's certificate: %q", got)
	}

	// Both sidecars booked the request as a step event with its latency.
	out := m.sink.find("frontend → reviews: GET /stars → 200", "v1 at "+reviews.InboundAddr())
	in := m.sink.find("reviews sidecar ← 127.0.0.1:", "GET /stars → 200")
	if len(out) != 1 || len(in) != 1 {
		t.Fatalf("want one outbound and one inbound event, got %d and %d", len(out), len(in))
	}
	if e := out[0]; e.Kind != event.KindStep || !e.OK() || e.Took <= 0 ||
		e.Shell != fmt.Sprintf("curl -H 'Host: reviews' 'http://%s/stars'", frontend.OutboundAddr()) {
		t.Errorf("outbound event: %+v", e)
	}
	if e := in[0]; e.Shell != fmt.Sprintf("curl -H 'Host: reviews' 'http://%s/stars'", strings.TrimPrefix(reviewsApp.URL, "http://")) {
		t.Errorf("inbound event shell: %q", e.Shell)
	}

	rows := frontend.Stats()
	if len(rows) != 1 || rows[0].Direction != Outbound || rows[0].Service != "reviews" ||
		rows[0].Count != 1 || rows[0].Errors != 0 || rows[0].P50 <= 0 || rows[0].Versions["v1"] != 1 {
		t.Errorf("frontend stats: %+v", rows)
	}
	// The control plane aggregates what every registered sidecar saw.
	if rows := m.cp.Stats(); len(rows) != 2 {
		t.Errorf("control plane stats: %+v", rows)
	}

	// A service nobody runs: 503 from the caller's sidecar, and the
	// failure is counted.
	if status, _ := call(t, frontend, "GET", "ratings", "/"); status != http.StatusServiceUnavailable {
		t.Errorf("no endpoints: status %d, want 503", status)
	}
	if e := m.sink.find("frontend → ratings: GET / → 503"); len(e) != 1 || e[0].OK() {
		t.Errorf("no-endpoint event: %+v", e)
	}
	if status, _ := call(t, frontend, "GET", "not_a/service", "/"); status != http.StatusBadRequest {
		t.Errorf("bad Host: status %d, want 400", status)
	}
}

func TestDenyRuleStopsRequestAtCalleeSidecar(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	reviewsApp := newApp(t, "reviews", "v1", nil)
	reviews := m.sidecar("reviews", "v1", reviewsApp)
	m.push(Rules{Services: map[string]ServiceRules{"reviews": {Deny: []string{"/admin"}}}})

	for _, path := range []string{"/admin", "/admin/users", "/public/../admin", "//admin", "/%61dmin"} {
		status, body := call(t, frontend, "GET", "reviews", path)
		if status != http.StatusForbidden || !strings.Contains(body, `rule "deny /admin"`) {
			t.Errorf("GET %s: %d %q, want 403 from the deny rule", path, status, body)
		}
	}
	// Skipping the caller's sidecar does not skip the rule: it is enforced
	// where the app is.
	if status, _ := send(t, "GET", "http://"+reviews.InboundAddr()+"/admin", "reviews"); status != http.StatusForbidden {
		t.Errorf("straight to the inbound: %d, want 403", status)
	}
	if n := reviewsApp.hits.Load(); n != 0 {
		t.Fatalf("the app saw %d denied requests", n)
	}
	if e := m.sink.find("reviews sidecar ←", "GET /admin → 403", "refused by rule deny /admin"); len(e) == 0 {
		t.Error("no event for the denial")
	}

	// Prefixes match whole segments; the app gets the cleaned path.
	if status, body := call(t, frontend, "GET", "reviews", "/administrator"); status != 200 || body != "reviews v1 /administrator" {
		t.Errorf("GET /administrator: %d %q", status, body)
	}
	if status, body := call(t, frontend, "GET", "reviews", "/admin/../public/"); status != 200 || body != "reviews v1 /public/" {
		t.Errorf("GET /admin/../public/: %d %q", status, body)
	}
	var denied int64
	for _, row := range m.cp.Stats() {
		if row.Direction == Inbound && row.Service == "reviews" {
			denied = row.Denied
		}
	}
	if denied != 6 {
		t.Errorf("inbound reviews stats: %d denied, want 6", denied)
	}

	// An allow list refuses everything else.
	m.push(Rules{Services: map[string]ServiceRules{"reviews": {Allow: []string{"/api"}}}})
	if status, _ := call(t, frontend, "GET", "reviews", "/api/x"); status != 200 {
		t.Errorf("allowed path: %d", status)
	}
	if status, _ := call(t, frontend, "GET", "reviews", "/other"); status != http.StatusForbidden {
		t.Errorf("path outside the allow list: %d, want 403", status)
	}
}

func TestRetriesTurnFlakyBackendIntoSuccess(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	var calls atomic.Int64
	flakyApp := newApp(t, "reviews", "v1", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 1 { // every other call fails, the first one included
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	m.sidecar("reviews", "v1", flakyApp)

	// Without retries the app's 503 comes straight back.
	if status, _ := call(t, frontend, "GET", "reviews", "/"); status != http.StatusServiceUnavailable {
		t.Fatalf("no retries: %d, want 503", status)
	}
	calls.Store(0)
	m.push(Rules{Services: map[string]ServiceRules{"reviews": {Retries: 2}}})
	status, body := call(t, frontend, "GET", "reviews", "/")
	if status != 200 || body != "ok" {
		t.Fatalf("with retries: %d %q, want 200 ok", status, body)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("app called %d times, want 2 (a 503, then the retry)", n)
	}
	if e := m.sink.find("frontend → reviews: GET / try 1 of 3 failed"); len(e) != 1 || e[0].Err != "503 Service Unavailable" {
		t.Errorf("retry event: %+v", e)
	}
	if e := m.sink.find("frontend → reviews: GET / → 200", "2 tries"); len(e) != 1 {
		t.Errorf("no outbound event counting 2 tries")
	}

	// POST is not idempotent: it is tried once, whatever the rule says.
	calls.Store(0)
	if status, _ := call(t, frontend, "POST", "reviews", "/"); status != http.StatusServiceUnavailable {
		t.Errorf("POST: %d, want the first try's 503", status)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("POST reached the app %d times, want 1", n)
	}

	// A PUT body is replayed whole on the retry.
	calls.Store(0)
	var got atomic.Value
	bodyApp := newApp(t, "ratings", "v1", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
		}
	})
	m.sidecar("ratings", "v1", bodyApp)
	m.push(Rules{Services: map[string]ServiceRules{"ratings": {Retries: 1}}})
	req, _ := http.NewRequest("PUT", "http://"+frontend.OutboundAddr()+"/stars", strings.NewReader("five"))
	req.Host = "ratings"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || got.Load() != "five" || calls.Load() != 2 {
		t.Errorf("PUT retry: status %d, body seen %q, %d calls", resp.StatusCode, got.Load(), calls.Load())
	}
}

func TestTimeoutPerTry(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	slowApp := newApp(t, "reviews", "v1", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
	})
	m.sidecar("reviews", "v1", slowApp)
	m.push(Rules{Services: map[string]ServiceRules{"reviews": {Timeout: Duration(50 * time.Millisecond), Retries: 1}}})

	start := time.Now()
	status, body := call(t, frontend, "GET", "reviews", "/slow")
	took := time.Since(start)
	if status != http.StatusGatewayTimeout || !strings.Contains(body, "did not answer within 50ms") {
		t.Fatalf("got %d %q, want 504", status, body)
	}
	if took > time.Second {
		t.Errorf("took %v: the timeout did not cut the wait short", took)
	}
	if n := slowApp.hits.Load(); n != 2 {
		t.Errorf("app saw %d tries, want 2 (a timeout is retried)", n)
	}
	if e := m.sink.find("frontend → reviews: GET /slow → 504"); len(e) != 1 || !strings.Contains(e[0].Err, "per-try timeout") {
		t.Errorf("timeout event: %+v", e)
	}
}

func TestSplitNinetyTen(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	v1, v2 := newApp(t, "reviews", "v1", nil), newApp(t, "reviews", "v2", nil)
	m.sidecar("reviews", "v1", v1)
	m.sidecar("reviews", "v2", v2)

	// Before the rule, every endpoint is equally likely.
	m.push(Rules{Services: map[string]ServiceRules{"reviews": {Split: map[string]int{"v1": 90, "v2": 10}}}})
	const n = 1000
	for range n {
		if status, _ := call(t, frontend, "GET", "reviews", "/"); status != 200 {
			t.Fatalf("status %d", status)
		}
	}
	// v2 is Binomial(1000, 0.1): mean 100, standard deviation 9.5. 55..145
	// is more than 4.5 deviations either side, a false alarm about once in
	// 150,000 runs.
	got1, got2 := v1.hits.Load(), v2.hits.Load()
	if got1+got2 != n || got2 < 55 || got2 > 145 {
		t.Fatalf("v1 %d, v2 %d: want about 900/100", got1, got2)
	}
	rows := frontend.Stats()
	if rows[0].Versions["v1"] != got1 || rows[0].Versions["v2"] != got2 {
		t.Errorf("stats versions %v, apps saw v1 %d v2 %d", rows[0].Versions, got1, got2)
	}
	t.Logf("90/10 split over %d requests: v1 %d, v2 %d", n, got1, got2)

	// A version with no endpoint is left out of the draw...
	m.push(Rules{Services: map[string]ServiceRules{"reviews": {Split: map[string]int{"v2": 50, "v3": 50}}}})
	before := v2.hits.Load()
	for range 20 {
		call(t, frontend, "GET", "reviews", "/")
	}
	if v2.hits.Load()-before != 20 {
		t.Errorf("v3 has no endpoints; v2 should take all 20 requests, took %d", v2.hits.Load()-before)
	}
	// ...and when none of the named versions runs: 503.
	m.push(Rules{Services: map[string]ServiceRules{"reviews": {Split: map[string]int{"v3": 1}}}})
	if status, _ := call(t, frontend, "GET", "reviews", "/"); status != http.StatusServiceUnavailable {
		t.Errorf("split to a version with no endpoints: %d, want 503", status)
	}
}

func TestMTLS(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	var seen atomic.Pointer[tls.ConnectionState]
	reviewsApp := newApp(t, "reviews", "v2", nil)
	reviews := newStartedSidecar(t, m, "reviews", "v2", reviewsApp, func(r *http.Request) {
		if r.TLS != nil {
			cs := *r.TLS
			seen.Store(&cs)
		}
	})
	m.push(Rules{MTLS: true})

	// Plaintext straight to a sidecar's inbound is refused before any app
	// sees it, on a new connection by the TLS handshake (and on an old
	// keep-alive one by the handler: TestMTLSOnKeepAliveConnectionRefusesPlaintext).
	status, body := send(t, "GET", "http://"+reviews.InboundAddr()+"/", "reviews")
	if status != http.StatusBadRequest || !strings.Contains(body, "requires mutual TLS; plaintext refused") {
		t.Errorf("plaintext: %d %q, want 400 refused", status, body)
	}
	waitFor(t, "the refusal event", func() bool { return len(m.sink.find("reviews sidecar: refuse plaintext connection")) > 0 })
	if reviewsApp.hits.Load() != 0 {
		t.Fatal("a plaintext request reached the app")
	}

	// Sidecar to sidecar: mutual TLS, verified both ways.
	status, body = call(t, frontend, "GET", "reviews", "/secure")
	if status != 200 || body != "reviews v2 /secure" {
		t.Fatalf("through the sidecars: %d %q", status, body)
	}
	cs := seen.Load()
	if cs == nil {
		t.Fatal("the reviews sidecar saw no TLS connection")
	}
	if cs.Version != tls.VersionTLS13 || len(cs.VerifiedChains) == 0 || len(cs.PeerCertificates) == 0 {
		t.Fatalf("TLS state: version %x, %d verified chains, %d peer certs", cs.Version, len(cs.VerifiedChains), len(cs.PeerCertificates))
	}
	if got := cs.PeerCertificates[0].URIs[0].String(); got != SPIFFEID("frontend") {
		t.Errorf("client certificate names %s, want %s", got, SPIFFEID("frontend"))
	}
	if root := cs.VerifiedChains[0][len(cs.VerifiedChains[0])-1]; root.Subject.CommonName != "kcna-lab mesh root CA" {
		t.Errorf("chain ends at %s", root.Subject)
	}
	// The app learns who called without doing TLS itself.
	if x := reviewsApp.lastRequest().Header.Get(xfcc); !strings.HasPrefix(x, "By="+SPIFFEID("reviews")+";Hash=") || !strings.HasSuffix(x, ";URI="+SPIFFEID("frontend")) {
		t.Errorf("%s = %q", xfcc, x)
	}
	if e := m.sink.find("reviews sidecar ← "+SPIFFEID("frontend")+": GET /secure → 200", "mTLS"); len(e) != 1 {
		t.Errorf("inbound event naming the caller's SPIFFE ID: %d", len(e))
	}
	if e := m.sink.find("frontend → reviews: GET /secure → 200", "mTLS"); len(e) != 1 {
		t.Errorf("outbound event marked mTLS: %d", len(e))
	}

	// A client with a mesh certificate gets in; one with no certificate,
	// or with a certificate from another CA, does not.
	id, err := m.cp.Issue("ratings")
	if err != nil {
		t.Fatal(err)
	}
	if err := tlsGet(reviews.InboundAddr(), id); err != nil {
		t.Errorf("mesh client certificate refused: %v", err)
	}
	if err := tlsGet(reviews.InboundAddr(), Identity{RootPEM: id.RootPEM}); err == nil {
		t.Error("a client without a certificate got in")
	}
	foreign, err := newAuthority(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fake, err := foreign.issue("frontend", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fake.RootPEM = id.RootPEM // trust the real mesh root, present a foreign leaf
	if err := tlsGet(reviews.InboundAddr(), fake); err == nil {
		t.Error("a certificate from another CA got in")
	}
	waitFor(t, "the bad-certificate refusal", func() bool {
		return len(m.sink.find("reviews sidecar: refuse connection from")) >= 2
	})

	// mTLS off again: plaintext works, and the app hears no certificate.
	m.push(Rules{})
	if status, _ := send(t, "GET", "http://"+reviews.InboundAddr()+"/plain", "reviews"); status != 200 {
		t.Errorf("plaintext after mTLS off: %d", status)
	}
	if status, _ := call(t, frontend, "GET", "reviews", "/plain"); status != 200 {
		t.Errorf("through the sidecars after mTLS off: %d", status)
	}
	if x := reviewsApp.lastRequest().Header.Get(xfcc); x != "" {
		t.Errorf("plaintext hop, yet %s = %q", xfcc, x)
	}
}

func TestMTLSOnKeepAliveConnectionRefusesPlaintext(t *testing.T) {
	m := newMesh(t)
	app := newApp(t, "reviews", "v1", nil)
	reviews := m.sidecar("reviews", "v1", app)
	// A plaintext keep-alive connection opened while mTLS is off...
	c, err := net.Dial("tcp", reviews.InboundAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	get := "GET / HTTP/1.1\r\nHost: reviews\r\n\r\n"
	if _, err := io.WriteString(c, get); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
		t.Fatalf("first request: %q %v", buf[:n], err)
	}
	// ...cannot carry plaintext once mTLS is on.
	m.push(Rules{MTLS: true})
	if _, err := io.WriteString(c, get); err != nil {
		t.Fatal(err)
	}
	n, _ = c.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 403") || !strings.Contains(string(buf[:n]), "refuses plaintext") {
		t.Fatalf("second request: %q", buf[:n])
	}
	if app.hits.Load() != 1 {
		t.Errorf("app hits %d, want 1", app.hits.Load())
	}
}

func TestWrongServiceCertificateRejected(t *testing.T) {
	m := newMesh(t)
	ratingsApp := newApp(t, "ratings", "v1", nil)
	ratings := m.sidecar("ratings", "v1", ratingsApp)
	// The frontend's endpoint table is wrong (stale, or poisoned): it says
	// reviews lives where the ratings sidecar is.
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil), func(c *SidecarConfig) {
		c.Resolve = func(service string) ([]Endpoint, error) {
			return []Endpoint{{Service: service, Version: "v1", Sidecar: ratings.InboundAddr()}}, nil
		}
	})

	// In plaintext there is no way to tell: the request lands at ratings.
	if status, body := call(t, frontend, "GET", "reviews", "/"); status != 200 || body != "ratings v1 /" {
		t.Fatalf("plaintext: %d %q", status, body)
	}
	// With mTLS the frontend's sidecar checks whom it reached, and hangs up.
	m.push(Rules{MTLS: true})
	status, body := call(t, frontend, "GET", "reviews", "/")
	want := "peer is " + SPIFFEID("ratings") + ", want " + SPIFFEID("reviews")
	if status != http.StatusBadGateway || !strings.Contains(body, want) {
		t.Fatalf("got %d %q, want 502 with %q", status, body, want)
	}
	if n := ratingsApp.hits.Load(); n != 1 {
		t.Errorf("ratings app saw %d requests, want only the plaintext one", n)
	}
	if e := m.sink.find("frontend → reviews: GET / → 502"); len(e) != 1 || !strings.Contains(e[0].Err, want) {
		t.Errorf("event: %+v", e)
	}

	// Nor will a sidecar take on another service's identity.
	id, err := m.cp.Issue("reviews")
	if err != nil {
		t.Fatal(err)
	}
	if err := ratings.SetIdentity(id); err == nil || !strings.Contains(err.Error(), "refusing the identity of "+SPIFFEID("reviews")) {
		t.Errorf("SetIdentity(reviews) on ratings: %v", err)
	}
}

func TestApplyUnderLoad(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	m.sidecar("reviews", "v1", newApp(t, "reviews", "v1", nil))
	m.sidecar("reviews", "v2", newApp(t, "reviews", "v2", nil))

	// load sends requests from 8 goroutines while change runs, and counts
	// the answers that were not 200.
	load := func(change func()) (ok, failed int64) {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var good, bad atomic.Int64
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("GET", "http://"+frontend.OutboundAddr()+"/", nil)
					req.Host = "reviews"
					resp, err := client.Do(req)
					if err != nil {
						bad.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						good.Add(1)
					} else {
						bad.Add(1)
					}
				}
			})
		}
		change()
		close(stop)
		wg.Wait()
		return good.Load(), bad.Load()
	}

	// Rule changes that keep every request valid must not fail one.
	ok, failed := load(func() {
		for i := range 200 {
			m.push(Rules{Services: map[string]ServiceRules{"reviews": {
				Split:   map[string]int{"v1": i % 7, "v2": 1},
				Retries: i % 3, Timeout: Duration(time.Second),
				Deny: []string{fmt.Sprintf("/never-%d", i)},
			}}})
			time.Sleep(time.Millisecond)
		}
	})
	if failed != 0 || ok == 0 {
		t.Errorf("%d of %d requests failed while the rules changed", failed, ok+failed)
	}

	// Flipping mTLS can fail requests that cross the flip (one sidecar has
	// switched, the other not yet); the point here is that nothing races
	// or wedges, and that the mesh is whole once the flipping stops.
	ok, failed = load(func() {
		for i := range 40 {
			m.push(Rules{MTLS: i%2 == 0})
			time.Sleep(2 * time.Millisecond)
		}
	})
	t.Logf("mTLS flipped 40 times under load: %d requests ok, %d failed at a flip", ok, failed)
	for _, mtls := range []bool{true, false} {
		m.push(Rules{MTLS: mtls})
		for range 20 {
			if status, body := call(t, frontend, "GET", "reviews", "/"); status != 200 {
				t.Fatalf("mTLS %v after the flipping: %d %q", mtls, status, body)
			}
		}
	}
}

func TestSidecarEndpointNeedsDialableAddress(t *testing.T) {
	s, err := NewSidecar(SidecarConfig{Service: "reviews", Inbound: "0.0.0.0:0", App: "127.0.0.1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Endpoint(); err == nil {
		t.Error("Endpoint before Start: no error")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Endpoint(); err == nil || !strings.Contains(err.Error(), "set Advertise") {
		t.Errorf("Endpoint on 0.0.0.0: %v", err)
	}
	if _, err := NewSidecar(SidecarConfig{Service: "Bad_Name", Inbound: ":0", App: ":1"}, nil); err == nil {
		t.Error("bad service name accepted")
	}
}

// newStartedSidecar is testMesh.sidecar with an inbound hook, which must be
// in place before Start.
func newStartedSidecar(t *testing.T, m *testMesh, service, version string, app *testApp, hook func(*http.Request)) *Sidecar {
	t.Helper()
	s, err := NewSidecar(SidecarConfig{
		Service: service, Version: version, Inbound: "127.0.0.1:0",
		App: strings.TrimPrefix(app.URL, "http://"),
	}, m.sink)
	if err != nil {
		t.Fatal(err)
	}
	s.onInbound = hook
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := m.cp.Register(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// tlsGet makes one HTTPS request to a sidecar's inbound presenting id (no
// certificate when id has none), trusting id's root.
func tlsGet(addr string, id Identity) error {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(id.RootPEM))
	conf := clientConfig(func() *tlsIdentity { return &tlsIdentity{roots: roots} }, "reviews")
	conf.GetClientCertificate = nil
	if id.CertPEM != "" {
		cert, err := tls.X509KeyPair([]byte(id.CertPEM), []byte(id.KeyPEM))
		if err != nil {
			return err
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil, TLSClientConfig: conf}, Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
	req.Host = "reviews"
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return errors.New(resp.Status)
	}
	return nil
}
