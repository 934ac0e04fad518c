package orchestrator

import (
	"strings"
	"testing"
)

const mib = 1 << 20

func pending(n int, r Requests) []Binding {
	var out []Binding
	for i := range n {
		out = append(out, Binding{Replica: "web-" + string(rune('a'+i)), Requests: r})
	}
	return out
}

func TestScheduleSpreadsByFreeCapacity(t *testing.T) {
	nodes := []Node{{Name: "node-a", CPUs: 1, MemoryBytes: 256 * mib}, {Name: "node-b", CPUs: 1, MemoryBytes: 256 * mib}}
	req := Requests{CPUs: 0.25, MemoryBytes: 64 * mib}
	placed, unsched := Schedule(nodes, nil, pending(4, req))
	if len(unsched) != 0 || len(placed) != 4 {
		t.Fatalf("placed %v, unschedulable %v", placed, unsched)
	}
	// Equal nodes: a tie goes to the first, then the emptier one wins.
	want := []string{"node-a", "node-b", "node-a", "node-b"}
	for i, p := range placed {
		if p.Node != want[i] {
			t.Errorf("replica %d on %s, want %s (placed %v)", i, p.Node, want[i], placed)
		}
	}
	// What is bound counts: node-a is fuller, so node-b takes the next.
	bound := []Binding{{Replica: "x", Node: "node-a", Requests: req}}
	placed, _ = Schedule(nodes, bound, pending(1, req))
	if placed[0].Node != "node-b" {
		t.Errorf("with node-a half full, placed on %s, want node-b", placed[0].Node)
	}
	// A bigger node has more room: the fraction free decides, not the count.
	nodes = []Node{{Name: "small", CPUs: 1, MemoryBytes: 128 * mib}, {Name: "big", CPUs: 2, MemoryBytes: 512 * mib}}
	placed, _ = Schedule(nodes, nil, pending(1, req))
	if placed[0].Node != "big" {
		t.Errorf("placed on %s, want big", placed[0].Node)
	}
}

func TestScheduleFillsExactly(t *testing.T) {
	// Four replicas of 0.25 CPU fill a CPU exactly, despite float sums.
	nodes := []Node{{Name: "node-a", CPUs: 1, MemoryBytes: 1024 * mib}}
	placed, unsched := Schedule(nodes, nil, pending(5, Requests{CPUs: 0.1 + 0.15, MemoryBytes: 8 * mib}))
	if len(placed) != 4 || len(unsched) != 1 {
		t.Fatalf("placed %d, unschedulable %d; want 4 and 1", len(placed), len(unsched))
	}
	if want := "0/1 nodes can hold it: it needs 0.25 CPU; node-a has 0 CPU free"; unsched[0].Reason != want {
		t.Errorf("reason %q, want %q", unsched[0].Reason, want)
	}
}

func TestScheduleReportsUnschedulable(t *testing.T) {
	nodes := []Node{{Name: "node-a", CPUs: 1, MemoryBytes: 256 * mib}, {Name: "node-b", CPUs: 1, MemoryBytes: 256 * mib}}
	bound := []Binding{{Replica: "x", Node: "node-a", Requests: Requests{CPUs: 0.25, MemoryBytes: 64 * mib}}}
	placed, unsched := Schedule(nodes, bound, []Binding{{Replica: "big", Requests: Requests{CPUs: 0.5, MemoryBytes: 512 * mib}}})
	if len(placed) != 0 || len(unsched) != 1 {
		t.Fatalf("placed %v, unschedulable %v", placed, unsched)
	}
	want := "0/2 nodes can hold it: it needs 512 MiB of memory; node-a has 192 MiB free, node-b 256 MiB"
	if u := unsched[0]; u.Replica != "big" || u.Reason != want {
		t.Errorf("got %+v, want reason %q", u, want)
	}
	// Both short: both named.
	_, unsched = Schedule(nodes[:1], bound, []Binding{{Replica: "big", Requests: Requests{CPUs: 2, MemoryBytes: 512 * mib}}})
	if r := unsched[0].Reason; !strings.Contains(r, "2 CPU and 512 MiB of memory") || !strings.Contains(r, "node-a has 0.75 CPU and 192 MiB free") {
		t.Errorf("reason %q should name CPU and memory", r)
	}
}

func TestParseNodes(t *testing.T) {
	nodes, err := ParseNodes("node-a=1cpu/256M, node-b=0.5CPU/1G")
	if err != nil {
		t.Fatal(err)
	}
	want := []Node{{Name: "node-a", CPUs: 1, MemoryBytes: 256 * mib}, {Name: "node-b", CPUs: 0.5, MemoryBytes: 1024 * mib}}
	if len(nodes) != 2 || nodes[0] != want[0] || nodes[1] != want[1] {
		t.Errorf("ParseNodes = %+v, want %+v", nodes, want)
	}
	for _, bad := range []string{"node-a", "node-a=1cpu", "node-a=xcpu/1G", "node-a=1cpu/lots", "=1cpu/1G", "node-a=-1cpu/1G"} {
		if _, err := ParseNodes(bad); err == nil {
			t.Errorf("ParseNodes(%q) = nil error", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Deployment: Deployment{Replicas: 3, Requests: Requests{CPUs: 0.25, MemoryBytes: 64 * mib}}, Nodes: []Node{{Name: "node-a", CPUs: 1, MemoryBytes: 256 * mib}}}
	c, err := good.validate()
	if err != nil {
		t.Fatal(err)
	}
	if c.Deployment.Name != "web" || c.Deployment.Version != "v1" || c.Deployment.Command == nil || c.ReadyAfter <= 0 {
		t.Errorf("defaults not filled in: %+v", c)
	}
	for name, mutate := range map[string]func(*Config){
		"long name":   func(c *Config) { c.Deployment.Name = strings.Repeat("w", 27) },
		"bad version": func(c *Config) { c.Deployment.Version = "v1; rm -rf /" },
		"no cpu":      func(c *Config) { c.Deployment.Requests.CPUs = 0 },
		"tiny memory": func(c *Config) { c.Deployment.Requests.MemoryBytes = mib },
		"no nodes":    func(c *Config) { c.Nodes = nil },
		"same node":   func(c *Config) { c.Nodes = append(c.Nodes, Node{Name: "a", CPUs: 1, MemoryBytes: mib}) },
		"empty node":  func(c *Config) { c.Nodes[0].MemoryBytes = 0 },
		"too many":    func(c *Config) { c.Deployment.Replicas = MaxReplicas + 1 },
	} {
		cfg := good
		cfg.Nodes = append([]Node(nil), good.Nodes...)
		mutate(&cfg)
		if _, err := cfg.validate(); err == nil {
			t.Errorf("%s: validate accepted %+v", name, cfg)
		}
	}
}

func TestDefaultCommand(t *testing.T) {
	cmd := DefaultCommand("web", false)
	if got := strings.Join(cmd("v2"), " "); !strings.Contains(got, "web v2 started") || !strings.Contains(got, "exec env APP_VERSION=v2 sleep") {
		t.Errorf("v2: %s", got)
	}
	if got := strings.Join(cmd("v3-broken"), " "); !strings.Contains(got, "exit 1") {
		t.Errorf("a broken version should exit at once: %s", got)
	}
	if got := strings.Join(DefaultCommand("web", true)("v1"), " "); !strings.Contains(got, "httpd -f -p 80") {
		t.Errorf("with net: %s", got)
	}
}
