package cgroup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/mountinfo"
)

const hybridMountinfo = `22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`

const v2Mountinfo = `25 1 0:22 / /sys rw - sysfs sysfs rw
26 25 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
27 1 0:24 / /mnt/other\040cg rw - cgroup2 cgroup2 rw
`

const v1CombinedMountinfo = `31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime shared:10 - cgroup cgroup rw,memory
`

func fakeRead(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
}

func TestBuildFromMountinfo(t *testing.T) {
	tests := []struct {
		name      string
		mountinfo string
		files     map[string]string
		mode      string
		ctl       map[string]Version
	}{
		{
			name:      "hybrid",
			mountinfo: hybridMountinfo,
			files:     map[string]string{"/sys/fs/cgroup/unified/cgroup.controllers": "hugetlb\n"},
			mode:      "hybrid",
			ctl:       map[string]Version{"memory": V1, "cpu": V1, "pids": V1},
		},
		{
			name:      "pure v2",
			mountinfo: v2Mountinfo,
			files:     map[string]string{"/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n"},
			mode:      "v2",
			ctl:       map[string]Version{"memory": V2, "cpu": V2, "pids": V2},
		},
		{
			name:      "v2 without cpu",
			mountinfo: v2Mountinfo,
			files:     map[string]string{"/sys/fs/cgroup/cgroup.controllers": "memory pids\n"},
			mode:      "v2",
			ctl:       map[string]Version{"memory": V2, "pids": V2},
		},
		{
			name:      "v1 with cpu,cpuacct and no pids",
			mountinfo: v1CombinedMountinfo,
			mode:      "v1",
			ctl:       map[string]Version{"memory": V1, "cpu": V1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := build(parseMountinfo([]byte(tc.mountinfo)), []byte("0::/user.slice\n"), fakeRead(tc.files))
			if got := h.Mode(); got != tc.mode {
				t.Errorf("Mode() = %q, want %q", got, tc.mode)
			}
			got := h.Controllers()
			if len(got) != len(tc.ctl) {
				t.Errorf("Controllers() = %v, want %v", got, tc.ctl)
			}
			for c, v := range tc.ctl {
				if got[c] != v {
					t.Errorf("Controllers()[%s] = %v, want %v", c, got[c], v)
				}
			}
			if h.selfV2 != "/user.slice" {
				t.Errorf("selfV2 = %q", h.selfV2)
			}
		})
	}
}

func TestParseMountinfoOnlyUnderRoot(t *testing.T) {
	ms := parseMountinfo([]byte(v2Mountinfo))
	if len(ms) != 1 || ms[0].point != Root {
		t.Fatalf("mounts = %+v, want only %s", ms, Root)
	}
	if got := mountinfo.Unescape(`/mnt/other\040cg`); got != "/mnt/other cg" {
		t.Errorf("Unescape = %q", got)
	}
}

