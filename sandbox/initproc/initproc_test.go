//go:build linux

package initproc

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCapabilityTablesRoundTrip(t *testing.T) {
	for _, name := range []string{"NET_RAW", "net_raw", "CAP_NET_RAW", " cap_net_raw "} {
		bit, err := CapabilityBit(name)
		if err != nil || bit != unix.CAP_NET_RAW {
			t.Errorf("CapabilityBit(%q) = %d, %v; want %d", name, bit, err, unix.CAP_NET_RAW)
		}
	}
	if _, err := CapabilityBit("NET_WIZARD"); err == nil {
		t.Error("an unknown capability must be refused")
	}
	var mask uint64
	for _, name := range DefaultCapabilities() {
		bit, err := CapabilityBit(name)
		if err != nil {
			t.Fatal(err)
		}
		mask |= 1 << bit
	}
	got := CapabilityNames(mask)
	want := DefaultCapabilities()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("CapabilityNames(mask of the default set) = %v, want %v", got, want)
	}
}

func TestContainedRefusesSymlinks(t *testing.T) {
	root := t.TempDir()
	if err := os.Symlink("/etc", filepath.Join(root, "data")); err != nil {
		t.Fatal(err)
	}
	if err := contained(root, root+"/data/x"); err == nil {
		t.Error("a volume target through a symlink in the root filesystem must be refused")
	}
	if err := contained(root, root+"/new/dir"); err != nil {
		t.Errorf("contained(new/dir) = %v", err)
	}
	if err := contained(root, "/etc/passwd"); err == nil {
		t.Error("a path outside the root must be refused")
	}
}

func TestVolumeTargetIsCleanedIntoTheRoot(t *testing.T) {
	ops := volumeOps("/r", Volume{Host: "/h", Target: "/srv/../new/dir"}, 0)
	if ops[0].Path != "/r/new/dir" || !ops[0].Contained {
		t.Errorf("volume op = %+v; want Path /r/new/dir, contained", ops[0])
	}
	ops = volumeOps("/r", Volume{Host: "/h", Target: "../../etc"}, 0)
	if ops[0].Path != "/r/etc" {
		t.Errorf("volume ../../etc lands at %s; want /r/etc", ops[0].Path)
	}
}

func TestResultOfFollowsTheShell(t *testing.T) {
	exited := unix.WaitStatus(3 << 8)
	if r := ResultOf(exited); r.ExitCode != 3 || r.Signal != "" {
		t.Errorf("exit 3: %+v", r)
	}
	killed := unix.WaitStatus(unix.SIGKILL)
	if r := ResultOf(killed); r.ExitCode != 137 || r.Signal != "SIGKILL" {
		t.Errorf("SIGKILL: %+v", r)
	}
}

func TestLookPathUsesTheSandboxPath(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tool")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := lookPath("tool", []string{"PATH=/nowhere:" + dir}); err != nil || got != p {
		t.Errorf("lookPath = %q, %v; want %s", got, err, p)
	}
	if _, err := lookPath("tool", []string{"PATH=/nowhere"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("lookPath outside PATH: %v", err)
	}
}

// TestSeccompIsTheLastStep: the filter is loaded after no_new_privs,
// which lets an unprivileged thread load one, and after every other step,
// which it could refuse.
func TestSeccompIsTheLastStep(t *testing.T) {
	prog := []byte{0x06, 0, 0, 0, 0, 0, 0xff, 0x7f} // ret SECCOMP_RET_ALLOW
	c := &Config{Root: "/r", Rootfs: "/fs", RootMode: RootPivot, Isolate: []Namespace{NSMount, NSPid}, Seccomp: &SeccompFilter{Program: prog, Shell: "docker run"}}
	p, err := BuildPlan(c)
	if err != nil {
		t.Fatal(err)
	}
	n := len(p.Ops)
	if last := p.Ops[n-1]; last.Kind != OpSeccomp || string(last.Filter) != string(prog) || !strings.Contains(last.Action, "{1 BPF instructions}") {
		t.Errorf("the last step is %+v; want the seccomp program", last)
	}
	if p.Ops[n-2].Kind != OpNoNewPrivs {
		t.Errorf("the step before seccomp is %d; want no_new_privs", p.Ops[n-2].Kind)
	}
	f, err := sockFilters(prog)
	if err != nil || len(f) != 1 || f[0].Code != 0x06 || f[0].K != 0x7fff0000 {
		t.Errorf("sockFilters = %+v, %v; want ret 0x7fff0000", f, err)
	}
	if _, err := sockFilters(prog[:7]); err == nil {
		t.Error("a program of 7 bytes must be refused")
	}
	c.Seccomp = nil
	if p, _ := BuildPlan(c); p.Ops[len(p.Ops)-1].Kind != OpNoNewPrivs {
		t.Error("without a filter the plan must end with no_new_privs")
	}
}
