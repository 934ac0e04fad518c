//go:build linux

package sandbox_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/kcna-lab/kcna-lab/kernel/seccomp"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// personalityProbe asks for personality(ADDR_NO_RANDOMIZE) with busybox's
// linux64 -R: no capability is needed for it, and Docker's profile
// allows personality only for five values, not this one.
const personalityProbe = "grep Seccomp /proc/self/status; linux64 -R cat /proc/self/personality 2>&1; echo personality=$?"

// TestSeccompDefaultProfile reads what the kernel reports of a sandbox's
// processes under Docker's default profile (the default) and unconfined:
// the filter mode and count in /proc/PID/status, and a call the profile
// refuses with EPERM that works without it.
func TestSeccompDefaultProfile(t *testing.T) {
	needRoot(t)
	needSeccomp(t)
	leaveNoTrace(t)
	hostFilters := filters(t, procStatus(t, os.Getpid()))

	_, rec := run(t, sandbox.Spec{Args: []string{"sh", "-c", personalityProbe}})
	out := rec.output()
	if mode := statusField(t, out, "Seccomp"); mode != "2" {
		t.Errorf("Seccomp: %s inside; want 2, a filter (SECCOMP_MODE_FILTER)", mode)
	}
	if n := filters(t, out); n != hostFilters+1 {
		t.Errorf("Seccomp_filters: %d inside, %d here; want one more, the sandbox's", n, hostFilters)
	}
	if !strings.Contains(out, "personality(0x40000): Operation not permitted") || !strings.Contains(out, "personality=1") {
		t.Errorf("personality(ADDR_NO_RANDOMIZE) under Docker's profile: %q; want EPERM", out)
	}
	if !hasStep(rec, "seccomp(SECCOMP_SET_MODE_FILTER") {
		t.Error("no seccomp step in the trace")
	}

	_, rec = run(t, sandbox.Spec{Seccomp: seccomp.Unconfined, Args: []string{"sh", "-c", personalityProbe}})
	out = rec.output()
	if n := filters(t, out); n != hostFilters {
		t.Errorf("Seccomp_filters: %d inside an unconfined sandbox, %d here; want the same", n, hostFilters)
	}
	if !strings.Contains(out, "00040000") || !strings.Contains(out, "personality=0") {
		t.Errorf("personality(ADDR_NO_RANDOMIZE) unconfined: %q; want it set (00040000)", out)
	}
	if hasStep(rec, "seccomp(") {
		t.Error("an unconfined sandbox loaded a filter")
	}
}

// TestSeccompInitKeepsWorking: PID 1 loads the filter on itself and lives
// on under it, so what it does after (fork, wait4, signals, `exec`, and
// with the native init the hand-over to the Go init by execve) must pass
// Docker's profile. Every thread of PID 1 is filtered, and so is each
// process `exec` starts.
func TestSeccompInitKeepsWorking(t *testing.T) {
	needRoot(t)
	needSeccomp(t)
	leaveNoTrace(t)
	rec := &recorder{}
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{
		Name: "kl-seccomp-test",
		Args: []string{"sh", "-c", `trap "exit 9" TERM; echo started; while :; do sleep 0.05; done`},
	}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer stopSandbox(sb)
	waitFor(t, "the command to start", func() bool { return strings.Contains(rec.output(), "started") })
	native := os.Getenv("KCNA_TEST_INIT") == "native"
	if n := threads(t, sb.PID()); native && n != 1 {
		t.Fatalf("the init runs %d threads; want the native init's one", n)
	}
	threadsFiltered(t, sb.PID())

	// The first exec: the native init hands the sandbox over here, by
	// execve under the filter.
	out := execOut(t, "kl-seccomp-test", "sh", "-c", personalityProbe+" || true")
	if statusField(t, out, "Seccomp") != "2" || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("a process started by exec: %q; want it filtered, personality refused", out)
	}
	if init1 := strings.ReplaceAll(execOut(t, "kl-seccomp-test", "cat", "/proc/1/cmdline"), "\x00", " "); native && strings.TrimSpace(init1) != "kcna-lab-init resume 2" {
		t.Errorf("after the first exec PID 1 is %q; want the Go init resumed", init1)
	}
	threadsFiltered(t, sb.PID())
	if out := execOut(t, "kl-seccomp-test", "echo", "again"); out != "again\n" {
		t.Errorf("a second exec said %q", out)
	}
	if err := sb.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if res, err := sb.Wait(); err != nil || res.ExitCode != 9 {
		t.Errorf("SIGTERM, passed on to the command's trap, gave %+v, %v; want exit 9", res, err)
	}
}

// TestSeccompProfileFile: a profile file in Docker's format is the
// sandbox's filter; a broken one is refused with its line and column
// before anything is built.
func TestSeccompProfileFile(t *testing.T) {
	needRoot(t)
	needSeccomp(t)
	leaveNoTrace(t)
	dir := t.TempDir()
	deny := filepath.Join(dir, "deny-mkdir.json")
	if err := os.WriteFile(deny, []byte(`{
	"defaultAction": "SCMP_ACT_ALLOW",
	"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, rec := run(t, sandbox.Spec{Seccomp: deny, Args: []string{"sh", "-c", "grep Seccomp: /proc/self/status; mkdir /tmp/d 2>&1; touch /tmp/f && echo touched"}})
	out := rec.output()
	if statusField(t, out, "Seccomp") != "2" || !strings.Contains(out, "Permission denied") || !strings.Contains(out, "touched") {
		t.Errorf("under a profile that refuses mkdir with EACCES: %q; want mkdir denied, touch done", out)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [{\"names\": [\"read\"], \"action\": \"SCMP_ACT_ALOW\"}]\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := sandbox.Run(context.Background(), sandbox.Spec{Seccomp: bad, Args: []string{"true"}}, &recorder{})
	if err == nil || !strings.Contains(err.Error(), bad+":3:16: syscalls[0]: action: \"SCMP_ACT_ALOW\" is not a seccomp action") {
		t.Errorf("a profile with a misspelt action: %v; want it refused with where and why", err)
	}
}

func needSeccomp(t *testing.T) {
	t.Helper()
	if err := sandbox.SeccompUnavailable(); err != nil {
		t.Skip(err)
	}
}

// threadsFiltered checks every thread of pid: the native init has one,
// the Go init loads the filter on all of its own (TSYNC).
func threadsFiltered(t *testing.T, pid int) {
	t.Helper()
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/status")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	for _, path := range tasks {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if mode := statusField(t, string(b), "Seccomp"); mode != "2" {
			t.Errorf("%s: Seccomp %s; want every thread of PID 1 filtered", path, mode)
		}
	}
}

// filters is Seccomp_filters of a /proc/PID/status text.
func filters(t *testing.T, status string) int {
	t.Helper()
	n, err := strconv.Atoi(statusField(t, status, "Seccomp_filters"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func hasStep(rec *recorder, action string) bool {
	for _, e := range rec.Events() {
		if strings.HasPrefix(e.Action, action) && e.OK() {
			return true
		}
	}
	return false
}
