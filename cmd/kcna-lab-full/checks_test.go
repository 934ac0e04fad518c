package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// checkedLesson is an instructor's lesson whose challenge is checked by
// the checks: in the file alone. Its host check logs every run to LOG, so
// the test sees when it ran.
const checkedLesson = `---
id: mine
title: Mine
order: 1
domain: container-orchestration
objectives: [Leave a mark]
challenges:
  - id: leave-a-mark
    title: Leave a mark
    task: Write done into MARK.
    hints: [echo]
    solution: echo done > MARK
    checks:
      - in: host
        run: [sh, -c, 'echo ran >> LOG; cat MARK']
        output-contains: done
        message: MARK does not say done yet
---
Body.
`

// writeChecked writes checkedLesson into a new content directory, with
// its MARK and LOG in dir.
func writeChecked(t *testing.T, lesson string) (content, mark, log string) {
	t.Helper()
	dir := t.TempDir()
	content = filepath.Join(dir, "course")
	mark, log = filepath.Join(dir, "mark"), filepath.Join(dir, "log")
	if err := os.Mkdir(content, 0o755); err != nil {
		t.Fatal(err)
	}
	src := strings.NewReplacer("MARK", mark, "LOG", log).Replace(lesson)
	if err := os.WriteFile(filepath.Join(content, "01-mine.md"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return content, mark, log
}

// TestDeclaredChallengeFlow walks an instructor's checked challenge
// through the CLI: lint-content and challenge show what it will run,
// reading never runs it, --check fails with its message and then passes
// and records the pass, as a built-in challenge does.
func TestDeclaredChallengeFlow(t *testing.T) {
	privateState(t)
	dir, mark, log := writeChecked(t, checkedLesson)
	file := filepath.Join(dir, "01-mine.md")

	code, out, _ := kcna(t, "lint-content", dir)
	if code != 0 || !strings.Contains(out, file+":14:9: leave-a-mark: on this host: run sh -c 'echo ran >> "+log+"; cat "+mark+"'") {
		t.Fatalf("lint-content: exit %d, does not show what runs where:\n%s", code, out)
	}
	code, out, _ = kcna(t, "lint-content", "--json", dir)
	var lint struct {
		Checks []checkPlanLintJSON `json:"checks"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &lint) != nil || len(lint.Checks) != 1 ||
		lint.Checks[0].In != "host" || lint.Checks[0].Line != 14 || lint.Checks[0].Run[0] != "sh" {
		t.Fatalf("lint-content --json: exit %d\n%s", code, out)
	}

	// Reading the lesson and its challenge runs nothing.
	for _, args := range [][]string{{"lessons"}, {"show", "mine"}, {"challenge"}, {"challenge", "leave-a-mark"},
		{"challenge", "leave-a-mark", "--json"}, {"challenge", "leave-a-mark", "--hint", "1"}, {"challenge", "leave-a-mark", "--solution"}} {
		code, out, errOut := kcna(t, append([]string{"--content", dir}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
		if args[len(args)-1] == "leave-a-mark" && !strings.Contains(out, "The check, from "+file+", runs:\n  on this host: run sh -c") {
			t.Errorf("challenge does not show what its check runs:\n%s", out)
		}
		if args[len(args)-1] == "--json" && !strings.Contains(out, `"in": "host"`) {
			t.Errorf("challenge --json does not list the checks:\n%s", out)
		}
	}
	if _, err := os.Stat(log); err == nil {
		t.Fatal("reading the lesson ran its host check")
	}

	code, out, errOut := kcna(t, "--content", dir, "challenge", "leave-a-mark", "--check")
	if code != 1 || !strings.HasPrefix(out, "Not yet: "+mark+" does not say done yet (on this host: `sh -c") ||
		!strings.Contains(out, "exited 1 and printed \"cat: "+mark+": No such file or directory\"; it must exit 0)") {
		t.Fatalf("--check on the undone challenge: exit %d\n%s", code, out)
	}
	if !strings.Contains(errOut, "Checking with the checks in "+file+":\n  on this host: run sh -c") {
		t.Errorf("--check did not say what it runs first: %q", errOut)
	}
	if b, err := os.ReadFile(log); err != nil || string(b) != "ran\n" {
		t.Fatalf("the check ran %q times (%v), want once", b, err)
	}

	if err := os.WriteFile(mark, []byte("done\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = kcna(t, "--content", dir, "challenge", "leave-a-mark", "--check", "--json")
	var v struct {
		Passed, Saved bool
		Detail        string
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || !v.Passed || !v.Saved || !strings.Contains(v.Detail, `its output contains "done"`) {
		t.Fatalf("--check --json on the done challenge: exit %d\n%s", code, out)
	}
	code, out, _ = kcna(t, "--content", dir, "challenge")
	if code != 0 || !strings.Contains(out, "leave-a-mark") || !strings.Contains(out, "passed") {
		t.Fatalf("the pass was not kept: exit %d\n%s", code, out)
	}
}

// TestLintContentChecks: a mistake in a check is reported by lint-content
// as file:line:col with a hint, and the course refuses to start.
func TestLintContentChecks(t *testing.T) {
	privateState(t)
	bad := strings.NewReplacer("output-contains: done", "output-contain: done\n        output-matches: '(done'", "in: host", "in: Host").Replace(checkedLesson)
	dir, _, _ := writeChecked(t, bad)
	file := filepath.Join(dir, "01-mine.md")
	code, out, _ := kcna(t, "lint-content", dir)
	for _, want := range []string{
		file + `:14:13: challenges[0].checks[0].in: "Host" is neither host nor a valid sandbox name` + "\n    hint: did you mean \"host\"?",
		file + `:16:9: unknown key "challenges[0].checks[0].output-contain"` + "\n    hint: did you mean \"output-contains\"?",
		file + ":17:25: challenges[0].checks[0].output-matches: not a valid regular expression: missing closing ): `(done`",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lint-content does not say\n%s\n--- it said:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if code, _, errOut := kcna(t, "--content", dir, "challenge", "leave-a-mark", "--check"); code != 1 || !strings.Contains(errOut, "lint-content") {
		t.Errorf("a course with a broken check started: exit %d %s", code, errOut)
	}
}

// TestDeclaredChallengeInSandbox runs a checked challenge's sandbox check
// with the built kcna-lab, as a learner (or a workshop lab) does: the
// check reads the live sandbox through the exec path.
func TestDeclaredChallengeInSandbox(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a sandbox needs root")
	}
	bin := t.TempDir()
	lab := testbuild.Lab(t, bin)
	testbuild.Init(t, bin)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	cache, err := sandbox.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := rootfs.Default(cache, 100000, 100000, event.Discard)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("kl-chk-%d", os.Getpid())
	lesson := strings.Replace(checkedLesson, `      - in: host
        run: [sh, -c, 'echo ran >> LOG; cat MARK']
        output-contains: done
        message: MARK does not say done yet`, `      - in: `+name+`
        run: [hostname]
        output-matches: '^kcna-mark\n?$'
        message: start the sandbox with the hostname kcna-mark`, 1)
	dir, _, _ := writeChecked(t, lesson)
	check := func() (int, string) {
		out, err := exec.Command(lab, "--content", dir, "challenge", "leave-a-mark", "--check").CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := check(); code != 1 || !strings.Contains(out, "Not yet: start the sandbox with the hostname kcna-mark (no sandbox called "+name+" is running") {
		t.Fatalf("no sandbox: exit %d %s", code, out)
	}
	start := func(hostname string) {
		t.Helper()
		if out, err := exec.Command(lab, "run", "--detach", "--name", name, "--hostname", hostname, "--isolate", "pid,uts,mnt,ipc,net",
			"--rootfs", root, "--", "sleep", "60").CombinedOutput(); err != nil {
			t.Fatalf("run --detach: %v\n%s", err, out)
		}
	}
	stop := func() {
		if out, err := exec.Command(lab, "stop", "--timeout", "2s", name).CombinedOutput(); err != nil {
			t.Errorf("stop: %v\n%s", err, out)
		}
	}
	start("elsewhere")
	t.Cleanup(stop)
	if code, out := check(); code != 1 || !strings.Contains(out, "`hostname` exited 0 and printed \"elsewhere\", which does not match") {
		t.Fatalf("wrong hostname: exit %d %s", code, out)
	}
	stop()
	start("kcna-mark")
	if code, out := check(); code != 0 || !strings.Contains(out, "Passed: in sandbox "+name+": `hostname` exited 0") {
		t.Fatalf("right hostname: exit %d %s", code, out)
	}
}

// TestTUILabRunsDeclaredChecks: the check the TUI runs for a challenge
// (through lab, its tui.Lab) is the lesson file's.
func TestTUILabRunsDeclaredChecks(t *testing.T) {
	privateState(t)
	dir, mark, log := writeChecked(t, checkedLesson)
	course, probs := parse.LoadDir(dir, demos.Builtin())
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	c, ok := lab{reg: demos.Builtin(), course: course}.Check("leave-a-mark")
	if !ok {
		t.Fatal("the TUI's lab has no check for a challenge with checks:")
	}
	v, err := c.Verify(context.Background())
	if err != nil || v.Passed || !strings.HasPrefix(v.Detail, mark+" does not say done yet") {
		t.Fatalf("verdict %+v, %v", v, err)
	}
	if b, _ := os.ReadFile(log); string(b) != "ran\n" {
		t.Fatalf("the host check ran %q", b)
	}
}

// TestServeRefusesACourseTheLabsCannotUse: serve --content checks the
// course before any student joins: its problems, and files or
// directories a lab (an unprivileged user on the server) cannot read.
func TestServeRefusesACourseTheLabsCannotUse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("serve needs root")
	}
	privateState(t)
	state := t.TempDir()
	serve := func(dir string) (int, string) {
		// Cancelled: a course that passes serves nobody and stops.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var out, errb bytes.Buffer
		code := run(ctx, []string{"--content", dir, "serve", "--state", state, "--listen", "127.0.0.1:0"}, strings.NewReader(""), &out, &errb)
		return code, strings.Join(strings.Fields(errb.String()), " ") // as one line: errors are wrapped to the terminal
	}
	bad := strings.Replace(checkedLesson, "in: host", "in: Host", 1)
	dir, _, _ := writeChecked(t, bad)
	if code, errOut := serve(dir); code != 1 || !strings.Contains(errOut, `01-mine.md:14:13: challenges[0].checks[0].in: "Host" is neither host nor a valid sandbox name`) {
		t.Fatalf("a course with problems: exit %d\n%s", code, errOut)
	}
	dir, _, _ = writeChecked(t, checkedLesson) // in a t.TempDir: mode 0700
	if code, errOut := serve(dir); code != 1 || !strings.Contains(errOut, "is not searchable by other users (mode 700), so the students' labs cannot reach "+dir) {
		t.Fatalf("a course in a private directory: exit %d\n%s", code, errOut)
	}
	open, err := os.MkdirTemp("/var/tmp", "kcna-course-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(open) })
	_ = os.Chmod(open, 0o755)
	if err := os.WriteFile(filepath.Join(open, "01-mine.md"), []byte(strings.NewReplacer("MARK", "/tmp/m", "LOG", "/tmp/l").Replace(checkedLesson)), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, errOut := serve(open); code != 1 || !strings.Contains(errOut, "01-mine.md is not readable by other users (mode 600)") {
		t.Fatalf("a lesson only root can read: exit %d\n%s", code, errOut)
	}
	lesson := filepath.Join(open, "01-mine.md")
	for _, c := range []struct {
		what      string
		dir, file os.FileMode
		want      string
	}{
		{"a directory labs can pass but not list", 0o711, 0o644, "the directory " + open + " is not readable by other users (mode 711), so the students' labs cannot read it: chmod o+rx " + open},
		{"a directory anyone can write to", 0o777, 0o644, "the directory " + open + " is writable by users other than its owner (mode 777): they could change what the labs run and what counts as a pass: chmod go-w " + open},
		{"a lesson its group can write to", 0o755, 0o664, "the lesson file " + lesson + " is writable by users other than its owner (mode 664)"},
	} {
		if err := os.Chmod(open, c.dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(lesson, c.file); err != nil {
			t.Fatal(err)
		}
		if code, errOut := serve(open); code != 1 || !strings.Contains(squash(errOut), squash(c.want)) {
			t.Errorf("%s: exit %d\n%s", c.what, code, errOut)
		}
	}
	// A link dangles in a lab, where only the course's directory is.
	elsewhere := filepath.Join(open, "elsewhere")
	if err := os.Mkdir(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(lesson, filepath.Join(elsewhere, "01-mine.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(elsewhere, "01-mine.md"), lesson); err != nil {
		t.Fatal(err)
	}
	if code, errOut := serve(open); code != 1 || !strings.Contains(squash(errOut), squash("the lesson file "+lesson+" is a symbolic link, which the students' labs cannot follow")) {
		t.Errorf("a lesson that is a link: exit %d\n%s", code, errOut)
	}
}

// squash is an error as printed, for comparing: wrapped to the terminal
// anywhere (a path too), its first letter capitalized.
func squash(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), ""))
}
