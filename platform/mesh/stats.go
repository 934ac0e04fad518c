package mesh

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// Direction says which side of a hop a sidecar saw a request from.
type Direction string

const (
	// Outbound is the caller's sidecar: it sees failures that never reached
	// the destination (no endpoint, refused, timed out), and which version
	// answered. Istio calls this reporter=source.
	Outbound Direction = "outbound"
	// Inbound is the destination's sidecar: it sees who called (under
	// mTLS) and what the rules refused. Istio: reporter=destination.
	Inbound Direction = "inbound"
)

// Request is the record of one proxied request, the raw material of both
// the learner's event and Stats.
type Request struct {
	Time      time.Time `json:"time"`
	Direction Direction `json:"direction"`
	// Source is the calling service (outbound), or the caller's SPIFFE ID
	// under mTLS and its address otherwise (inbound).
	Source      string        `json:"source"`
	Destination string        `json:"destination"`
	Method      string        `json:"method"`
	Path        string        `json:"path"`
	Status      int           `json:"status"` // 0: no answer was sent
	Latency     time.Duration `json:"latency_ns"`
	// Version and Endpoint are what was picked (outbound, last try) or the
	// app's address (inbound Endpoint).
	Version  string `json:"version,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	Attempts int    `json:"attempts,omitempty"`
	MTLS     bool   `json:"mtls,omitempty"`
	// Rule is the rule that refused the request, if one did.
	Rule string `json:"rule,omitempty"`
	// Listener is the outbound address the app sent the request to.
	Listener string `json:"listener,omitempty"`
	Err      string `json:"error,omitempty"`
	// TraceID, SpanID and ParentID make the request one span of a W3C
	// trace (see trace.go); ParentID is "" for the root of a new trace.
	TraceID  string `json:"trace_id,omitempty"`
	SpanID   string `json:"span_id,omitempty"`
	ParentID string `json:"parent_id,omitempty"`
}

// Failed reports whether the request ended in no answer or a 5xx: the
// "error" in a mesh's success rate. A 403 from a deny rule is the mesh
// working, not failing.
func (r Request) Failed() bool { return r.Status == 0 || r.Status >= 500 }

// Event is the step a learner reads for r, e.g.
//
//	frontend → reviews: GET /stars → 200 (v2 at 10.0.0.3:15006, mTLS)   curl -H 'Host: reviews' http://127.0.0.1:15001/stars   ok 1.2ms
func (r Request) Event() event.Event {
	e := event.Event{Time: r.Time, Kind: event.KindStep, Took: r.Latency}
	var detail []string
	switch r.Direction {
	case Outbound:
		e.Action = fmt.Sprintf("%s → %s: %s %s → %d", r.Source, r.Destination, r.Method, r.Path, r.Status)
		if r.Endpoint != "" {
			detail = append(detail, strings.TrimSpace(r.Version+" at "+r.Endpoint))
		}
		e.Shell = curl(r.Method, r.Destination, r.Listener+r.Path)
	default:
		e.Action = fmt.Sprintf("%s sidecar ← %s: %s %s → %d", r.Destination, r.Source, r.Method, r.Path, r.Status)
		if r.Rule == "" && r.Err == "" {
			e.Shell = curl(r.Method, r.Destination, r.Endpoint+r.Path)
		}
	}
	if r.MTLS {
		detail = append(detail, "mTLS")
	}
	if r.Attempts > 1 {
		detail = append(detail, fmt.Sprintf("%d tries", r.Attempts))
	}
	if r.Rule != "" {
		detail = append(detail, "refused by rule "+r.Rule)
	}
	if len(detail) > 0 {
		e.Action += " (" + strings.Join(detail, ", ") + ")"
	}
	if r.TraceID != "" {
		// Enough of each id to find the request's trace in the others'.
		e.Action += " trace " + r.TraceID[:8] + " span " + r.SpanID[:8]
	}
	switch {
	case r.Err != "":
		e.Err = r.Err
	case r.Failed():
		e.Err = fmt.Sprintf("%d %s", r.Status, http.StatusText(r.Status))
	}
	return e
}

// retryEvent tells the learner that a try failed and another follows.
func retryEvent(from, to string, req *http.Request, try, tries int, ep Endpoint, why string) event.Event {
	return event.Event{
		Time:   time.Now(),
		Kind:   event.KindStep,
		Action: fmt.Sprintf("%s → %s: %s %s try %d of %d failed at %s %s; retrying", from, to, req.Method, req.URL.EscapedPath(), try, tries, ep.Version, ep.target()),
		Err:    why,
	}
}

// window is how many recent latencies each row keeps for its percentiles.
const window = 1024

// Stats aggregates request records per direction and service, for the TUI.
// The zero value is ready to use; it is safe for concurrent use.
type Stats struct {
	mu   sync.Mutex
	rows map[statsKey]*statsRow
}

type statsKey struct {
	dir     Direction
	service string
}

type statsRow struct {
	count, errors, denied int64
	versions              map[string]int64
	latencies             []time.Duration // a ring of the last `window`
	next                  int
	// For the Prometheus page: answers by status code, and every
	// request's latency in its histogram bucket (not cumulative here).
	codes map[int]int64
	hist  []int64
	sum   time.Duration
}

// StatsRow is the summary of one direction of one service's traffic.
type StatsRow struct {
	Direction Direction `json:"direction"`
	Service   string    `json:"service"`
	Count     int64     `json:"count"`
	// Errors counts requests that failed (no answer or 5xx).
	Errors int64 `json:"errors"`
	// Denied counts requests a rule refused.
	Denied int64 `json:"denied"`
	// Versions counts outbound requests by the version that answered,
	// which is how a 90/10 split shows.
	Versions map[string]int64 `json:"versions,omitempty"`
	// P50 and P99 are over the last 1024 requests.
	P50 time.Duration `json:"p50_ns"`
	P99 time.Duration `json:"p99_ns"`
}

// Add counts one request, under its destination service.
func (s *Stats) Add(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rows == nil {
		s.rows = map[statsKey]*statsRow{}
	}
	k := statsKey{r.Direction, r.Destination}
	row := s.rows[k]
	if row == nil {
		row = &statsRow{versions: map[string]int64{}, codes: map[int]int64{}, hist: make([]int64, len(latencyBuckets)+1)}
		s.rows[k] = row
	}
	row.count++
	row.codes[r.Status]++
	row.hist[bucketOf(r.Latency)]++
	row.sum += r.Latency
	if r.Failed() {
		row.errors++
	}
	if r.Rule != "" {
		row.denied++
	}
	if r.Direction == Outbound && r.Version != "" && !r.Failed() {
		row.versions[r.Version]++
	}
	if len(row.latencies) < window {
		row.latencies = append(row.latencies, r.Latency)
	} else {
		row.latencies[row.next] = r.Latency
		row.next = (row.next + 1) % window
	}
}

// Snapshot returns every row, ordered by service and then direction.
func (s *Stats) Snapshot() []StatsRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]StatsRow, 0, len(s.rows))
	for k, row := range s.rows {
		lat := slices.Clone(row.latencies)
		slices.Sort(lat)
		out = append(out, StatsRow{
			Direction: k.dir, Service: k.service,
			Count: row.count, Errors: row.errors, Denied: row.denied,
			Versions: maps.Clone(row.versions),
			P50:      percentile(lat, 50), P99: percentile(lat, 99),
		})
	}
	slices.SortFunc(out, func(a, b StatsRow) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Direction, b.Direction))
	})
	return out
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(i, 0)]
}

// curl is the command that sends the same request.
func curl(method, host, target string) string {
	flag := ""
	switch method {
	case http.MethodGet:
	case http.MethodHead:
		flag = "-I "
	default:
		flag = "-X " + shellQuote(method) + " "
	}
	return "curl " + flag + "-H " + shellQuote("Host: "+host) + " " + shellQuote("http://"+target)
}

// shellQuote makes s one word for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
