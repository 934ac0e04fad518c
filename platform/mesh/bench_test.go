package mesh

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// The cost of a mesh, on loopback: one keep-alive client sending GETs one
// after another, straight to the app, then through the caller's sidecar and
// the callee's sidecar (two extra proxy hops), in plaintext and in mTLS.
// `go test -run '^$' -bench . ./platform/mesh/`; the ratio of ns/op is what
// a sidecar costs per request.

func BenchmarkDirect(b *testing.B) {
	app := newApp(b, "reviews", "v1", nil)
	benchGet(b, app.URL+"/", "reviews")
}

func BenchmarkThroughSidecar(b *testing.B) {
	benchMesh(b, false)
}

func BenchmarkThroughSidecarMTLS(b *testing.B) {
	benchMesh(b, true)
}

func benchMesh(b *testing.B, mtls bool) {
	m := newMesh(b)
	// The learner's events are built as in real use, then dropped, rather
	// than piling up in memory for b.N requests.
	m.sink.drop = true
	frontend := m.sidecar("frontend", "v1", newApp(b, "frontend", "v1", nil))
	m.sidecar("reviews", "v1", newApp(b, "reviews", "v1", nil))
	m.push(Rules{MTLS: mtls})
	benchGet(b, "http://"+frontend.OutboundAddr()+"/", "reviews")
}

func benchGet(b *testing.B, url, host string) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Host = host
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatal(resp.Status)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkSidecarCost sends, in each iteration, one GET straight to the
// app and one through both sidecars, timing each, so that both see the same
// machine at the same moment; it reports both rates and their ratio, which
// `make bench` prints on the benchmark's line: "direct-req/s",
// "sidecar-req/s", "direct/sidecar" (how many times slower the mesh is).
func BenchmarkSidecarCost(b *testing.B) {
	for _, mtls := range []bool{false, true} {
		name := "plaintext"
		if mtls {
			name = "mTLS"
		}
		b.Run(name, func(b *testing.B) {
			m := newMesh(b)
			m.sink.drop = true
			app := newApp(b, "reviews", "v1", nil)
			frontend := m.sidecar("frontend", "v1", newApp(b, "frontend", "v1", nil))
			m.sidecar("reviews", "v1", app)
			m.push(Rules{MTLS: mtls})
			direct := newGet(b, app.URL+"/", "reviews")
			meshed := newGet(b, "http://"+frontend.OutboundAddr()+"/", "reviews")
			var tDirect, tMesh time.Duration
			for b.Loop() {
				start := time.Now()
				get(b, direct)
				mid := time.Now()
				get(b, meshed)
				tDirect += mid.Sub(start)
				tMesh += time.Since(mid)
			}
			n := float64(b.N)
			b.ReportMetric(n/tDirect.Seconds(), "direct-req/s")
			b.ReportMetric(n/tMesh.Seconds(), "sidecar-req/s")
			b.ReportMetric(tMesh.Seconds()/tDirect.Seconds(), "direct/sidecar")
		})
	}
}

func newGet(b *testing.B, url, host string) *http.Request {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Host = host
	return req
}

func get(b *testing.B, req *http.Request) {
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatal(resp.Status)
	}
}
