package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// TestQuitStopsOnlyTheSessionsSandbox: quitting the course after a
// lesson's shell kept its sandbox lists that sandbox with the command that
// stops it, and a sandbox someone else started (`run --detach`) apart; y
// stops the lesson's sandbox (its init is gone from the host's /proc, `ps`
// no longer lists it) and leaves the other running.
func TestQuitStopsOnlyTheSessionsSandbox(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the sandbox creates namespaces and cgroups (CI runs as root)")
	}
	c, probs := parse.Load(content.FS, demos.Builtin())
	if len(probs) > 0 || len(c.Lessons[0].Demos) == 0 {
		t.Fatalf("the first lesson should load with a demo: %v", probs)
	}
	d, _ := demos.Builtin().Demo(c.Lessons[0].Demos[0])
	box := shellFlag(d.ShellFlags, "--name")
	if box == "" {
		t.Fatalf("the first lesson's demo should name the sandbox its shell keeps: %v", d.ShellFlags)
	}
	s := newSession(t)
	bin := build(t)
	// The sandbox's unprivileged root must reach the init beside bin.
	_ = os.Chmod(filepath.Dir(bin), 0o755)
	_ = os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
	const other = "e2e-quit"
	out, code := kl(t, bin, "run", "--detach", "--name", other, "--", "sleep", "60")
	if code != 0 {
		t.Fatalf("run --detach: exit %d, %q", code, out)
	}
	t.Cleanup(func() { kl(t, bin, "stop", "--timeout", "1s", other) })
	t.Cleanup(func() { kl(t, bin, "stop", "--timeout", "1s", box) })
	otherPID := initPID(t, out)

	s.start(bin, "XDG_STATE_HOME="+t.TempDir(), "SUDO_USER=", "TERM=xterm-256color")
	s.waitFor("not started")
	s.keys("Enter")
	s.waitFor("r run demo")
	s.keys("s")
	s.waitFor("[sandbox ")
	s.keys("exit", "Enter")
	s.waitFor("r run demo")
	s.keys("q")
	s.waitFor("Containers and Kubernetes")
	s.keys("q")
	scr := s.waitFor("Sandboxes still running")
	flat := strings.Join(strings.Fields(scr), " ")
	if !strings.Contains(flat, box+" (stop it with: kcna-lab stop "+box+")") {
		t.Fatalf("the course should list %s with the command that stops it:\n%s", box, scr)
	}
	if strings.Contains(flat, "kcna-lab stop "+other) || !strings.Contains(flat, other) {
		t.Fatalf("%s should be listed as someone else's, not offered to be stopped:\n%s", other, scr)
	}
	s.keys("y")
	s.waitFor("kcna-lab-exited-0")
	var ps string
	for range 50 {
		ps, _ = kl(t, bin, "ps")
		if !strings.Contains(ps, box) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if strings.Contains(ps, box) {
		t.Errorf("ps still lists %s after y:\n%s", box, ps)
	}
	if _, err := os.Stat("/proc/" + otherPID); err != nil || !strings.Contains(ps, other) {
		t.Errorf("y stopped %s, which the course did not start (init %s: %v):\n%s", other, otherPID, err, ps)
	}
}
