package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kl runs the built binary and returns its combined output and exit status.
func kl(t *testing.T, bin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		t.Fatalf("kcna-lab %v: %v", args, err)
		return "", -1
	}
}

// TestSandboxCommands drives run, run --detach, ps, exec, stop, doctor,
// demo and clean through the real binary, as a learner would.
func TestSandboxCommands(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the sandbox creates namespaces and cgroups (CI runs as root)")
	}
	bin := build(t)
	// A binary in t.TempDir() is not reachable by the sandbox's
	// unprivileged root; the escape demo needs to run it inside.
	_ = os.Chmod(filepath.Dir(bin), 0o755)
	_ = os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)

	if out, code := kl(t, bin, "run", "--hostname", "e2e", "--", "sh", "-c", "hostname; exit 3"); code != 3 || strings.TrimSpace(out) != "e2e" {
		t.Errorf("run: exit %d, output %q; want 3 and e2e", code, out)
	}
	if out, code := kl(t, bin, "run", "--memory", "32M", "--", "sh", "-c", `x=$(head -c 200000000 /dev/zero | tr '\0' x)`); code != 137 || !strings.Contains(out, "OOM killer") {
		t.Errorf("run over --memory: exit %d, output %q; want 137 and an OOM report", code, out)
	}
	if out, code := kl(t, bin, "run", "--", "no-such-command"); code != 127 || !strings.Contains(out, "not found") {
		t.Errorf("run of a missing command: exit %d, output %q", code, out)
	}
	if out, code := kl(t, bin, "run", "--isolate", "pid,bogus", "--", "true"); code == 0 || !strings.Contains(out, "bogus") {
		t.Errorf("bad --isolate: exit %d, output %q", code, out)
	}

	out, code := kl(t, bin, "run", "--detach", "--name", "e2e-web", "--", "sh", "-c", "echo hello from e2e-web; exec sleep 60")
	if code != 0 || !strings.Contains(out, "e2e-web is running") {
		t.Fatalf("run --detach: exit %d, %q", code, out)
	}
	t.Cleanup(func() { kl(t, bin, "stop", "--timeout", "1s", "e2e-web") })
	// The sandbox's first process is the small kcna-lab-init beside the
	// binary, as the host's /proc says, not kcna-lab run again.
	if pid := initPID(t, out); pid != "" {
		if exe, err := os.Readlink("/proc/" + pid + "/exe"); err != nil || exe != bin+"-init" {
			t.Errorf("the init of e2e-web runs %q (%v), want %s", exe, err, bin+"-init")
		}
	}
	if out, _ := kl(t, bin, "ps"); !strings.Contains(out, "e2e-web") || !strings.Contains(out, "exec sleep 60") {
		t.Errorf("ps does not list the sandbox:\n%s", out)
	}
	if out, code := kl(t, bin, "logs", "e2e-web"); code != 0 || !strings.Contains(out, "hello from e2e-web") {
		t.Errorf("logs: exit %d, %q; want what the background command printed", code, out)
	}
	out, code = kl(t, bin, "exec", "e2e-web", "--", "sh", "-c", "hostname; ps")
	if code != 0 || !strings.Contains(out, "e2e-web") || !strings.Contains(out, "sleep 60") {
		t.Errorf("exec: exit %d, output:\n%s", code, out)
	}
	if out, code := kl(t, bin, "exec", "e2e-web", "--", "sh", "-c", "exit 5"); code != 5 {
		t.Errorf("exec exit status: %d, %q", code, out)
	}
	if out, code := kl(t, bin, "stop", "e2e-web"); code != 0 || !strings.Contains(out, "stopped") {
		t.Errorf("stop: exit %d, %q", code, out)
	}
	for range 50 {
		if out, _ := kl(t, bin, "ps"); !strings.Contains(out, "e2e-web") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, _ := kl(t, bin, "ps"); strings.Contains(out, "e2e-web") {
		t.Errorf("ps still lists a stopped sandbox:\n%s", out)
	}

	if out, code := kl(t, bin, "doctor"); code != 0 || !strings.Contains(out, "cgroups") || !strings.Contains(out, "vms-vs-containers") {
		t.Errorf("doctor: exit %d\n%s", code, out)
	}
	if out, code := kl(t, bin, "demo", "chroot-escape"); code != 0 || !strings.Contains(out, "under chroot the escape got out; under pivot_root it stayed inside") {
		t.Errorf("demo chroot-escape: exit %d\n%s", code, out)
	}
	if out, code := kl(t, bin, "demo", "namespaces-tour", "--json"); code != 0 || !strings.Contains(out, `"kind":"result"`) {
		t.Errorf("demo --json: exit %d\n%s", code, out)
	}
	// The ended sandbox's log is what is left for clean to remove.
	if out, code := kl(t, bin, "clean"); code != 0 || !strings.Contains(out, "removed the log") || !strings.Contains(out, "e2e-web.log") {
		t.Errorf("clean after tidy runs: exit %d, %q; want e2e-web's log removed", code, out)
	}
	if out, code := kl(t, bin, "clean"); code != 0 || !strings.Contains(out, "Nothing to clean") {
		t.Errorf("a second clean: exit %d, %q", code, out)
	}
}

// initPID picks the init's host PID out of `run --detach`'s message.
func initPID(t *testing.T, out string) string {
	t.Helper()
	_, rest, ok := strings.Cut(out, "init PID ")
	if f := strings.Fields(rest); ok && len(f) > 0 {
		return f[0]
	}
	t.Errorf("no init PID in %q", out)
	return ""
}
