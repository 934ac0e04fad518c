package workshop

import (
	"os"
	"path/filepath"
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
	if !passed(out, "set-hostname") {
		t.Errorf("alice's pass was not kept:\n%s", out)
	}
	bob := &client{user: "bob", key: newKey(t)}
	if out, _, st := bob.run(t, srv.addr, "challenge set-hostname --check"); st != 1 || !strings.Contains(out, "no sandbox called box is running") {
		t.Errorf("bob's check saw alice's sandbox: status %d\n%s", st, out)
	}
}

// TestWorkshopInstructorContent: with Options.Content, students get the
// instructor's course, read-only in their lab, and its challenge's checks:
// run there: in the student's sandbox, and on "the host", their lab.
func TestWorkshopInstructorContent(t *testing.T) {
	dir, err := os.MkdirTemp("/var/tmp", "kcna-course-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lesson := `---
id: mine
title: Mine
order: 1
domain: container-orchestration
objectives: [Name a box]
challenges:
  - id: name-a-box
    title: Name a box
    task: Start a sandbox called mark whose hostname is marked.
    solution: kcna-lab run --detach --name mark --hostname marked -- sleep 600
    checks:
      - in: host
        run: [hostname]
        output-contains: alice
        message: this is not alice's lab
      - in: mark
        run: [hostname]
        output-contains: marked
        message: start sandbox mark with the hostname marked
---
Body.
`
	if err := os.WriteFile(filepath.Join(dir, "01-mine.md"), []byte(lesson), 0o644); err != nil {
		t.Fatal(err)
	}
	// Writable by anyone but for the read-only mount, which alone must
	// keep students from changing it.
	if err := os.Chmod(filepath.Join(dir, "01-mine.md"), 0o666); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, Options{Linger: time.Minute, Content: dir})
	alice := &client{user: "alice", key: newKey(t)}
	if out, errOut, st := alice.run(t, srv.addr, "lessons"); st != 0 || !strings.Contains(out, "Mine") || strings.Contains(out, "why-containers") {
		t.Fatalf("lessons: status %d, not the instructor's course:\n%s%s", st, out, errOut)
	}
	out, errOut, st := alice.run(t, srv.addr, "challenge name-a-box --check")
	if st != 1 || !strings.Contains(out, "Not yet: start sandbox mark with the hostname marked (no sandbox called mark is running") {
		t.Fatalf("before: status %d\n%s%s", st, out, errOut)
	}
	studentCourse(t, srv, "alice")
	out, errOut, st = alice.run(t, srv.addr, "--content /root/mine challenge name-a-box --check")
	if said := strings.Join(strings.Fields(errOut), " "); st == 0 || !strings.Contains(said, "checks your challenges against the instructor's course in /opt/kcna-lab/content, so --content /root/mine is refused here") {
		t.Errorf("a student's own --content was not refused: status %d\n%s%s", st, out, errOut)
	}
	if out, _, _ := alice.run(t, srv.addr, "challenge"); passed(out, "name-a-box") {
		t.Fatalf("a student's own course recorded a pass:\n%s", out)
	}
	if _, errOut, st := alice.run(t, srv.addr, "run --detach --name mark --hostname marked -- sleep 600"); st != 0 {
		t.Fatalf("run --detach: %d %s", st, errOut)
	}
	defer alice.run(t, srv.addr, "stop mark")
	out, errOut, st = alice.run(t, srv.addr, "challenge name-a-box --check")
	if st != 0 || !strings.Contains(out, "Passed: on this host: `hostname` exited 0, its output contains \"alice\"; in sandbox mark:") {
		t.Fatalf("after: status %d\n%s%s", st, out, errOut)
	}
	// The course is the instructor's to change, not the student's.
	if out, errOut, st := alice.run(t, srv.addr, "run --volume /opt/kcna-lab/content:/c -- sh -c 'echo x >> /c/01-mine.md'"); st == 0 || !strings.Contains(out+errOut, "Read-only file system") {
		t.Errorf("a student could write into the instructor's course, or failed for another reason: status %d\n%s%s", st, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "01-mine.md")); string(b) != lesson {
		t.Error("the instructor's lesson file changed")
	}
}

// passed tells whether `kcna-lab challenge`'s list shows id passed.
func passed(list, id string) bool {
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " "+id+" ") && strings.HasSuffix(strings.TrimSpace(line), "passed") {
			return true
		}
	}
	return false
}

// studentCourse writes, in student's home (/root in their lab), a course
// of their own: the instructor's lesson and challenge ids with a check that
// always holds, run as their lab's root.
func studentCourse(t *testing.T, srv *testServer, student string) {
	t.Helper()
	dir := filepath.Join(srv.state, "students", student, "home", "mine")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fake := `---
id: mine
title: Mine
order: 1
domain: container-orchestration
objectives: [Pass]
challenges:
  - id: name-a-box
    title: Name a box
    task: Nothing.
    solution: Nothing.
    checks:
      - in: host
        run: ['true']
        message: never
---
Body.
`
	if err := os.WriteFile(filepath.Join(dir, "01-fake.md"), []byte(fake), 0o644); err != nil {
		t.Fatal(err)
	}
}
