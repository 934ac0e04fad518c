package mesh

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRulesJSON(t *testing.T) {
	in := `{
	  "mtls": true,
	  "services": {
	    "reviews": {"split": {"v1": 90, "v2": 10}, "retries": 2, "timeout": "500ms"},
	    "ratings": {"deny": ["/admin"], "allow": ["/api"], "timeout": 2000000}
	  }
	}`
	var r Rules
	if err := json.Unmarshal([]byte(in), &r); err != nil {
		t.Fatal(err)
	}
	want := Rules{MTLS: true, Services: map[string]ServiceRules{
		"reviews": {Split: map[string]int{"v1": 90, "v2": 10}, Retries: 2, Timeout: Duration(500 * time.Millisecond)},
		"ratings": {Deny: []string{"/admin"}, Allow: []string{"/api"}, Timeout: Duration(2 * time.Millisecond)},
	}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %+v\nwant %+v", r, want)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"timeout":"500ms"`) {
		t.Errorf("timeout not written as a duration string: %s", b)
	}
	var again Rules
	if err := json.Unmarshal(b, &again); err != nil || !reflect.DeepEqual(again, r) {
		t.Errorf("round trip: %+v, %v", again, err)
	}
	if err := json.Unmarshal([]byte(`{"services":{"x":{"timeout":"soon"}}}`), &r); err == nil {
		t.Error("bad duration accepted")
	}
	if s := want.String(); !strings.Contains(s, "mTLS on") || !strings.Contains(s, "reviews: split v1 90 / v2 10") {
		t.Errorf("String() = %s", s)
	}
}

func TestRulesValidate(t *testing.T) {
	for name, sr := range map[string]ServiceRules{
		"relative prefix":  {Deny: []string{"admin"}},
		"negative retries": {Retries: -1},
		"retry storm":      {Retries: MaxRetries + 1},
		"negative timeout": {Timeout: -1},
		"negative weight":  {Split: map[string]int{"v1": -1, "v2": 2}},
		"all weights zero": {Split: map[string]int{"v1": 0}},
		"unnamed version":  {Split: map[string]int{"": 1}},
	} {
		if err := (Rules{Services: map[string]ServiceRules{"reviews": sr}}).Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, bad := range []string{"", "Reviews", "-x", "x-", "a.b", strings.Repeat("a", 64)} {
		if err := (Rules{Services: map[string]ServiceRules{bad: {}}}).Validate(); err == nil {
			t.Errorf("service name %q accepted", bad)
		}
	}
	// A sidecar refuses invalid rules and keeps the ones it had.
	s, err := NewSidecar(SidecarConfig{Service: "a", Inbound: "127.0.0.1:0", App: "127.0.0.1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(Rules{MTLS: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(Rules{Services: map[string]ServiceRules{"b": {Retries: -1}}}); err == nil || !s.Rules().MTLS {
		t.Errorf("invalid rules: err %v, rules now %+v", err, s.Rules())
	}
	// The sidecar keeps its own copy: changing the caller's map changes nothing.
	r := Rules{Services: map[string]ServiceRules{"b": {Deny: []string{"/x"}}}}
	if err := s.Apply(r); err != nil {
		t.Fatal(err)
	}
	r.Services["b"].Deny[0] = "/y"
	if got := s.Rules().Services["b"].Deny[0]; got != "/x" {
		t.Errorf("the caller's later change leaked into the sidecar: %s", got)
	}
}

func TestPermits(t *testing.T) {
	sr := ServiceRules{Deny: []string{"/admin", "/api/internal/"}, Allow: []string{"/api", "/admin"}}
	for path, want := range map[string]bool{
		"/api":              true,
		"/api/v1":           true,
		"/apis":             false, // not under /api, and not in the allow list
		"/admin":            false,
		"/admin/x":          false,
		"/api/internal":     false,
		"/api/internal/x":   false,
		"/api/internalized": true,
		"/":                 false,
	} {
		if got, rule := sr.Permits(path); got != want {
			t.Errorf("Permits(%s) = %v (%s), want %v", path, got, rule, want)
		}
	}
	if ok, _ := (ServiceRules{Deny: []string{"/"}}).Permits("/anything"); ok {
		t.Error(`deny "/" let a path through`)
	}
	for in, want := range map[string]string{
		"":                 "/",
		"/":                "/",
		"//admin":          "/admin",
		"/a/../admin":      "/admin",
		"/admin/../public": "/public",
		"/dir/":            "/dir/",
		"/dir/./x/":        "/dir/x/",
		"/..":              "/",
	} {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var s Stats
	for i := 1; i <= 100; i++ {
		s.Add(Request{Direction: Outbound, Destination: "x", Status: 200, Latency: time.Duration(i) * time.Millisecond})
	}
	s.Add(Request{Direction: Outbound, Destination: "x", Status: 0})
	row := s.Snapshot()[0]
	if row.Count != 101 || row.Errors != 1 || row.P50 != 50*time.Millisecond || row.P99 != 99*time.Millisecond {
		t.Errorf("%+v", row)
	}
	// Only the last `window` latencies count.
	for range window {
		s.Add(Request{Direction: Outbound, Destination: "x", Status: 200, Latency: time.Second})
	}
	if row := s.Snapshot()[0]; row.P50 != time.Second {
		t.Errorf("old samples still counted: p50 %v", row.P50)
	}
}
