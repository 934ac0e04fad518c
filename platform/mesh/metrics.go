package mesh

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// A sidecar's counters, served for Prometheus to scrape: GET /metrics on
// the sidecar's metrics listener answers in the Prometheus text exposition
// format (version 0.0.4), the format every Prometheus server and
// OpenTelemetry Collector's prometheus receiver reads. Istio's Envoy serves
// the same kind of page on port 15090 (/stats/prometheus), linkerd2-proxy on
// its admin port 4191 (/metrics).

// MetricsPort is where a pod's sidecar serves /metrics, on the pod's address,
// in plaintext even when mTLS is on, as Envoy's 15090 does.
const MetricsPort = 15090

// The two metric families, named once here for the sidecars that serve
// them and the lesson that reads them. Names follow Prometheus'
// conventions: a counter ends in _total, and durations are in seconds.
const (
	MetricRequests = "kcna_mesh_requests_total"
	MetricDuration = "kcna_mesh_request_duration_seconds"
)

// latencyBuckets are the histogram's upper bounds in seconds; +Inf follows.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// bucketOf is the index of the first bucket whose bound is at least d, or
// len(latencyBuckets) for +Inf.
func bucketOf(d time.Duration) int {
	s := d.Seconds()
	i, _ := slices.BinarySearch(latencyBuckets, s)
	return i
}

// WritePrometheus writes the rows' counters in the text exposition format:
// requests by direction, service and status code, and the latency
// histogram by direction and service.
func (s *Stats) WritePrometheus(w io.Writer) error {
	s.mu.Lock()
	type row struct {
		key   statsKey
		codes map[int]int64
		hist  []int64
		sum   time.Duration
		count int64
	}
	rows := make([]row, 0, len(s.rows))
	for k, r := range s.rows {
		rows = append(rows, row{key: k, codes: maps.Clone(r.codes), hist: slices.Clone(r.hist), sum: r.sum, count: r.count})
	}
	s.mu.Unlock()
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.key.service, b.key.service), cmp.Compare(a.key.dir, b.key.dir))
	})

	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# HELP %s Requests this sidecar proxied, by direction, destination service and HTTP status code (0: no answer was sent).\n", MetricRequests)
	fmt.Fprintf(bw, "# TYPE %s counter\n", MetricRequests)
	for _, r := range rows {
		for _, c := range slices.Sorted(maps.Keys(r.codes)) {
			fmt.Fprintf(bw, "%s{direction=\"%s\",service=\"%s\",code=\"%d\"} %d\n", MetricRequests, promEscape(string(r.key.dir)), promEscape(r.key.service), c, r.codes[c])
		}
	}
	fmt.Fprintf(bw, "# HELP %s Time from the request's arrival at this sidecar to the end of its answer, by direction and destination service.\n", MetricDuration)
	fmt.Fprintf(bw, "# TYPE %s histogram\n", MetricDuration)
	for _, r := range rows {
		labels := fmt.Sprintf("direction=\"%s\",service=\"%s\"", promEscape(string(r.key.dir)), promEscape(r.key.service))
		var cum int64
		for i, le := range latencyBuckets {
			if i < len(r.hist) {
				cum += r.hist[i]
			}
			fmt.Fprintf(bw, "%s_bucket{%s,le=%q} %d\n", MetricDuration, labels, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		fmt.Fprintf(bw, "%s_bucket{%s,le=\"+Inf\"} %d\n", MetricDuration, labels, r.count)
		fmt.Fprintf(bw, "%s_sum{%s} %s\n", MetricDuration, labels, strconv.FormatFloat(r.sum.Seconds(), 'g', -1, 64))
		fmt.Fprintf(bw, "%s_count{%s} %d\n", MetricDuration, labels, r.count)
	}
	return bw.Flush()
}

// prometheusContentType is what Prometheus expects for the text format.
const prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

// serveMetrics answers GET /metrics with the sidecar's own counters (not
// the mesh's: each sidecar reports what it saw, and the scraper adds them
// up, as Prometheus does with sum by (...)).
func (s *Sidecar) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metrics" {
		http.Error(w, fmt.Sprintf("kcna-lab mesh: %s sidecar serves only /metrics here", s.cfg.Service), http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "kcna-lab mesh: /metrics answers GET", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", prometheusContentType)
	if err := s.stats.WritePrometheus(w); err != nil {
		s.sink.Emit(event.Event{Time: time.Now(), Kind: event.KindStep,
			Action: fmt.Sprintf("%s sidecar: answer a scrape of /metrics from %s", s.cfg.Service, r.RemoteAddr), Err: err.Error()})
	}
}

// MetricsAddr is the address the metrics listener is bound to ("" before
// Start or without one).
func (s *Sidecar) MetricsAddr() string { return addrOf(s.metricsLn) }

// ParseMetrics reads a page in the text exposition format into its
// samples, keyed by the series as written ("name{label="value",...}"),
// skipping HELP, TYPE and other comment lines. A line that is not a
// sample is an error naming it.
func ParseMetrics(page string) (map[string]float64, error) {
	out := map[string]float64{}
	for i, line := range strings.Split(page, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// NAME{LABELS} VALUE [TIMESTAMP]; a label value may hold spaces,
		// so the series ends at the last closing brace.
		series, rest := line, ""
		if j := strings.LastIndexByte(line, '}'); j >= 0 {
			series, rest = line[:j+1], line[j+1:]
		} else if f := strings.Fields(line); len(f) > 1 {
			series, rest = f[0], strings.Join(f[1:], " ")
		}
		f := strings.Fields(rest)
		if len(f) < 1 || len(f) > 2 {
			return nil, fmt.Errorf("line %d, %q: want NAME{LABELS} VALUE", i+1, line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d, %q: the value: %w", i+1, line, err)
		}
		out[series] = v
	}
	return out, nil
}

// promEscape escapes a label value as the Prometheus text format does: a
// backslash, a double quote and a newline, and nothing else (Go's %q would
// write escapes such as \t that the format does not have).
var promEscape = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace
