package mesh

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseTraceparent(t *testing.T) {
	const good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, c := range []struct {
		h  string
		ok bool
	}{
		{good, true},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", true}, // a later version may add fields
		{good + "-extra", false}, // version 00 may not
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false}, // upper case
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", false},
		{"", false},
	} {
		if _, _, _, ok := ParseTraceparent(c.h); ok != c.ok {
			t.Errorf("ParseTraceparent(%q) ok = %v, want %v", c.h, ok, c.ok)
		}
	}
	if _, _, _, ok := ParseTraceparent(NewTraceparent()); !ok {
		t.Error("NewTraceparent makes a header ParseTraceparent refuses")
	}
}

// TestTraceAcrossSidecars sends a request carrying a traceparent through
// two sidecars and follows the trace: the caller's span is the parent of
// frontend's outbound span, which is the parent of reviews' inbound span,
// which is the parent the app is told.
func TestTraceAcrossSidecars(t *testing.T) {
	m := newMesh(t)
	frontend := m.sidecar("frontend", "v1", newApp(t, "frontend", "v1", nil))
	app := newApp(t, "reviews", "v1", nil)
	m.sidecar("reviews", "v1", app)

	const traceID, root = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, err := http.NewRequest("GET", "http://"+frontend.OutboundAddr()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "reviews"
	req.Header.Set(TraceparentHeader, "00-"+traceID+"-"+root+"-01")
	req.Header.Set(tracestateHeader, "vendor=x")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var spans []Request
	waitFor(t, "two spans", func() bool { spans = m.cp.Trace(traceID); return len(spans) == 2 })
	out, in := spans[0], spans[1]
	if out.Direction != Outbound || in.Direction != Inbound {
		t.Fatalf("spans out of order: %+v", spans)
	}
	if out.ParentID != root || in.ParentID != out.SpanID || out.SpanID == in.SpanID {
		t.Errorf("parent links: root %s → out %s (parent %s) → in %s (parent %s)", root, out.SpanID, out.ParentID, in.SpanID, in.ParentID)
	}
	if in.Time.Before(out.Time) || in.Latency > out.Latency {
		t.Errorf("the inbound span (%v at %v) is not inside the outbound one (%v at %v)", in.Latency, in.Time, out.Latency, out.Time)
	}
	got := app.lastRequest().Header
	if tp := got.Get(TraceparentHeader); tp != "00-"+traceID+"-"+in.SpanID+"-01" {
		t.Errorf("the app got traceparent %q, want reviews' inbound span as parent", tp)
	}
	if ts := got.Get(tracestateHeader); ts != "vendor=x" {
		t.Errorf("tracestate %q was not passed on", ts)
	}

	// No header, or a malformed one: a new trace, its tracestate dropped.
	req.Header.Set(TraceparentHeader, "00-"+strings.ToUpper(traceID)+"-"+root+"-01")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got = app.lastRequest().Header
	newID, _, _, ok := ParseTraceparent(got.Get(TraceparentHeader))
	if !ok || newID == traceID || got.Get(tracestateHeader) != "" {
		t.Errorf("after a malformed traceparent the app got %q, tracestate %q", got.Get(TraceparentHeader), got.Get(tracestateHeader))
	}
	if n := len(m.cp.Trace(newID)); n != 2 {
		t.Errorf("the new trace has %d spans, want 2", n)
	}
}
