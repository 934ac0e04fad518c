//go:build linux

package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

func mustConfig(t *testing.T, spec sandbox.Spec, rootfs string) *specs.Spec {
	t.Helper()
	cfg, err := Config(spec, rootfs)
	if err != nil {
		t.Fatalf("Config: %v", err)
	}
	return cfg
}

// lessonSpec is the lesson's sandbox: hostname oci-box, 64 MiB, 32 pids.
func lessonSpec() sandbox.Spec {
	return sandbox.Spec{
		Args:     []string{"/bin/sh", "-c", "hostname; ps"},
		Hostname: "oci-box",
		Limits:   sandbox.Limits{MemoryBytes: 64 << 20, Pids: 32},
		Isolate:  slices.Clone(sandbox.AllNamespaces),
	}
}

func TestConfigNamespacesAndMappings(t *testing.T) {
	cfg := mustConfig(t, lessonSpec(), "/srv/rootfs")
	var got []string
	for _, n := range cfg.Linux.Namespaces {
		got = append(got, string(n.Type))
	}
	want := []string{"pid", "uts", "mount", "ipc", "network", "user", "cgroup", "time"}
	if !slices.Equal(got, want) {
		t.Errorf("namespaces %v, want %v", got, want)
	}
	if cfg.Version != specs.Version || cfg.Version != "1.3.0" {
		t.Errorf("ociVersion %q", cfg.Version)
	}
	if cfg.Hostname != "oci-box" || cfg.Root.Path != "/srv/rootfs" || !cfg.Root.Readonly {
		t.Errorf("hostname %q root %+v", cfg.Hostname, cfg.Root)
	}
	p := cfg.Process
	if !slices.Equal(p.Args, []string{"/bin/sh", "-c", "hostname; ps"}) || p.Cwd != "/" || p.Terminal || !p.NoNewPrivileges {
		t.Errorf("process %+v", p)
	}
	if !slices.Contains(p.Env, "HOSTNAME=oci-box") {
		t.Errorf("env %v lacks HOSTNAME=oci-box", p.Env)
	}
	wantMap := specs.LinuxIDMapping{ContainerID: 0, HostID: 100000, Size: 65536}
	if os.Geteuid() != 0 {
		wantMap = specs.LinuxIDMapping{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}
	}
	if len(cfg.Linux.UIDMappings) != 1 || cfg.Linux.UIDMappings[0] != wantMap {
		t.Errorf("uidMappings %+v, want %+v", cfg.Linux.UIDMappings, wantMap)
	}
	if len(cfg.Linux.GIDMappings) != 1 || cfg.Linux.GIDMappings[0].HostID != wantMap.HostID && os.Geteuid() == 0 {
		t.Errorf("gidMappings %+v", cfg.Linux.GIDMappings)
	}

	// Fewer namespaces: no user namespace means no maps, no UTS namespace
	// no hostname, no net namespace no /sys, no IPC namespace no mqueue.
	if os.Geteuid() == 0 {
		s := lessonSpec()
		s.Isolate = []sandbox.Namespace{sandbox.NSPid, sandbox.NSMount}
		cfg := mustConfig(t, s, "")
		if len(cfg.Linux.Namespaces) != 2 || cfg.Linux.UIDMappings != nil || cfg.Hostname != "" {
			t.Errorf("pid,mnt only: %+v hostname %q", cfg.Linux, cfg.Hostname)
		}
		if cfg.Root.Path != "rootfs" {
			t.Errorf("root.path %q, want the bundle's rootfs", cfg.Root.Path)
		}
		for _, m := range cfg.Mounts {
			if m.Destination == "/sys" || m.Destination == "/dev/mqueue" {
				t.Errorf("mount %s without its namespace", m.Destination)
			}
		}
	}
	if typ, ok := NamespaceType(sandbox.NSMount); !ok || typ != specs.MountNamespace {
		t.Errorf("mnt is %q", typ)
	}
}

