package mesh

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Tracing, the W3C Trace Context way (https://www.w3.org/TR/trace-context/):
// a request carries a traceparent header,
//
//	traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//	             version  trace-id (16 bytes)   parent-id (8 bytes)  flags
//
// Each sidecar the request passes is one span of the trace: it keeps the
// trace-id, takes the incoming parent-id as its span's parent, makes a new
// span-id of its own, and sends the request on with that span-id as the
// parent-id. So the caller's outbound span is the parent of the callee's
// inbound span, and a request that arrives with no (or a malformed) header
// starts a new trace. The sidecars cannot link a request the app received
// to the calls it then makes: only the app can, by copying the header it
// got into its own outgoing calls.

// TraceparentHeader is the W3C Trace Context header.
const TraceparentHeader = "Traceparent"

// tracestateHeader carries vendors' extra trace data; it is passed on as it
// came, or dropped when the trace is restarted.
const tracestateHeader = "Tracestate"

// spanContext is what a traceparent header carries.
type spanContext struct {
	traceID string // 32 lower-case hex digits, not all zero
	spanID  string // 16 lower-case hex digits, not all zero
	flags   string // 2 hex digits; 01 = sampled
}

func (c spanContext) header() string { return "00-" + c.traceID + "-" + c.spanID + "-" + c.flags }

// ParseTraceparent reads a traceparent header by the W3C rules: version 00
// is exactly 55 characters; a later version may append fields after a
// dash; version ff is invalid; ids are lower-case hex and not all zero.
func ParseTraceparent(h string) (traceID, parentID, flags string, ok bool) {
	c, ok := parseTraceparent(h)
	return c.traceID, c.spanID, c.flags, ok
}

func parseTraceparent(h string) (spanContext, bool) {
	if len(h) < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-' {
		return spanContext{}, false
	}
	version := h[:2]
	switch {
	case !lowerHex(version) || version == "ff":
		return spanContext{}, false
	case version == "00" && len(h) != 55:
		return spanContext{}, false
	case len(h) > 55 && h[55] != '-':
		return spanContext{}, false
	}
	c := spanContext{traceID: h[3:35], spanID: h[36:52], flags: h[53:55]}
	if !lowerHex(c.traceID) || !lowerHex(c.spanID) || !lowerHex(c.flags) ||
		allZero(c.traceID) || allZero(c.spanID) {
		return spanContext{}, false
	}
	return c, true
}

// NewTraceparent makes the header of a new trace's root span, sampled.
func NewTraceparent() string {
	return spanContext{traceID: randomHex(16), spanID: randomHex(8), flags: "01"}.header()
}

// startSpan opens this sidecar's span for the request in h: its record
// gets the trace and parent ids, and h is rewritten for the next hop with
// the new span as the parent.
func startSpan(h http.Header, rec *Request) {
	in, ok := parseTraceparent(h.Get(TraceparentHeader))
	if !ok {
		// A new trace. A tracestate without a valid traceparent belongs
		// to no trace, so it goes too.
		in = spanContext{traceID: randomHex(16), flags: "01"}
		h.Del(tracestateHeader)
	}
	out := spanContext{traceID: in.traceID, spanID: randomHex(8), flags: in.flags}
	rec.TraceID, rec.ParentID, rec.SpanID = out.traceID, in.spanID, out.spanID
	h.Set(TraceparentHeader, out.header())
}

func randomHex(n int) string {
	b := make([]byte, n)
	for {
		_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
		if s := hex.EncodeToString(b); !allZero(s) {
			return s
		}
	}
}

func lowerHex(s string) bool {
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool { return strings.Trim(s, "0") == "" }

// spanLog keeps the spans of the last requests the control plane heard of,
// the way a tracing backend such as Jaeger keeps what the sidecars report,
// so that one trace can be put back together. Safe for concurrent use.
type spanLog struct {
	mu    sync.Mutex
	spans []Request // a ring of the last spanLogSize
	next  int
}

const spanLogSize = 4096

func (l *spanLog) add(r Request) {
	if r.TraceID == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.spans) < spanLogSize {
		l.spans = append(l.spans, r)
		return
	}
	l.spans[l.next] = r
	l.next = (l.next + 1) % spanLogSize
}

// trace returns the spans of traceID, oldest first.
func (l *spanLog) trace(traceID string) []Request {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Request
	for _, r := range l.spans {
		if r.TraceID == traceID {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Request) int { return a.Time.Compare(b.Time) })
	return out
}
