package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/platform/orchestrator"
)

func TestOrchestrateSubcommandsWithoutOrchestrator(t *testing.T) {
	privateState(t)
	name := fmt.Sprintf("orch-none-%d", os.Getpid())
	for _, args := range [][]string{{"status"}, {"scale", "5"}, {"update", "v2"}, {"rollback"}} {
		code, _, errOut := kcna(t, append(append([]string{"orchestrate"}, args...), "--name", name)...)
		if code != 1 || !strings.Contains(strings.ToLower(errOut), "no orchestrator called "+name+" is running") || !strings.Contains(errOut, "kcna-lab orchestrate --name "+name) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and what to run", args, code, errOut)
		}
	}
	code, _, errOut := kcna(t, "orchestrate", "scale", "five")
	if code != 1 || !strings.Contains(errOut, "give a number of replicas") {
		t.Errorf("scale five: exit %d, %q", code, errOut)
	}
}

func TestOrchestrateFlags(t *testing.T) {
	privateState(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nodes", "node-a"}, "NAME=CPUScpu/MEMORY"},
		{[]string{"--memory", "lots"}, "--memory"},
		{[]string{"--version", "V 2"}, "version"},
		{[]string{"--replicas", "99"}, "replicas 99"},
	} {
		code, _, errOut := kcna(t, append([]string{"orchestrate"}, tc.args...)...)
		if code != 1 || !strings.Contains(strings.ToLower(errOut), strings.ToLower(tc.want)) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and %q", tc.args, code, errOut, tc.want)
		}
	}
	f := orchestrateFlags{name: "web", nodes: "node-a=1cpu/256M", memory: "64M", version: "v1", replicas: 3, cpu: 0.25}
	cfg, err := f.config()
	if err != nil || !cfg.Serve || cfg.Deployment.Requests.MemoryBytes != 64<<20 || len(cfg.Nodes) != 1 {
		t.Errorf("config = %+v, %v", cfg, err)
	}
}

func TestPrintStatus(t *testing.T) {
	st := &orchestrator.Status{
		Deployment: "web", Version: "v2", Previous: "v1", Desired: 3, Ready: 2, Rollout: "rolling out v2: 2 of 3 updated, 2 ready",
		Requests:      orchestrator.Requests{CPUs: 0.25, MemoryBytes: 64 << 20},
		Replicas:      []orchestrator.Replica{{Name: "web-3f2a", Version: "v2", Node: "node-a", PID: 4242, State: "ready", Started: time.Now()}},
		Unschedulable: []orchestrator.Unschedulable{{Replica: "web-77aa", Version: "v2", Reason: "0/2 nodes can hold it: it needs 64 MiB of memory"}},
		Nodes: []orchestrator.NodeStatus{{Node: orchestrator.Node{Name: "node-a", CPUs: 1, MemoryBytes: 256 << 20}, Replicas: 1,
			MemoryFile: "/sys/fs/cgroup/memory/kcna-lab/kcna-node-a/memory.limit_in_bytes", MemoryMax: 256 << 20, CPUFile: "/x/cpu.cfs_quota_us", CPUMax: 1}},
		Events: []string{"12:00:00.000 desired 3, running 2: starting web-3f2a (v2) on node-a"},
	}
	var b bytes.Buffer
	if err := printStatus(&b, st); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"version v2 (rollback goes to v1)", "web-3f2a", "4242", "web-77aa", "Pending", "is unschedulable: 0/2 nodes", "memory.limit_in_bytes = 268435456", "latest events:"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}