func TestPlanV2(t *testing.T) {
	h := build(parseMountinfo([]byte(v2Mountinfo)), nil,
		fakeRead(map[string]string{"/sys/fs/cgroup/cgroup.controllers": "cpu memory pids"}))
	p, err := h.plan("kcna-x", Limits{MemoryBytes: 1 << 25, CPUs: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.dirs) != 1 || p.dirs[0].path != "/sys/fs/cgroup/kcna-lab/kcna-x" || p.dirs[0].version != V2 {
		t.Fatalf("dirs = %+v", p.dirs)
	}
	if got := p.ctls[p.dirs[0].path]; !slices.Equal(got, []string{"memory", "cpu", "pids"}) {
		t.Errorf("controllers = %v", got)
	}
}

// TestPlanHybrid: on a hybrid host a group always has a directory in the
// unified hierarchy, last (Destroy kills through it first), and joins a
// v1 controller's hierarchy only for a limit or a node.
func TestPlanHybrid(t *testing.T) {
	h := build(parseMountinfo([]byte(hybridMountinfo)), nil, fakeRead(map[string]string{"/sys/fs/cgroup/unified/cgroup.controllers": ""}))
	paths := func(p plan) []string {
		var out []string
		for _, d := range p.dirs {
			out = append(out, d.path)
		}
		return out
	}
	p, err := h.plan("kcna-x", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(p); !slices.Equal(got, []string{"/sys/fs/cgroup/unified/kcna-lab/kcna-x"}) || p.dirs[0].version != V2 {
		t.Errorf("no limits: dirs %v, want only the unified one", got)
	}
	p, err = h.plan("kcna-x", Limits{Pids: 20})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(p); !slices.Equal(got, []string{"/sys/fs/cgroup/pids/kcna-lab/kcna-x", "/sys/fs/cgroup/unified/kcna-lab/kcna-x"}) {
		t.Errorf("pids limit: dirs %v", got)
	}
	p, err = h.planAt("kcna-node-a", Limits{}, where{isNode: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(p); len(got) != 4 || got[3] != "/sys/fs/cgroup/unified/kcna-lab/kcna-node-a" {
		t.Errorf("node: dirs %v, want memory, cpu, pids and the unified one", got)
	}
}

func TestPlanV1(t *testing.T) {
	h := build(parseMountinfo([]byte(v1CombinedMountinfo)), nil, fakeRead(nil))
	// No limits: memory only (pids is missing and unlimited, cpu unlimited).
	p, err := h.plan("kcna-x", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.dirs) != 1 || p.dirs[0].path != "/sys/fs/cgroup/memory/kcna-lab/kcna-x" {
		t.Fatalf("dirs = %+v", p.dirs)
	}
	p, err = h.plan("kcna-x", Limits{CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.dirs) != 2 || p.dirs[1].path != "/sys/fs/cgroup/cpu,cpuacct/kcna-lab/kcna-x" {
		t.Fatalf("dirs = %+v", p.dirs)
	}
	if _, err := h.plan("kcna-x", Limits{Pids: 5}); err == nil || !strings.Contains(err.Error(), "pids") {
		t.Errorf("pids limit without pids controller: err = %v, want one naming pids", err)
	}
	h.euid = 1000
	if _, err := h.plan("kcna-x", Limits{MemoryBytes: 1 << 25}); err == nil || !strings.Contains(err.Error(), "cgroup v1 cannot be delegated") {
		t.Errorf("rootless v1 memory limit: err = %v", err)
	}
	if p, err := h.plan("kcna-x", Limits{}); err != nil || len(p.dirs) != 0 {
		t.Errorf("rootless v1 without limits: %+v, %v; want no dirs and no error", p.dirs, err)
	}
}

// isFS reports whether path is the root of a filesystem with magic number m.
func isFS(path string, m int64) bool {
	var fs syscall.Statfs_t
	return syscall.Statfs(path, &fs) == nil && fs.Type == m
}

func TestDetectThisHost(t *testing.T) {
	h, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("mode %s, controllers %v", h.Mode(), h.Controllers())
	// The expectation below is for the hybrid layout this lab's VM boots with.
	if !isFS("/sys/fs/cgroup/unified", cgroup2Magic) || !isFS("/sys/fs/cgroup/memory", cgroupMagic) {
		t.Skip("not a hybrid host with /sys/fs/cgroup/{memory,unified}")
	}
	if h.Mode() != "hybrid" {
		t.Errorf("Mode() = %q, want hybrid", h.Mode())
	}
	for _, c := range wanted {
		if v := h.Controllers()[c]; v != V1 {
			t.Errorf("%s: %v, want v1", c, v)
		}
	}
	if err := h.Usable(false); err != nil {
		t.Errorf("Usable(false) = %v", err)
	}
	err = h.Usable(true)
	if err == nil || !strings.Contains(err.Error(), "cgroup v1 cannot be delegated") {
		t.Errorf("Usable(true) = %v, want the v1 delegation error", err)
	}
}

func TestParseMemory(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"64M", 64 << 20, ""},
		{"1G", 1 << 30, ""},
		{"512K", 512 << 10, ""},
		{"1048576", 1048576, ""},
		{"64m", 64 << 20, ""},
		{"64MB", 64 << 20, ""},
		{"64MiB", 64 << 20, ""},
		{"1.5G", 3 << 29, ""},
		{" 32M ", 32 << 20, ""},
		{"0", 0, ""},
		{"64Q", 0, "--memory 64Q: unknown unit Q; use K, M or G"},
		{"", 0, "empty"},
		{"M", 0, "must start with a number"},
		{"-5M", 0, "must start with a number"},
		{"1.2.3M", 0, "not a number"},
		{"99999999999G", 0, "too large"},
	}
	for _, tc := range tests {
		got, err := ParseMemory(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseMemory(%q): %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseMemory(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
		case got != tc.want:
			t.Errorf("ParseMemory(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestLimits(t *testing.T) {
	if !(Limits{}).Zero() || (Limits{Pids: 1}).Zero() {
		t.Error("Zero() is wrong")
	}
	if q := (Limits{CPUs: 0.5}).Quota(); q != 50000 {
		t.Errorf("quota(0.5) = %d, want 50000", q)
	}
	for _, l := range []Limits{{MemoryBytes: -1}, {Pids: -1}, {CPUs: -1}, {CPUs: 0.001}} {
		if err := l.Validate(); err == nil {
			t.Errorf("validate(%+v) = nil, want an error", l)
		}
	}
	if err := (Limits{CPUs: 0.01}).Validate(); err != nil {
		t.Errorf("validate(0.01 CPUs) = %v", err)
	}
}

func TestRemoveRefuses(t *testing.T) {
	for _, p := range []string{
		"/sys/fs/cgroup/memory/user.slice",
		"/sys/fs/cgroup/memory",
		"/sys/fs/cgroup",
		"/tmp/kcna-x",
		"/etc/kl-x",
		"sys/fs/cgroup/memory/kcna-lab/kcna-x",
		"/sys/fs/cgroup/../../tmp/kcna-x",
		"/sys/fs/cgroup/memory/kcna-lab/kcna-x/../../user.slice",
		"/sys/fs/cgroupx/kcna-x",
	} {
		if err := Remove(p); err == nil || !strings.Contains(err.Error(), "refuse") {
			t.Errorf("Remove(%q) = %v, want a refusal", p, err)
		}
	}
	// Something gone is success.
	if err := Remove("/sys/fs/cgroup/memory/kcna-lab/kcna-test-never-made"); err != nil {
		t.Errorf("Remove(missing) = %v, want nil", err)
	}
}

// TestEnable checks which controllers enable asks for, on plain files
// standing in for cgroup.subtree_control.
func TestEnable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cgroup.subtree_control")
	if err := os.WriteFile(file, []byte("cpuset memory\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var steps []string
	sink := event.SinkFunc(func(e event.Event) { steps = append(steps, e.Shell) })
	if err := enable(dir, []string{"memory", "cpu", "pids"}, sink); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); string(b) != "+cpu +pids" {
		t.Errorf("wrote %q, want %q", b, "+cpu +pids")
	}
	want := []string{`echo "+cpu +pids" > ` + file}
	if !slices.Equal(steps, want) {
		t.Errorf("steps %q, want %q", steps, want)
	}
	// Already enabled: nothing to write, no step.
	if err := os.WriteFile(file, []byte("cpu memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps = nil
	if err := enable(dir, []string{"memory", "cpu", "pids"}, sink); err != nil || len(steps) != 0 {
		t.Errorf("enable with all on: %v, steps %q", err, steps)
	}
}

// TestDelegated builds a fake v2 tree in which uid 1000 owns
// user@1000.service and below, as systemd's Delegate= arranges.
func TestDelegated(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown the fake cgroup tree")
	}
	root := t.TempDir()
	svc := "/user.slice/user-1000.slice/user@1000.service"
	self := svc + "/app.slice/term.scope"
	if err := os.MkdirAll(filepath.Join(root, self), 0o755); err != nil {
		t.Fatal(err)
	}
	for p := self; p != "/user.slice/user-1000.slice"; p = filepath.Dir(p) {
		if err := os.Chown(filepath.Join(root, p), 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	sc := filepath.Join(root, svc, "cgroup.subtree_control")
	if err := os.WriteFile(sc, []byte("memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &Host{v1: map[string]string{}, v2: root, selfV2: self, euid: 1000,
		v2Avail: map[string]bool{"memory": true, "cpu": true, "pids": true}}

	err := h.Usable(true)
	if want := "cgroup v2 controllers are not delegated to you: " + sc + " lacks cpu; enable systemd delegation"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Usable(true) = %v, want %q...", err, want)
	}
	if _, err := h.plan("kcna-x", Limits{CPUs: 1}); err == nil || !strings.Contains(err.Error(), "lacks cpu") {
		t.Errorf("plan with a cpu limit, cpu not delegated: %v", err)
	}
	// Without a cpu limit, what is delegated suffices.
	if p, err := h.plan("kcna-x", Limits{MemoryBytes: 1 << 25}); err != nil || len(p.dirs) != 1 {
		t.Errorf("plan with memory delegated: %+v, %v", p.dirs, err)
	}

	if err := os.WriteFile(sc, []byte("cpu memory pids\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Usable(true); err != nil {
		t.Errorf("Usable(true) = %v", err)
	}
	p, err := h.plan("kcna-x", Limits{CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, svc, "kcna-lab", "kcna-x"); len(p.dirs) != 1 || p.dirs[0].path != want {
		t.Errorf("dirs = %+v, want %s", p.dirs, want)
	}

	h.euid = 1001 // owns nothing
	if err := h.Usable(true); err == nil || !strings.Contains(err.Error(), "not owned by uid 1001") {
		t.Errorf("Usable(true) for a stranger = %v", err)
	}
}
