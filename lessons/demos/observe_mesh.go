package demos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/platform/mesh"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Lesson 15's mesh half: the sidecars' /metrics scraped from inside the
// mesh in the Prometheus text format, and one request's trace put back
// together from the spans the sidecars reported.

// meshTelemetryDemo is the demo on the bridge n: kcna-lab's own, or a test's.
func meshTelemetryDemo(n sandbox.Net) Demo {
	return Demo{
		ID:    "mesh-telemetry",
		Title: "The sidecars' metrics scraped in the Prometheus format, and one trace across them",
		Run: func(ctx context.Context, sink event.Sink) error {
			return runMeshTelemetry(ctx, sink, n)
		},
		Blocked:    needsMesh,
		ShellFlags: []string{"--name", "lab-observe-mesh", "--keep", "--net", "bridge"},
	}
}

func runMeshTelemetry(ctx context.Context, sink event.Sink, n sandbox.Net) error {
	// Forty proxied requests would bury the rest: successful request
	// steps are counted by the sidecars, not shown one by one.
	quiet := event.SinkFunc(func(e event.Event) {
		if e.Kind == event.KindStep && e.OK() && (strings.Contains(e.Action, " → ") || strings.Contains(e.Action, " ← ")) {
			return
		}
		sink.Emit(e)
	})
	event.Narrate(sink, fmt.Sprintf("Start kcna-lab's mesh (lesson 12): frontend, reviews v1 and reviews v2, each with a sidecar. Every sidecar now also serves GET /metrics on its pod's address, port %d (Envoy's Prometheus port in Istio), in plaintext even under mTLS.", mesh.MetricsPort))
	lab, err := mesh.Up(ctx, mesh.LabSpec{Name: demoName("obsmesh"), Net: n}, quiet)
	if err != nil {
		return err
	}
	defer func() { _ = lab.Close() }()
	front, v1 := lab.Pod("frontend", ""), lab.Pod("reviews", "v1")
	if front == nil || v1 == nil {
		return errors.New("the mesh started without its frontend or reviews v1 pod")
	}
	if err := lab.CP.Push(mesh.Rules{Services: map[string]mesh.ServiceRules{"reviews": {Split: map[string]int{"v1": 100}}}}); err != nil {
		return err
	}

	// 1. Traffic, then a scrape.
	event.Narrate(sink, "frontend's app sends 30 requests for / and 10 for /missing, which the app answers with 404; all go to reviews v1 (a 100/0 split, so that one sidecar sees them all).")
	var sent int64
	for _, c := range []struct {
		path string
		n    int
	}{{"/", 30}, {"/missing", 10}} {
		a, err := mesh.Call(ctx, front.Name, "reviews", c.path, c.n)
		if err != nil {
			return err
		}
		sent += int64(len(a))
	}
	if err := waitStats(ctx, lab, mesh.Inbound, "reviews", sent); err != nil {
		return err
	}
	url := "http://" + v1.Metrics + "/metrics"
	event.Narrate(sink, fmt.Sprintf("Now scrape reviews v1's sidecar as Prometheus would: an HTTP GET of %s, sent from inside the frontend sandbox, over the bridge: `wget -qO- %s`.", url, url))
	page, err := mesh.Fetch(ctx, front.Name, url, "", 1)
	if err != nil {
		return err
	}
	if page[0].Status != 200 {
		return fmt.Errorf("scraping %s got %s", url, page[0])
	}
	series, err := mesh.ParseMetrics(page[0].Body)
	if err != nil {
		return fmt.Errorf("the page scraped from %s: %w", url, err)
	}
	in := `direction="inbound",service="reviews"`
	ok, notFound := series[mesh.MetricRequests+"{"+in+`,code="200"}`], series[mesh.MetricRequests+"{"+in+`,code="404"}`]
	count := series[mesh.MetricDuration+"_count{"+in+"}"]
	if ok != 30 || notFound != 10 || count != 40 {
		return fmt.Errorf("reviews v1's /metrics counts %v answers of 200, %v of 404 and %v in all; 30, 10 and 40 were sent", ok, notFound, count)
	}
	event.Narrate(sink, "wget printed the page, in the Prometheus text exposition format; here are its lines about inbound requests. # HELP says what a metric means, # TYPE whether it is a counter (only goes up), gauge or histogram, and each other line is one series: name{labels} value.")
	sink.Emit(event.Event{Time: time.Now(), Kind: event.KindOutput, Stream: "stdout", Text: strings.Join(inboundLines(page[0].Body), "\n") + "\n"})
	sum := series[mesh.MetricDuration+"_sum{"+in+"}"]
	columns(sink, "What the page says about reviews v1's inbound traffic", "read from the page", []string{
		fmt.Sprintf("%v requests", count),
		fmt.Sprintf("%v × 200, %v × 404", ok, notFound),
		fmt.Sprintf("%.0f%% answered 404", 100*notFound/count),
		fmt.Sprintf("mean %s", time.Duration(sum/count*float64(time.Second)).Round(time.Microsecond)),
		"p50 ≤ " + bucketQuantile(series, in, 0.5),
		"p99 ≤ " + bucketQuantile(series, in, 0.99),
	}, "how", []string{
		"_count",
		"requests_total, one series per code",
		`code="404" / all codes`,
		"_sum / _count",
		"the first bucket holding ≥ 50%",
		"the first bucket holding ≥ 99%",
	})
	event.Narrate(sink, "A histogram is a set of counters: _bucket{le=\"X\"} counts the requests that took at most X seconds (so the buckets only grow towards +Inf, which equals _count), and _sum is the seconds they took in all. Prometheus keeps each scrape as a sample and answers questions with PromQL: sum(rate("+mesh.MetricRequests+"[5m])) is requests per second over five minutes, and histogram_quantile(0.99, sum by (le) (rate("+mesh.MetricDuration+"_bucket[5m]))) estimates the 99th percentile latency from the buckets.")
	event.Narrate(sink, "A counter only says how many so far; Prometheus scrapes it again and again (every scrape_interval, 1m by default) and computes rates from the differences. Each distinct set of label values is its own time series: direction, service and code keep the number small. A label holding a request id or a user id would make one series per request: that is the cardinality problem.")

	// 2. A trace.
	traceparent := mesh.NewTraceparent()
	traceID, rootSpan, _, _ := mesh.ParseTraceparent(traceparent)
	event.Narrate(sink, fmt.Sprintf("Last, a trace. frontend's app sends one request carrying the W3C header traceparent: %s (version, 16-byte trace id, the caller's 8-byte span id, flags 01 = sampled). Each sidecar keeps the trace id, makes a span of its own whose parent is the span id it received, and passes its own span id on.", traceparent))
	answer, err := mesh.CallTraced(ctx, front.Name, "reviews", "/", traceparent)
	if err != nil {
		return err
	}
	if answer.Status != 200 {
		return fmt.Errorf("the traced request got %s", answer)
	}
	spans, err := waitTrace(ctx, lab, traceID, 2)
	if err != nil {
		return err
	}
	tree, err := traceTree(rootSpan, spans)
	if err != nil {
		return err
	}
	columns(sink, "Trace "+traceID+", put together from the spans the sidecars reported",
		"span (parent → span)", tree, "what it measured", spanTimes(spans))
	event.Narrate(sink, "The outbound span contains the inbound one: the difference is the hop between the pods plus the time the caller's sidecar spent. A tracing backend such as Jaeger collects such spans (sent over OTLP, OpenTelemetry's protocol) and draws them as this tree. The apps here call no one, so the trace ends at reviews; an app that calls onwards must copy the traceparent it received into its own calls, or the next hops start new traces: the sidecars cannot link what comes into an app with what goes out of it.")
	event.Narrate(sink, "Take it all down: each sidecar leaves the mesh, then its sandbox stops.")
	return lab.Close()
}