func TestConfigLimits(t *testing.T) {
	s := lessonSpec()
	s.Limits.CPUs = 0.5
	r := mustConfig(t, s, "").Linux.Resources
	if r == nil || r.Memory == nil || *r.Memory.Limit != 67108864 || *r.Memory.Swap != 67108864 {
		t.Fatalf("memory %+v", r)
	}
	if *r.CPU.Quota != 50000 || *r.CPU.Period != 100000 {
		t.Errorf("cpu quota %d period %d", *r.CPU.Quota, *r.CPU.Period)
	}
	if *r.Pids.Limit != 32 {
		t.Errorf("pids %d", *r.Pids.Limit)
	}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"memory":{"limit":67108864,"swap":67108864}`) {
		t.Errorf("JSON %s", b)
	}

	s.Limits = sandbox.Limits{}
	if r := mustConfig(t, s, "").Linux.Resources; r != nil {
		t.Errorf("no limits gave %+v", r)
	}
	s.Limits.CPUs = 0.001
	if _, err := Config(s, ""); err == nil {
		t.Error("a quota under 1000µs was accepted")
	}
}

func TestConfigCapabilitiesMinusDrop(t *testing.T) {
	s := lessonSpec()
	all := mustConfig(t, s, "").Process.Capabilities
	if len(all.Bounding) != len(sandbox.DefaultCapabilities()) {
		t.Fatalf("bounding %v, want kcna-lab's default set %v", all.Bounding, sandbox.DefaultCapabilities())
	}
	for _, c := range all.Bounding {
		if !strings.HasPrefix(c, "CAP_") || strings.ToUpper(c) != c {
			t.Errorf("capability %q is not a CAP_* name", c)
		}
	}
	if slices.Contains(all.Bounding, "CAP_SYS_ADMIN") {
		t.Error("CAP_SYS_ADMIN kept")
	}
	s.CapDrop = []string{"NET_RAW", "cap_chown"}
	c := mustConfig(t, s, "").Process.Capabilities
	for _, set := range [][]string{c.Bounding, c.Effective, c.Permitted} {
		if len(set) != len(all.Bounding)-2 || slices.Contains(set, "CAP_NET_RAW") || slices.Contains(set, "CAP_CHOWN") || !slices.Contains(set, "CAP_KILL") {
			t.Errorf("after dropping NET_RAW and chown: %v", set)
		}
	}
	if c.Inheritable != nil || c.Ambient != nil {
		t.Errorf("inheritable %v ambient %v", c.Inheritable, c.Ambient)
	}
	s.CapDrop = []string{"NOT_A_CAP"}
	if _, err := Config(s, ""); err == nil {
		t.Error("an unknown capability was accepted")
	}
}

// TestConfigSeccomp: linux.seccomp is Docker's profile resolved for the
// bounding set, as Docker writes it; nothing when unconfined; a broken
// FILE is refused with where it breaks.
func TestConfigSeccomp(t *testing.T) {
	s := lessonSpec()
	sec := mustConfig(t, s, "").Linux.Seccomp
	if sec == nil || sec.DefaultAction != specs.ActErrno || *sec.DefaultErrnoRet != 1 || len(sec.Syscalls) == 0 {
		t.Fatalf("linux.seccomp %+v; want Docker's profile, EPERM by default", sec)
	}
	rules := func(sec *specs.LinuxSeccomp, name string) int {
		n := 0
		for _, r := range sec.Syscalls {
			if slices.Contains(r.Names, name) {
				n++
			}
		}
		return n
	}
	if rules(sec, "chroot") != 1 || rules(sec, "mount") != 0 {
		t.Errorf("with the default set, want chroot's rule (CAP_SYS_CHROOT) and none for mount (CAP_SYS_ADMIN): %d, %d", rules(sec, "chroot"), rules(sec, "mount"))
	}
	s.CapDrop = []string{"SYS_CHROOT"}
	if n := rules(mustConfig(t, s, "").Linux.Seccomp, "chroot"); n != 0 {
		t.Errorf("without CAP_SYS_CHROOT, %d rules allow chroot; want none", n)
	}
	s.Seccomp = "unconfined"
	if sec := mustConfig(t, s, "").Linux.Seccomp; sec != nil {
		t.Errorf("unconfined: linux.seccomp %+v; want none", sec)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"defaultAction": "SCMP_ACT_ERRNO",`), 0o644); err != nil {
		t.Fatal(err)
	}
	s.Seccomp = bad
	if _, err := Config(s, ""); err == nil || !strings.Contains(err.Error(), bad+":1:") {
		t.Errorf("a truncated profile: %v; want it refused with its place", err)
	}
}

