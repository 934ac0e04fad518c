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
)

// TestNativeInit checks kcna-lab-init's native init by what the kernel
// shows of it: it runs the sandbox as one thread (no Go runtime started),
// reports the command's status, passes signals on, and at the first
// `exec` becomes the Go init in place: the same PID, now with the Go
// runtime's threads, the command still its child and still running.
func TestNativeInit(t *testing.T) {
	needRoot(t)
	if !testbuild.CanLinkStatic() {
		t.Skip("no C compiler that links statically (Debian: gcc and libc6-dev): kcna-lab-init has no native init on this machine")
	}
	leaveNoTrace(t)
	bin, native, err := testbuild.Init(sharedDir(t, "kcna-test-init-", 0o755))
	if err != nil || !native {
		t.Fatalf("build kcna-lab-init with the native init: native %v, %v", native, err)
	}
	t.Setenv(sandbox.InitProgramEnv, bin)

	if res, _ := run(t, sandbox.Spec{Args: []string{"sh", "-c", "exit 7"}}); res.ExitCode != 7 {
		t.Errorf("exit 7 gave %+v", res)
	}
	if res, _ := run(t, sandbox.Spec{Args: []string{"sh", "-c", "kill -KILL $$"}}); res.ExitCode != 137 || res.Signal != "SIGKILL" {
		t.Errorf("SIGKILL gave %+v", res)
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
	if err := sb.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if res, err := sb.Wait(); err != nil || res.ExitCode != 9 {
		t.Errorf("SIGTERM, passed on to the command's trap, gave %+v, %v; want exit 9", res, err)
	}
}

// threads is the number of threads of pid, as /proc/PID/status says.
func threads(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("no Threads line in /proc/%d/status", pid)
	return 0
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
	if !testbuild.CanLinkStatic() {
		t.Skip("no C compiler that links statically: the native init cannot be built here")
	}
	for _, want := range []string{"native", "go"} {
		if want == "go" {
			t.Setenv(testbuild.NativeEnv, "0")
		}
		bin, _, err := testbuild.Init(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv(sandbox.InitProgramEnv, bin)
		if got, err := sandbox.InitKind(); got != want || err != nil {
			t.Errorf("InitKind() of kcna-lab-init built %s = %q, %v", want, got, err)
		}
	}
}
