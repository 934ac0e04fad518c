//go:build linux

package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestMain lets the test binary act as a sandbox's init: in tests
// /proc/self/exe is this binary, not kcna-lab, so the tests run the Go
// init. With KCNA_TEST_INIT=native (`make test`'s second pass) every
// sandbox starts through a kcna-lab-init with the native init instead.
func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// Helper processes (this binary again) inherit the init's setting.
	if os.Getenv("KCNA_TEST_INIT") == "native" && os.Getenv(sandbox.InitProgramEnv) == "" {
		dir, err := os.MkdirTemp("/var/tmp", "kcna-test-init-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin, native, err := testbuild.InitProgram(dir)
		if err == nil && !native {
			if err = testbuild.Native(); err == nil { // why not
				err = errors.New("$" + testbuild.NativeEnv + " is 0")
			}
		}
		if err == nil {
			err = os.Chmod(dir, 0o755)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "KCNA_TEST_INIT=native: kcna-lab-init with the native init: %v\n", err)
			return 1
		}
		os.Setenv(sandbox.InitProgramEnv, bin)
	}
	return m.Run()
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: sandboxes create namespaces, mounts and cgroups (CI runs as root)")
	}
}

// hostSnapshot is the host state a sandbox must leave as it found it.
type hostSnapshot struct {
	mounts  []string
	cgroups []string
	links   []string
}

func snapshot(t *testing.T) hostSnapshot {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var s hostSnapshot
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 {
			s.mounts = append(s.mounts, f[4])
		}
	}
	s.cgroups, _ = filepath.Glob("/sys/fs/cgroup/*/kcna-lab/kcna-*")
	more, _ := filepath.Glob("/sys/fs/cgroup/kcna-lab/kcna-*")
	s.cgroups = append(s.cgroups, more...)
	// The cgroup package's own tests may run meanwhile, under their names.
	s.cgroups = slices.DeleteFunc(s.cgroups, func(p string) bool { return strings.HasPrefix(filepath.Base(p), "kcna-test-") })
	s.links, _ = filepath.Glob("/sys/class/net/kl-*")
	slices.Sort(s.mounts)
	return s
}

// leaveNoTrace fails the test if the host differs after it from before.
func leaveNoTrace(t *testing.T) {
	t.Helper()
	before := snapshot(t)
	t.Cleanup(func() {
		after := snapshot(t)
		if !slices.Equal(before.mounts, after.mounts) {
			t.Errorf("mount table changed:\nbefore %v\nafter  %v", before.mounts, after.mounts)
		}
		if !slices.Equal(before.cgroups, after.cgroups) {
			t.Errorf("cgroup dirs left: before %v after %v", before.cgroups, after.cgroups)
		}
		if !slices.Equal(before.links, after.links) {
			t.Errorf("links left: before %v after %v", before.links, after.links)
		}
		if left, _ := filepath.Glob(filepath.Join(sandbox.StateDir(), "sandboxes", "*")); len(left) > 0 {
			t.Errorf("sandbox state left: %v", left)
		}
	})
}

// recorder keeps every event and the command's output.
type recorder struct{ event.Recorder }

func (r *recorder) output() string {
	var b strings.Builder
	for _, e := range r.Of(event.KindOutput) {
		b.WriteString(e.Text)
	}
	return b.String()
}

func (r *recorder) has(kind event.Kind) bool { return len(r.Of(kind)) > 0 }

func run(t *testing.T, spec sandbox.Spec) (sandbox.Result, *recorder) {
	t.Helper()
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := sandbox.Run(ctx, spec, rec)
	if err != nil {
		t.Fatalf("run %v: %v", spec.Args, err)
	}
	return res, rec
}