// inboundLines are the page's lines about inbound requests, with the HELP
// and TYPE lines.
func inboundLines(page string) []string {
	var out []string
	for _, l := range lines(page) {
		switch {
		case strings.HasPrefix(l, "# "):
			out = append(out, l)
		case !strings.Contains(l, `direction="inbound"`):
		default:
			out = append(out, l)
		}
	}
	return out
}

// bucketQuantile is the upper bound of the first bucket that holds at
// least q of the requests: an upper limit for the q-quantile, where
// PromQL's histogram_quantile interpolates inside the bucket.
func bucketQuantile(series map[string]float64, in string, q float64) string {
	total := series[mesh.MetricDuration+"_count{"+in+"}"]
	var bounds []float64
	for k := range series {
		if strings.HasPrefix(k, mesh.MetricDuration+"_bucket{"+in+",") {
			bounds = append(bounds, bucketBound(k))
		}
	}
	slices.Sort(bounds)
	for _, le := range bounds {
		key := fmt.Sprintf(`%s_bucket{%s,le="%s"}`, mesh.MetricDuration, in, strconv.FormatFloat(le, 'g', -1, 64))
		if math.IsInf(le, 1) {
			return "+Inf"
		}
		if series[key] >= q*total {
			return time.Duration(le * float64(time.Second)).String()
		}
	}
	return "?"
}

// bucketBound reads le="X" from a bucket's series; +Inf sorts last.
func bucketBound(series string) float64 {
	_, le, _ := strings.Cut(series, `le="`)
	le, _, _ = strings.Cut(le, `"`)
	f, err := strconv.ParseFloat(le, 64)
	if err != nil {
		return math.Inf(1)
	}
	return f
}

