package mesh

import (
	"bufio"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMetricsEndpoint scrapes a sidecar's /metrics over HTTP after real
// traffic and checks the page by the text format's rules and against what
// was sent.
func TestMetricsEndpoint(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	slow := newApp(t, "reviews", "v1", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		time.Sleep(30 * time.Millisecond)
	})
	reviews := m.sidecar("reviews", "v1", slow, func(c *SidecarConfig) { c.Metrics = "127.0.0.1:0" })
	if reviews.MetricsAddr() == "" || frontend.MetricsAddr() != "" {
		t.Fatalf("metrics listeners: reviews %q, frontend %q (want one on reviews only)", reviews.MetricsAddr(), frontend.MetricsAddr())
	}
	if ep, _ := reviews.Endpoint(); ep.Metrics != reviews.MetricsAddr() {
		t.Errorf("endpoint advertises metrics at %q, want %q", ep.Metrics, reviews.MetricsAddr())
	}
	for range 3 {
		call(t, frontend, "GET", "reviews", "/")
	}
	for range 2 {
		call(t, frontend, "GET", "reviews", "/missing")
	}

	resp, err := client.Get("http://" + reviews.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != prometheusContentType {
		t.Errorf("Content-Type %q, want %q", ct, prometheusContentType)
	}
	page := parseExposition(t, bufio.NewScanner(resp.Body))
	in := `direction="inbound",service="reviews"`
	if got := page.samples[MetricRequests+`{`+in+`,code="200"}`]; got != 3 {
		t.Errorf("200s counted: %v, want 3\n%s", got, page.text)
	}
	if got := page.samples[MetricRequests+`{`+in+`,code="404"}`]; got != 2 {
		t.Errorf("404s counted: %v, want 2\n%s", got, page.text)
	}
	if page.types[MetricRequests] != "counter" || page.types[MetricDuration] != "histogram" {
		t.Errorf("TYPE lines: %v", page.types)
	}
	// The histogram: _count is every request, +Inf equals it, the buckets
	// never decrease, the three slow answers (30ms) are above 25ms, and
	// _sum is at least their 90ms.
	if c := page.samples[MetricDuration+`_count{`+in+`}`]; c != 5 {
		t.Errorf("_count = %v, want 5", c)
	}
	if inf := page.samples[MetricDuration+`_bucket{`+in+`,le="+Inf"}`]; inf != 5 {
		t.Errorf("+Inf bucket = %v, want 5", inf)
	}
	if le := page.samples[MetricDuration+`_bucket{`+in+`,le="0.025"}`]; le > 2 {
		t.Errorf("le=0.025 bucket = %v: the three 30ms answers are in it", le)
	}
	if sum := page.samples[MetricDuration+`_sum{`+in+`}`]; sum < 0.09 {
		t.Errorf("_sum = %vs, want at least 0.09", sum)
	}
	prev := -1.0
	for _, le := range latencyBuckets {
		v, ok := page.samples[fmt.Sprintf(`%s_bucket{%s,le="%s"}`, MetricDuration, in, strconv.FormatFloat(le, 'g', -1, 64))]
		if !ok || v < prev {
			t.Errorf("bucket le=%v: %v (present %v), previous %v", le, v, ok, prev)
		}
		prev = v
	}

	// Only /metrics, only GET.
	if st, _ := send(t, "GET", "http://"+reviews.MetricsAddr()+"/stats", ""); st != http.StatusNotFound {
		t.Errorf("GET /stats: %d, want 404", st)
	}
	if st, _ := send(t, "POST", "http://"+reviews.MetricsAddr()+"/metrics", ""); st != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d, want 405", st)
	}
}

// exposition is a parsed text-format page: sample lines by series, and
// each family's TYPE.
type exposition struct {
	samples map[string]float64
	types   map[string]string
	text    string
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)
	metaLine   = regexp.MustCompile(`^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$`)
)

// parseExposition checks every line against the text format (version
// 0.0.4): HELP and TYPE before a family's samples, and each sample's
// family declared.
func parseExposition(t *testing.T, sc *bufio.Scanner) exposition {
	t.Helper()
	e := exposition{samples: map[string]float64{}, types: map[string]string{}}
	var all strings.Builder
	help := map[string]bool{}
	for sc.Scan() {
		line := sc.Text()
		all.WriteString(line + "\n")
		if m := metaLine.FindStringSubmatch(line); m != nil {
			if m[1] == "HELP" {
				help[m[2]] = true
			} else {
				e.types[m[2]] = m[3]
			}
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a text-format line: %q", line)
		}
		family := m[1]
		if e.types[family] == "" {
			family = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(family, "_bucket"), "_sum"), "_count")
		}
		if e.types[family] == "" || !help[family] {
			t.Errorf("sample %q comes before its family's HELP and TYPE lines", line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Errorf("sample %q: value: %v", line, err)
		}
		e.samples[m[1]+m[2]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	e.text = all.String()
	return e
}

func TestParseMetrics(t *testing.T) {
	got, err := ParseMetrics("# HELP x a thing\n# TYPE x counter\nx{a=\"b c\",code=\"200\"} 3\nup 1 1700000000000\n")
	if err != nil || got[`x{a="b c",code="200"}`] != 3 || got["up"] != 1 || len(got) != 2 {
		t.Errorf("ParseMetrics: %v, %v", got, err)
	}
	if _, err := ParseMetrics("x{a=\"b\"}\n"); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a sample without a value: %v", err)
	}
}