// TestEachNamespaceDiffersFromTheHost starts a sandbox, reads the
// identities in /proc/PID/ns of its command and compares them with ours.
func TestEachNamespaceDiffersFromTheHost(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	rec := &recorder{}
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{Args: []string{"sleep", "30"}}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = sb.Signal(syscall.SIGKILL)
		_, _ = sb.Wait()
	}()
	// The command is the init's child; find it through /proc.
	var cmdPID int
	for range 200 {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(sb.PID()) + "/task/" + strconv.Itoa(sb.PID()) + "/children")
		// Wait for the exec too: a vforked child enters the time
		// namespace only when it execs.
		if f := strings.Fields(string(b)); len(f) > 0 {
			if comm, _ := os.ReadFile("/proc/" + f[0] + "/comm"); strings.TrimSpace(string(comm)) == "sleep" {
				cmdPID, _ = strconv.Atoi(f[0])
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if cmdPID == 0 {
		t.Fatal("the sandbox's command did not start")
	}
	for _, n := range sandbox.Available() {
		host, err := sandbox.NamespaceInode(os.Getpid(), n)
		if err != nil {
			t.Fatal(err)
		}
		inside, err := sandbox.NamespaceInode(cmdPID, n)
		if err != nil {
			t.Fatal(err)
		}
		if host == inside {
			t.Errorf("%s namespace: the command shares the host's %s", n, host)
		}
	}
}

func TestHostnameChangesInsideOnly(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	before, _ := os.Hostname()
	res, rec := run(t, sandbox.Spec{Args: []string{"hostname"}, Hostname: "kcna-test-host"})
	if res.ExitCode != 0 || strings.TrimSpace(rec.output()) != "kcna-test-host" {
		t.Fatalf("hostname inside = %q (exit %d)", rec.output(), res.ExitCode)
	}
	if after, _ := os.Hostname(); after != before {
		t.Fatalf("the host's hostname changed from %q to %q", before, after)
	}
}

func TestMountInsideIsAbsentOutside(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{Args: []string{"sleep", "30"}}, event.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = sb.Signal(syscall.SIGKILL)
		_, _ = sb.Wait()
	}()
	// The init mounted /proc, /dev/pts and tmpfs dirs in the sandbox's
	// root; its mount table shows them, the host's does not.
	var inside []byte
	for range 200 {
		inside, _ = os.ReadFile("/proc/" + strconv.Itoa(sb.PID()) + "/mountinfo")
		if strings.Contains(string(inside), " /dev/pts ") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(string(inside), " /dev/pts ") || !strings.Contains(string(inside), " /proc ") {
		t.Fatalf("the sandbox's mount table lacks its own /proc and /dev/pts:\n%s", inside)
	}
	host, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(host), "kcna-lab/sandboxes") {
		t.Fatalf("a sandbox mount shows on the host:\n%s", host)
	}
}

func TestNoHostPIDVisibleInside(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	res, rec := run(t, sandbox.Spec{Args: []string{"sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; echo; ls /proc | grep -E '^[0-9]+$'"}})
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, rec.output())
	}
	lines := strings.SplitN(rec.output(), "\n", 2)
	// PID 1 inside is the sandbox's init, not the host's.
	if strings.TrimSpace(lines[0]) != "kcna-lab-init" {
		t.Errorf("PID 1 inside runs %q, want kcna-lab-init", lines[0])
	}
	pids := strings.Fields(lines[1])
	hostPIDs, _ := filepath.Glob("/proc/[0-9]*")
	if len(pids) == 0 || len(pids) >= len(hostPIDs) || len(pids) > 20 {
		t.Fatalf("%d PIDs inside (the host has %d): %v", len(pids), len(hostPIDs), pids)
	}
}

func TestProcKcoreIsMasked(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	// The sandbox's own mount table must show the masks (an empty
	// /proc/keys alone could just mean no keys are visible).
	res, rec := run(t, sandbox.Spec{Args: []string{"sh", "-c", "grep -c -E ' /proc/(keys|timer_list|kcore) ' /proc/self/mountinfo"}})
	want := 2
	if _, err := os.Stat("/proc/kcore"); err == nil {
		want = 3
	}
	if res.ExitCode != 0 || strings.TrimSpace(rec.output()) != strconv.Itoa(want) {
		t.Fatalf("masks over /proc/keys, /proc/timer_list, /proc/kcore in the sandbox's mountinfo: %q (exit %d), want %d", rec.output(), res.ExitCode, want)
	}
	res, rec = run(t, sandbox.Spec{Args: []string{"sh", "-c", "wc -c < /proc/keys; wc -c < /proc/timer_list; cat /proc/kcore 2>/dev/null | wc -c"}})
	if res.ExitCode != 0 {
		t.Fatalf("exit %d: %s", res.ExitCode, rec.output())
	}
	for _, n := range strings.Fields(rec.output()) {
		if n != "0" {
			t.Errorf("a masked /proc file is readable inside: sizes %q", rec.output())
		}
	}
	if _, err := os.Stat("/proc/kcore"); err != nil {
		t.Log("this kernel has no /proc/kcore; /proc/keys and /proc/timer_list were checked instead")
	}
}

