package workshop

import (
	"strings"
	"testing"
	"time"
)

// TestWorkshopDeclaredCheck: a challenge checked by its lesson file's
// checks: (set-hostname: one in the student's sandbox, one on the host)
// runs inside the student's lab, where "the host" is the lab, and its
// pass is the student's.
func TestWorkshopDeclaredCheck(t *testing.T) {
	srv := startServer(t, Options{Linger: time.Minute})
	alice := &client{user: "alice", key: newKey(t)}

	out, errOut, st := alice.run(t, srv.addr, "challenge set-hostname --check")
	if st != 1 || !strings.Contains(out, "Not yet: sandbox box must be running with the hostname kcna-box") ||
		!strings.Contains(out, "no sandbox called box is running") {
		t.Fatalf("before: status %d\n%s%s", st, out, errOut)
	}
	if !strings.Contains(errOut, "on this host: run grep -qx kcna-box /proc/sys/kernel/hostname") {
		t.Errorf("the check did not say what it runs: %q", errOut)
	}
	if _, errOut, st := alice.run(t, srv.addr, "run --detach --name box --hostname kcna-box -- sleep 600"); st != 0 {
		t.Fatalf("run --detach: %d %s", st, errOut)
	}
	defer alice.run(t, srv.addr, "stop box")
	out, errOut, st = alice.run(t, srv.addr, "challenge set-hostname --check")
	if st != 0 || !strings.Contains(out, "Passed: in sandbox box: `hostname` exited 0") ||
		!strings.Contains(out, "on this host: `grep -qx kcna-box /proc/sys/kernel/hostname` exited 1") {
		t.Fatalf("after: status %d\n%s%s", st, out, errOut)
	}
	out, _, _ = alice.run(t, srv.addr, "challenge")
	kept := false
	for _, line := range strings.Split(out, "\n") {
		kept = kept || strings.Contains(line, " set-hostname ") && strings.HasSuffix(strings.TrimSpace(line), "passed")
	}
	if !kept {
		t.Errorf("alice's pass was not kept:\n%s", out)
	}
	bob := &client{user: "bob", key: newKey(t)}
	if out, _, st := bob.run(t, srv.addr, "challenge set-hostname --check"); st != 1 || !strings.Contains(out, "no sandbox called box is running") {
		t.Errorf("bob's check saw alice's sandbox: status %d\n%s", st, out)
	}
}
