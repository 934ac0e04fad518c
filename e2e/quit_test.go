package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuitStopsAKeptSandboxWhenAsked: a sandbox still running when the
// course quits is listed with the command that stops it, and y stops it:
// its init is gone from the host's /proc and `ps` no longer lists it.
func TestQuitStopsAKeptSandboxWhenAsked(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the sandbox creates namespaces and cgroups (CI runs as root)")
	}
	s := newSession(t)
	bin := build(t)
	// The sandbox's unprivileged root must reach the init beside bin.
	_ = os.Chmod(filepath.Dir(bin), 0o755)
	_ = os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
	const name = "e2e-quit"
	out, code := kl(t, bin, "run", "--detach", "--name", name, "--", "sleep", "60")
	if code != 0 {
		t.Fatalf("run --detach: exit %d, %q", code, out)
	}
	t.Cleanup(func() { kl(t, bin, "stop", "--timeout", "1s", name) })
	pid := initPID(t, out)

	s.start(bin, "XDG_STATE_HOME="+t.TempDir(), "SUDO_USER=", "TERM=xterm-256color")
	s.waitFor("not started")
	s.keys("q")
	scr := s.waitFor("Sandboxes still running")
	flat := strings.Join(strings.Fields(scr), " ")
	if !strings.Contains(flat, name+" (stop it with: kcna-lab stop "+name+")") {
		t.Fatalf("the course should list %s with the command that stops it:\n%s", name, scr)
	}
	if ps, _ := kl(t, bin, "ps"); strings.Count(ps, "\n") > 2 {
		// y stops every sandbox listed; others' are not this test's.
		s.keys("n")
		s.waitFor("kcna-lab-exited-0")
		t.Skipf("other sandboxes run on this host, which y would stop too:\n%s", ps)
	}
	s.keys("y")
	s.waitFor("kcna-lab-exited-0")
	var ps string
	for range 50 {
		ps, _ = kl(t, bin, "ps")
		_, err := os.Stat("/proc/" + pid)
		if !strings.Contains(ps, name) && os.IsNotExist(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := os.Stat("/proc/" + pid); err == nil {
		t.Errorf("the init of %s (PID %s) still runs after y", name, pid)
	}
	if strings.Contains(ps, name) {
		t.Errorf("ps still lists %s after y:\n%s", name, ps)
	}
}