func TestMemoryLimitEndsAHogWithOOM(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	res, rec := run(t, sandbox.Spec{
		Args:   []string{"sh", "-c", `x=$(head -c 200000000 /dev/zero | tr '\0' x); echo survived`},
		Limits: sandbox.Limits{MemoryBytes: 32 << 20},
	})
	if res.ExitCode != 137 || !res.OOMKilled {
		t.Fatalf("result %+v, want exit 137 with OOMKilled; output %q", res, rec.output())
	}
	if !rec.has(event.KindOOM) {
		t.Fatal("no OOM event")
	}
}

func TestPidsLimitStopsAForkBomb(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	res, rec := run(t, sandbox.Spec{
		Args:   []string{"sh", "-c", `i=0; while [ $i -lt 100 ]; do sleep 5 & i=$((i+1)); done; echo all started`},
		Limits: sandbox.Limits{Pids: 20},
	})
	if res.ExitCode == 0 || strings.Contains(rec.output(), "all started") {
		t.Fatalf("100 processes started under pids.max=20: %+v %q", res, rec.output())
	}
	if !strings.Contains(rec.output(), "can't fork") {
		t.Errorf("no fork failure reported: %q", rec.output())
	}
	if out, err := exec.Command("true").CombinedOutput(); err != nil {
		t.Fatalf("the host cannot fork: %v %s", err, out)
	}
}

// TestForkBombLeavesTheInitAlive: pids.max counts threads, and Go's
// runtime dies when refused one. A real fork bomb fills the limit; PID 1
// must hold no more threads than it reserved, answer an `exec` (which
// the full cgroup refuses a process), and still be there afterwards.
func TestForkBombLeavesTheInitAlive(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	rec := &recorder{}
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{
		Name: "kl-bomb-test",
		// The command itself is sleep, which needs no fork the full cgroup
		// could refuse: only PID 1's death can end this sandbox.
		Args:   []string{"sh", "-c", "(b() { b | b & }; b) & exec sleep 3600"},
		Limits: sandbox.Limits{Pids: 20},
	}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer stopSandbox(sb)
	pid := sb.PID()
	dir := ""
	for _, d := range sb.Cgroups() {
		if _, err := os.Stat(filepath.Join(d, "pids.max")); err == nil {
			dir = d
		}
	}
	if dir == "" {
		t.Fatalf("no pids cgroup among %v", sb.Cgroups())
	}
	refused := func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "pids.events"))
		return strings.TrimSpace(string(b)) != "max 0"
	}
	waitFor(t, "the fork bomb to reach pids.max", refused)
	if n := threads(t, pid); n > sandbox.MinPids-2 {
		t.Errorf("the init holds %d threads under the bomb; it reserves at most %d", n, sandbox.MinPids-2)
	}
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, _, _ = sandbox.ExecOutput(ctx, "kl-bomb-test", "true")
		cancel()
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/task", pid)); err != nil || statusField(t, procStatus(t, pid), "State")[0] == 'Z' {
		t.Fatalf("PID 1 of the bombed sandbox died (%v); it said:\n%s", err, rec.output())
	}
}

func TestCPUQuotaThrottles(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	rec := &recorder{}
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{
		Args:   []string{"sh", "-c", `end=$(( $(date +%s) + 1 )); while [ $(date +%s) -le $end ]; do :; done`},
		Limits: sandbox.Limits{CPUs: 0.1},
	}, rec)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	stat, err := sb.CPUStat()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Wait(); err != nil {
		t.Fatal(err)
	}
	if stat["nr_throttled"] == 0 {
		t.Fatalf("cpu.stat shows no throttling under a 0.1 CPU quota: %v", stat)
	}
}