// waitTrace waits until the control plane holds n spans of traceID: the
// sidecars report them across a socket after answering.
func waitTrace(ctx context.Context, lab *mesh.Lab, traceID string, n int) ([]mesh.Request, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		spans := lab.CP.Trace(traceID)
		if len(spans) >= n {
			return spans, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return spans, fmt.Errorf("the sidecars reported %d spans of trace %s, want %d", len(spans), traceID, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// traceTree draws the spans as a chain from the caller's root span and
// checks that each one's parent is the span before it.
func traceTree(root string, spans []mesh.Request) ([]string, error) {
	out := []string{root + "  frontend's app (the caller; sent the header)"}
	parent := root
	for i, s := range spans {
		if s.ParentID != parent {
			return nil, fmt.Errorf("span %s (%s %s) has parent %q, want %s", s.SpanID, s.Destination, s.Direction, s.ParentID, parent)
		}
		who := s.Source + " sidecar, outbound"
		if s.Direction == mesh.Inbound {
			who = s.Destination + " sidecar, inbound"
		}
		out = append(out, fmt.Sprintf("%s└ %s  %s", strings.Repeat("  ", i+1), s.SpanID, who))
		parent = s.SpanID
	}
	return out, nil
}

func spanTimes(spans []mesh.Request) []string {
	out := []string{""}
	for _, s := range spans {
		out = append(out, fmt.Sprintf("%s %s → %d, took %s", s.Method, s.Path, s.Status, s.Latency.Round(10*time.Microsecond)))
	}
	return out
}

// canary404s is how many 404s the v2 sidecar must have counted.
const canary404s = 5

// checkCanary404s passes when, in a running mesh, the reviews v2 sidecar's
// /metrics counts at least five inbound 404s and the v1 sidecar's none:
// scraped over HTTP, as Prometheus would, so only real traffic through the
// sidecars can pass it.
func checkCanary404s(ctx context.Context) (Verdict, error) {
	return anyMesh(ctx, canaryVerdict)
}

func canaryVerdict(ctx context.Context, name string) Verdict {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, miss := dialMesh(ctx, name)
	if c == nil {
		return miss
	}
	defer func() { _ = c.Close() }()
	eps, err := c.Endpoints()
	if err != nil {
		return Verdict{Detail: fmt.Sprintf("mesh %s: %v", name, err)}
	}
	counts := map[string]float64{}
	for _, ep := range eps["reviews"] {
		if ep.Metrics == "" {
			return Verdict{Detail: fmt.Sprintf("mesh %s: the reviews %s sidecar serves no /metrics (started by an older kcna-lab?); restart the mesh", name, ep.Version)}
		}
		n, err := scrape404s(ctx, ep.Metrics)
		if err != nil {
			return Verdict{Detail: fmt.Sprintf("mesh %s: scrape the reviews %s sidecar: %v", name, ep.Version, err)}
		}
		counts[ep.Version] += n
	}
	if _, ok := counts["v1"]; !ok {
		return Verdict{Detail: fmt.Sprintf("mesh %s has no reviews v1 sidecar; `sudo kcna-lab mesh up` starts v1 and v2", name)}
	}
	if _, ok := counts["v2"]; !ok {
		return Verdict{Detail: fmt.Sprintf("mesh %s has no reviews v2 sidecar; `sudo kcna-lab mesh up` starts v1 and v2", name)}
	}
	v1, v2 := counts["v1"], counts["v2"]
	switch {
	case v1 > 0:
		return Verdict{Detail: fmt.Sprintf("mesh %s: reviews v1's sidecar has counted %v answers of 404, and only v2 may: the counters never go down, so restart the mesh, send v2 all the traffic first, then ask for a missing page", name, v1)}
	case v2 < canary404s:
		return Verdict{Detail: fmt.Sprintf("mesh %s: reviews v2's sidecar has counted %v answers of 404, want at least %d; v1's none", name, v2, canary404s)}
	}
	return Verdict{Passed: true, Detail: fmt.Sprintf("mesh %s: scraped over HTTP, reviews v2's sidecar counts %v inbound answers of 404 and v1's none: the errors are pinned on the canary", name, v2)}
}

// scrape404s GETs a sidecar's /metrics and returns how many inbound
// answers of 404 for reviews it counts.
func scrape404s(ctx context.Context, addr string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	// One connection per scrape, closed after it: a check runs now and
	// then, and must leave no idle connection behind. (mesh.PlaintextGet
	// does the same but keeps only 4 KiB of the body, less than a page.)
	t := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer t.CloseIdleConnections()
	client := &http.Client{Transport: t, Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET http://%s/metrics: %s", addr, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("GET http://%s/metrics: %w", addr, err)
	}
	series, err := mesh.ParseMetrics(string(b))
	if err != nil {
		return 0, fmt.Errorf("GET http://%s/metrics: %w", addr, err)
	}
	return series[mesh.MetricRequests+`{direction="inbound",service="reviews",code="404"}`], nil
}
