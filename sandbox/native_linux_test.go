//go:build linux

package sandbox_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// TestNativeInit checks kcna-lab-init's native init by what the kernel
// shows of it: it runs the sandbox as one thread (no Go runtime started),
// reports the command's status, passes signals on, and at the first
// `exec` becomes the Go init in place: the same PID, now with the Go
// runtime's threads, the command still its child and still running.
func TestNativeInit(t *testing.T) {
	needRoot(t)
	if err := testbuild.Native(); err != nil {
		t.Skip(err)
	}
	leaveNoTrace(t)
	bin, native := testbuild.Init(t, sharedDir(t, "kcna-test-init-", 0o755))
	if !native {
		t.Fatalf("%s has no native init", bin)
	}
	t.Setenv(sandbox.InitProgramEnv, bin)

	if res, _ := run(t, sandbox.Spec{Args: []string{"sh", "-c", "exit 7"}}); res.ExitCode != 7 {
		t.Errorf("exit 7 gave %+v", res)
	}
	if res, _ := run(t, sandbox.Spec{Args: []string{"sh", "-c", "kill -KILL $$"}}); res.ExitCode != 137 || res.Signal != "SIGKILL" {
		t.Errorf("SIGKILL gave %+v", res)
	}
	// The command starts with no signal ignored or blocked and without
	// PID 1's guard capability.
	_, rec0 := run(t, sandbox.Spec{Args: []string{"cat", "/proc/self/status"}})
	for _, want := range []string{"SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"} {
		if !strings.Contains(rec0.output(), want+"\n") {
			t.Errorf("the command's status lacks %q:\n%s", want, rec0.output())
		}
	}
	if mask := capMask(t, rec0.output(), "CapBnd"); mask&(1<<initproc.GuardCap) != 0 {
		t.Errorf("the command's bounding set %x holds PID 1's guard capability", mask)
	}
	res, err := sandbox.Run(context.Background(), sandbox.Spec{Args: []string{"no-such-command"}}, &recorder{})
	if res.ExitCode != 127 || err == nil || !strings.Contains(err.Error(), "command not found in the sandbox") {
		t.Errorf("a missing command gave %+v, %v; want 127 and why", res, err)
	}

	rec := &recorder{}
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{
		Name: "kl-native-test",
		Args: []string{"sh", "-c", `trap "exit 9" TERM; echo started; while :; do sleep 0.05; done`},
	}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer stopSandbox(sb)
	pid := sb.PID()
	waitFor(t, "the command to start", func() bool { return strings.Contains(rec.output(), "started") })
	if n := threads(t, pid); n != 1 {
		t.Errorf("the native init runs %d threads; want 1 (a Go runtime starts several)", n)
	}
	if mask := capMask(t, procStatus(t, pid), "CapPrm"); mask&(1<<initproc.GuardCap) == 0 {
		t.Errorf("the native init's permitted set %x lacks its guard capability", mask)
	}
	init1 := strings.ReplaceAll(execOut(t, "kl-native-test", "cat", "/proc/1/cmdline"), "\x00", " ")
	if strings.TrimSpace(init1) != "kcna-lab-init resume 2" {
		t.Errorf("after the first exec, PID 1 inside is %q; want the Go init resuming with command PID 2", init1)
	}
	if n := threads(t, pid); n < 2 || sb.PID() != pid {
		t.Errorf("after exec the init (PID %d, was %d) runs %d threads; want the Go runtime's", sb.PID(), pid, n)
	}
	if out := execOut(t, "kl-native-test", "echo", "again"); out != "again\n" {
		t.Errorf("second exec said %q", out)
	}
	// After the hand-over PID 1 is not dumpable and keeps only the
	// sandbox's set: its descriptors and binary are out of reach.
	if mask := capMask(t, procStatus(t, pid), "CapPrm"); mask&(1<<initproc.GuardCap) != 0 {
		t.Errorf("after the hand-over PID 1's permitted set %x still holds the guard capability", mask)
	}
	for _, p := range []string{"/proc/1/exe", "/proc/1/fd/5"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, res, err := sandbox.ExecOutput(ctx, "kl-native-test", "readlink", p)
		cancel()
		if err != nil || res.ExitCode == 0 {
			t.Errorf("readlink %s inside after the hand-over: %q, exit %d, %v; want it refused", p, out, res.ExitCode, err)
		}
	}
	if err := sb.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if res, err := sb.Wait(); err != nil || res.ExitCode != 9 {
		t.Errorf("SIGTERM, passed on to the command's trap, gave %+v, %v; want exit 9", res, err)
	}
}

// statusField is the value of a field ("Threads", "CapPrm") of a
// /proc/PID/status text.
func statusField(t *testing.T, status, field string) string {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s line in %q", field, status)
	return ""
}

// capMask is a capability field ("CapPrm") of a /proc/PID/status text.
func capMask(t *testing.T, status, field string) uint64 {
	t.Helper()
	m, err := strconv.ParseUint(statusField(t, status, field), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// procStatus is /proc/PID/status.
func procStatus(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// threads is the number of threads of pid, as /proc/PID/status says.
func threads(t *testing.T, pid int) int {
	t.Helper()
	n, err := strconv.Atoi(statusField(t, procStatus(t, pid), "Threads"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestInitKindAsksTheProgram: doctor's answer comes from the init
// program itself, built each way.
func TestInitKindAsksTheProgram(t *testing.T) {
	if err := testbuild.Native(); err != nil {
		t.Skip(err)
	}
	for _, want := range []string{"native", "go"} {
		if want == "go" {
			t.Setenv(testbuild.NativeEnv, "0")
		}
		bin, _ := testbuild.Init(t, t.TempDir())
		t.Setenv(sandbox.InitProgramEnv, bin)
		if got, err := sandbox.InitKind(); got != want || err != nil {
			t.Errorf("InitKind() of kcna-lab-init built %s = %q, %v", want, got, err)
		}
	}
}