func TestEscapeFromChrootButNotFromPivot(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	if static, err := rootfs.IsStatic(os.Args[0]); err != nil || !static {
		t.Skip("the escape program is this binary run inside a busybox root, so it must be static: build with CGO_ENABLED=0 (make test does)")
	}
	// In /tmp itself: the sandbox's root is an unprivileged user on the
	// host, who could not enter t.TempDir() (mode 0700).
	f, err := os.CreateTemp("", "kcna-host-only-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	probe := f.Name()
	t.Cleanup(func() { os.Remove(probe) })
	_ = os.Chmod(probe, 0o644)
	res, rec := run(t, sandbox.Spec{Escape: true, Args: []string{probe}, Root: sandbox.RootChroot})
	if res.ExitCode != 0 || !strings.Contains(rec.output(), "ESCAPED") {
		t.Errorf("chroot mode: exit %d, want the escape to reach the host:\n%s", res.ExitCode, rec.output())
	}
	res, rec = run(t, sandbox.Spec{Escape: true, Args: []string{probe}, Root: sandbox.RootPivot})
	if res.ExitCode != 3 || strings.Contains(rec.output(), "ESCAPED") {
		t.Errorf("pivot mode: exit %d, the escape must fail:\n%s", res.ExitCode, rec.output())
	}
}

func TestExitStatusIsFaithful(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	res, _ := run(t, sandbox.Spec{Args: []string{"sh", "-c", "exit 7"}})
	if res.ExitCode != 7 {
		t.Errorf("exit 7 gave %+v", res)
	}
	res, _ = run(t, sandbox.Spec{Args: []string{"sh", "-c", "kill -TERM $$"}})
	if res.ExitCode != 128+15 || res.Signal != "SIGTERM" || res.OOMKilled {
		t.Errorf("SIGTERM gave %+v", res)
	}
}

func TestCleanSweepsAfterSIGKILL(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	// A child process runs a sandbox and is killed with SIGKILL midway,
	// like a learner's kcna-lab; clean must then remove what it left.
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSandboxThatSleeps$")
	cmd.Env = append(os.Environ(), "KCNA_TEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "started") {
		t.Fatalf("helper said %q", buf[:n])
	}
	if left := snapshot(t); len(left.cgroups) == 0 {
		t.Fatal("the helper's sandbox made no cgroup; the test would prove nothing")
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	swept, err := sandbox.Clean()
	if err != nil {
		t.Fatal(err)
	}
	if len(swept) == 0 {
		t.Fatal("clean removed nothing")
	}
}

// TestHelperSandboxThatSleeps is run by TestCleanSweepsAfterSIGKILL in a
// child process.
func TestHelperSandboxThatSleeps(t *testing.T) {
	if os.Getenv("KCNA_TEST_HELPER") != "1" {
		t.Skip("helper for TestCleanSweepsAfterSIGKILL")
	}
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{Args: []string{"sleep", "60"}, Limits: sandbox.Limits{Pids: 50}}, event.Discard)
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("started\n")
	_, _ = sb.Wait()
}

// TestNoUserNamespaceMeansNoMknod: without a user namespace root inside
// is the host's root, and kcna-lab has no device cgroup, so the command
// must not hold CAP_MKNOD (bit 27), or it could make a node for a host
// disk in its writable /dev.
func TestNoUserNamespaceMeansNoMknod(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	res, rec := run(t, sandbox.Spec{
		Isolate: []sandbox.Namespace{sandbox.NSPid, sandbox.NSUTS, sandbox.NSMount, sandbox.NSIPC, sandbox.NSNet},
		Args:    []string{"sh", "-c", "grep CapEff /proc/self/status; mknod /dev/disk0 b 8 0 && echo made"},
	})
	out := rec.output()
	if eff := capMask(t, out, "CapEff"); eff&(1<<27) != 0 {
		t.Errorf("CapEff %x has CAP_MKNOD without a user namespace", eff)
	}
	if strings.Contains(out, "made") || res.ExitCode == 0 {
		t.Errorf("mknod of a block device succeeded: exit %d, %q", res.ExitCode, out)
	}
}

// TestDoctorTriesWhatItClaims: doctor's yes comes from a sandbox that
// ran, so an init that cannot start one turns every yes into a no that
// says what failed, and a working host's report is all yes.
func TestDoctorTriesWhatItClaims(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	if r := sandbox.Doctor(); r.Sandbox != "" || r.Namespaces[sandbox.NSTime] != "" {
		t.Errorf("doctor on this host: sandbox %q, time namespace %q; want both usable", r.Sandbox, r.Namespaces[sandbox.NSTime])
	}
	broken := filepath.Join(t.TempDir(), "kcna-lab-init")
	if err := os.WriteFile(broken, []byte("#!/bin/sh\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(sandbox.InitProgramEnv, broken)
	r := sandbox.Doctor()
	for name, why := range map[string]string{"sandbox": r.Sandbox, "time namespace": r.Namespaces[sandbox.NSTime], "cgroup limits": r.Cgroup.Problem, "overlay": r.Overlay} {
		if !strings.Contains(why, "fails here when tried") {
			t.Errorf("with an init that cannot start a sandbox, doctor says %s: %q; want the failure", name, why)
		}
	}
}