func TestConfigMounts(t *testing.T) {
	vol := t.TempDir()
	s := lessonSpec()
	s.Volumes = []sandbox.Volume{{Host: vol, Target: "/data", ReadOnly: true}}
	cfg := mustConfig(t, s, "")
	var dests []string
	for _, m := range cfg.Mounts {
		dests = append(dests, m.Destination)
	}
	want := []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/tmp", "/root", "/run", "/home", "/data"}
	if !slices.Equal(dests, want) {
		t.Errorf("mounts %v, want %v", dests, want)
	}
	last := cfg.Mounts[len(cfg.Mounts)-1]
	if last.Type != "bind" || last.Source != vol || !slices.Equal(last.Options, []string{"rbind", "ro"}) {
		t.Errorf("volume %+v", last)
	}
	if sys := cfg.Mounts[5]; sys.Type != "sysfs" || !slices.Contains(sys.Options, "ro") {
		t.Errorf("/sys %+v", sys)
	}

	// A root filesystem of the learner's own is writable: no tmpfs dirs.
	s.Rootfs = vol
	cfg = mustConfig(t, s, vol)
	if cfg.Root.Readonly || slices.ContainsFunc(cfg.Mounts, func(m specs.Mount) bool { return m.Destination == "/tmp" }) {
		t.Errorf("own rootfs: readonly %v, mounts %+v", cfg.Root.Readonly, cfg.Mounts)
	}

	s.Volumes = []sandbox.Volume{{Host: filepath.Join(vol, "missing"), Target: "/x"}}
	if _, err := Config(s, ""); err == nil {
		t.Error("a missing volume was accepted")
	}
}

func TestConfigRefuses(t *testing.T) {
	for name, mod := range map[string]func(*sandbox.Spec){
		"no command": func(s *sandbox.Spec) { s.Args = nil },
		"chroot":     func(s *sandbox.Spec) { s.Root = sandbox.RootChroot },
		"overlay":    func(s *sandbox.Spec) { s.Overlay = true },
		"layers":     func(s *sandbox.Spec) { s.Layers = []string{"/tmp"} },
		"escape":     func(s *sandbox.Spec) { s.Escape = true },
		"no mnt":     func(s *sandbox.Spec) { s.Isolate = []sandbox.Namespace{sandbox.NSPid, sandbox.NSUser} },
		"negative":   func(s *sandbox.Spec) { s.Limits.Pids = -1 },
	} {
		s := lessonSpec()
		mod(&s)
		if _, err := Config(s, ""); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestMaskedPathsMatchSandbox: config.json lists exactly what kcna-lab's
// init masks and makes read-only.
func TestMaskedPathsMatchSandbox(t *testing.T) {
	cfg := mustConfig(t, lessonSpec(), "")
	if !slices.Equal(cfg.Linux.MaskedPaths, sandbox.MaskedPaths()) || !slices.Equal(cfg.Linux.ReadonlyPaths, sandbox.ReadonlyPaths()) {
		t.Errorf("Config's lists %v %v, kcna-lab applies %v %v", cfg.Linux.MaskedPaths, cfg.Linux.ReadonlyPaths, sandbox.MaskedPaths(), sandbox.ReadonlyPaths())
	}
}

// TestMaskedPathsCoverRunc compares with the defaults of the runc that is
// installed (`runc spec`): kcna-lab masks at least what runc masks. Newer
// runc releases mask more than older ones, so the lists need not be equal.
func TestMaskedPathsCoverRunc(t *testing.T) {
	runc, err := Runc()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command(runc, "spec", "--bundle", dir).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v %s", err, out)
	}
	def, err := ReadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range def.Linux.MaskedPaths {
		if !slices.Contains(sandbox.MaskedPaths(), p) {
			t.Errorf("runc masks %s by default; kcna-lab does not", p)
		}
	}
	for _, p := range def.Linux.ReadonlyPaths {
		if !slices.Contains(sandbox.ReadonlyPaths(), p) {
			t.Errorf("runc makes %s read-only by default; kcna-lab does not", p)
		}
	}
	var extra []string
	for _, p := range sandbox.MaskedPaths() {
		if !slices.Contains(def.Linux.MaskedPaths, p) {
			extra = append(extra, p)
		}
	}
	t.Logf("`runc spec` (ociVersion %s) masks %d paths; kcna-lab masks these as well: %v", def.Version, len(def.Linux.MaskedPaths), extra)
}

func TestExplain(t *testing.T) {
	s := lessonSpec()
	s.Limits.CPUs = 0.5
	s.Volumes = []sandbox.Volume{{Host: t.TempDir(), Target: "/data"}}
	m := Explain(mustConfig(t, s, "/srv/rootfs"))
	by := map[string]Mapping{}
	for _, e := range m {
		if e.Step == "" {
			t.Errorf("%s has no step", e.Field)
		}
		by[e.Field] = e
	}
	want := map[string]string{
		"linux.namespaces[pid]":            "clone(CLONE_NEWPID)",
		"linux.namespaces[network]":        "clone(CLONE_NEWNET)",
		"linux.namespaces[mount]":          "clone(CLONE_NEWNS)",
		"linux.namespaces[cgroup]":         "unshare(CLONE_NEWCGROUP)",
		"linux.namespaces[time]":           "unshare(CLONE_NEWTIME)",
		"root.path":                        "pivot_root",
		"hostname":                         `sethostname("oci-box")`,
		"linux.resources.memory.limit":     "memory.max",
		"linux.resources.pids.limit":       "pids.max",
		"linux.resources.cpu.quota+period": "cpu.max",
		"linux.maskedPaths":                "/dev/null",
		"linux.uidMappings":                "uid_map",
		"mounts[/proc]":                    "mount -t proc proc /proc",
		"mounts[/data]":                    "--rbind",
		"process.noNewPrivileges":          "PR_SET_NO_NEW_PRIVS",
		"process.capabilities.bounding":    "PR_CAPBSET_DROP",
		"linux.seccomp":                    "SECCOMP_SET_MODE_FILTER",
	}
	for field, step := range want {
		e, ok := by[field]
		if !ok {
			t.Errorf("no mapping for %s", field)
			continue
		}
		if !strings.Contains(e.Step, step) {
			t.Errorf("%s: step %q, want it to mention %q", field, e.Step, step)
		}
	}
	if v := by["linux.resources.memory.limit"].Value; v != "67108864" {
		t.Errorf("memory value %q", v)
	}
}

func TestWriteBundle(t *testing.T) {
	real := t.TempDir()
	if err := os.MkdirAll(filepath.Join(real, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	cfg := mustConfig(t, lessonSpec(), "rootfs")
	bundle := filepath.Join(t.TempDir(), "b")
	if err := WriteBundle(bundle, cfg, link); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if got.Root.Path != real || !got.Root.Readonly || got.Hostname != "oci-box" {
		t.Errorf("root %+v hostname %q: want the link resolved to %s", got.Root, got.Hostname, real)
	}
	if cfg.Root.Path != "rootfs" {
		t.Errorf("WriteBundle changed the caller's config: %q", cfg.Root.Path)
	}
	if RootPath(bundle, got) != real {
		t.Errorf("RootPath %q", RootPath(bundle, got))
	}
	entries, _ := os.ReadDir(bundle)
	if len(entries) != 1 || entries[0].Name() != "config.json" {
		t.Errorf("bundle holds %v, want only config.json (no temporary file)", entries)
	}

	// A root filesystem inside the bundle is named relative to it.
	inside := filepath.Join(bundle, "rootfs")
	if err := os.Mkdir(inside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteBundle(bundle, cfg, inside); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadBundle(bundle); got.Root.Path != "rootfs" || RootPath(bundle, got) != inside {
		t.Errorf("root.path %q", got.Root.Path)
	}
	if err := WriteBundle(bundle, cfg, filepath.Join(bundle, "nope")); err == nil {
		t.Error("a missing root filesystem was accepted")
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte(`{"hostname": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadBundle(bundle); err == nil || !strings.Contains(err.Error(), "ociVersion") {
		t.Errorf("a config without ociVersion: %v", err)
	}
}

func TestAdapt(t *testing.T) {
	cfg := mustConfig(t, lessonSpec(), "")
	dropped := Adapt(cfg, nil)
	if !slices.Equal(dropped, []string{"linux.namespaces[time]"}) || len(cfg.Linux.Namespaces) != 7 {
		t.Errorf("dropped %v, left %v", dropped, cfg.Linux.Namespaces)
	}
	no := false
	f := &features.Features{Linux: &features.Linux{Namespaces: []string{"pid", "mount"}, Seccomp: &features.Seccomp{Enabled: &no}}}
	if dropped := Adapt(mustConfig(t, lessonSpec(), ""), f); !slices.Contains(dropped, "linux.seccomp") {
		t.Errorf("a runc without seccomp support: dropped %v; want linux.seccomp among them", dropped)
	}
}

// needRunc skips unless runc can run containers here.
func needRunc(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runc creates namespaces and cgroups (CI runs as root)")
	}
	runc, err := Runc()
	if err != nil {
		t.Skip(err)
	}
	return runc
}

// TestRuncRunsBundle hands a bundle written by WriteBundle to the real
// runc and checks that it runs /bin/true and that runc leaves nothing.
func TestRuncRunsBundle(t *testing.T) {
	runc := needRunc(t)
	ctx := context.Background()
	spec := lessonSpec()
	spec.Isolate = nil // what this host allows, as kcna-lab does
	spec.Args = []string{"/bin/true"}
	root, err := PrepareRootfs(spec, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustConfig(t, spec, root)
	f, err := RuncFeatures(ctx, runc)
	if err != nil {
		t.Logf("runc has no features command: %v", err)
	}
	t.Logf("left out for this runc: %v", Adapt(cfg, f))
	bundle := t.TempDir()
	if err := WriteBundle(bundle, cfg, root); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("kcna-oci-test-%d", os.Getpid())
	var out strings.Builder
	code, err := RunBundle(ctx, runc, bundle, id, &out, &out)
	left, cerr := Cleanup(ctx, runc, id)
	if err != nil || code != 0 {
		t.Fatalf("runc run: exit %d, %v: %s", code, err, out.String())
	}
	if cerr != nil {
		t.Error(cerr)
	}
	if len(left) > 0 {
		t.Errorf("runc left: %v", left)
	}
	if dirs := CgroupDirs(id); len(dirs) > 0 {
		t.Errorf("cgroups left: %v", dirs)
	}
	if _, err := os.Stat(filepath.Join("/run/runc", id)); err == nil {
		t.Errorf("/run/runc/%s left", id)
	}
}

// TestRuncRefusesSymlinkedRoot is why WriteBundle resolves links: runc
// will not take a root.path that is a symbolic link.
func TestRuncRefusesSymlinkedRoot(t *testing.T) {
	runc := needRunc(t)
	spec := lessonSpec()
	spec.Isolate = []sandbox.Namespace{sandbox.NSPid, sandbox.NSMount, sandbox.NSUTS}
	spec.Args = []string{"/bin/true"}
	root, err := PrepareRootfs(spec, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	bundle := t.TempDir()
	if err := os.Symlink(root, filepath.Join(bundle, "rootfs")); err != nil {
		t.Fatal(err)
	}
	cfg := mustConfig(t, spec, "rootfs")
	if err := WriteBundle(bundle, cfg, ""); err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprintf("kcna-oci-link-%d", os.Getpid())
	var out strings.Builder
	code, err := RunBundle(context.Background(), runc, bundle, id, &out, &out)
	if left, _ := Cleanup(context.Background(), runc, id); len(left) > 0 {
		t.Errorf("runc left: %v", left)
	}
	if err != nil {
		t.Fatal(err)
	}
	if code == 0 {
		t.Skipf("this runc accepts a symlinked root.path: %s", out.String())
	}
	t.Logf("runc refused, exit %d: %s", code, strings.TrimSpace(out.String()))
}
