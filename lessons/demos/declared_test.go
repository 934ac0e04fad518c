//go:build linux

package demos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// declared parses checks written as in a lesson file (indented under a
// challenge's checks:) and returns the challenge's check.
func declared(t *testing.T, checks string) Check {
	t.Helper()
	src := "---\nid: t\ntitle: T\norder: 1\ndomain: container-orchestration\nobjectives: [x]\n" +
		"challenges:\n  - id: c\n    title: C\n    task: T\n    solution: S\n    checks:\n" + checks + "---\nBody.\n"
	l, probs := parse.Lesson("01-t.md", []byte(src))
	if len(probs) > 0 {
		t.Fatalf("the test's checks do not parse:\n%v", probs)
	}
	c, ok := Builtin().ChallengeCheck(l.Challenges[0])
	if !ok {
		t.Fatal("no check for a challenge with checks:")
	}
	return c
}

func wantDeclared(t *testing.T, c Check, passed bool, detail string) {
	t.Helper()
	v, err := c.Verify(context.Background())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	t.Logf("passed=%v %s", v.Passed, v.Detail)
	if v.Passed != passed || !strings.Contains(v.Detail, detail) {
		t.Errorf("passed=%v %q; want passed=%v and %q", v.Passed, v.Detail, passed, detail)
	}
}

func TestDeclaredHostCommand(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "flag")
	c := declared(t, fmt.Sprintf(`      - in: host
        run: [cat, %s]
        output-contains: ready
        output-matches: '(?m)^port=80[0-9]{2}$'
        message: the flag is not set
`, flag))
	wantDeclared(t, c, false, "the flag is not set (on this host: `cat "+flag+"` exited 1 and printed \"cat: ")
	if err := os.WriteFile(flag, []byte("ready\nport=80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantDeclared(t, c, false, `exited 0 and printed "ready\nport=80", which does not match (?m)^port=80[0-9]{2}$`)
	if err := os.WriteFile(flag, []byte("not yet\nport=8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantDeclared(t, c, false, `which does not contain "ready"`)
	if err := os.WriteFile(flag, []byte("ready\nport=8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantDeclared(t, c, true, `its output contains "ready", its output matches (?m)^port=80[0-9]{2}$ ("port=8080")`)
}

func TestDeclaredExitStatusAndShell(t *testing.T) {
	c := declared(t, `      - in: host
        run: [sh, -c, 'echo to stderr >&2; exit 3']
        exit: 3
        output-contains: to stderr
        message: wrong
`)
	wantDeclared(t, c, true, "exited 3, its output contains \"to stderr\"")
	c = declared(t, `      - in: host
        run: ['false']
        message: false is false
`)
	wantDeclared(t, c, false, "false is false (on this host: `false` exited 1 and printed nothing; it must exit 0)")
}

// A check's command is bounded: in time (its whole process group ends)
// and in the output kept.
func TestDeclaredBounds(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := declared(t, fmt.Sprintf(`      - in: host
        run: [sh, -c, 'sleep 30 & echo $! > %s; sleep 30']
        timeout: 1s
        message: too slow
`, pidFile))
	start := time.Now()
	wantDeclared(t, c, false, "too slow (on this host: `sh -c 'sleep 30 & echo $! > "+pidFile+"; sleep 30'` did not finish within 1s)")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a 1s check took %s: the timeout did not end it", d)
	}
	wantGone(t, pidFile)
	c = declared(t, `      - in: host
        run: [head, -c, '1000000', /dev/zero]
        output-contains: nothing like this
        message: flood
`)
	wantDeclared(t, c, false, "(output cut at 64 KiB)")
}

// A command that exits leaving a child behind, holding its output, is
// judged by its exit status and what it printed, at once, and the child
// ends with it.
func TestDeclaredHostLeftover(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	c := declared(t, fmt.Sprintf(`      - in: host
        run: [sh, -c, 'sleep 7.5 & echo $! > %s; echo ok']
        timeout: 5s
        message: never
`, pidFile))
	start := time.Now()
	wantDeclared(t, c, true, "exited 0 and printed \"ok\"")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the check took %s: it waited for the child its command left", d)
	}
	wantGone(t, pidFile)
}

// wantGone checks that the process whose pid a check's command wrote to
// pidFile is gone (kill(pid, 0) says ESRCH once it is reaped), and
// kills it if it is not, so that a failing test leaves nothing behind.
func wantGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the command did not write its child's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("the pid written, %q: %v", b, err)
	}
	// Killed, an orphan is a zombie until its new parent reaps it.
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the command's child %d is still there (kill 0: %v): the check left it running", pid, err)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A check stopped by its caller (the TUI's budget, Ctrl-C) is an error,
// not the check's timeout: the check had time left.
func TestDeclaredCallerGivesUp(t *testing.T) {
	c := declared(t, `      - in: host
        run: [sleep, '30']
        timeout: 45s
        message: never
`)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	v, err := c.Verify(ctx)
	if err == nil || !strings.Contains(err.Error(), "`sleep 30` on this host was stopped before it finished: context deadline exceeded") {
		t.Errorf("got %+v, %v; want the error that the caller stopped it", v, err)
	}
}

func TestDeclaredHostFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	c := declared(t, fmt.Sprintf(`      - in: host
        file: %s
        owner: %d
        mode: 0640
        message: make the file
`, f, os.Geteuid()))
	wantDeclared(t, c, false, "make the file (on this host: there is no "+f+")")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, 0o644); err != nil {
		t.Fatal(err)
	}
	wantDeclared(t, c, false, "mode 0644; its mode must be 0640")
	if err := os.Chmod(f, 0o640); err != nil {
		t.Fatal(err)
	}
	wantDeclared(t, c, true, fmt.Sprintf("%s exists, owner uid %d, mode 0640", f, os.Geteuid()))
	c = declared(t, fmt.Sprintf(`      - in: host
        file: %s
        owner: no-such-user-here
        message: owned by someone
`, f))
	wantDeclared(t, c, false, "the owner it must have, no-such-user-here, is no user in its /etc/passwd")
}

// In a sandbox, a file is looked at inside its root, its symlinks
// resolved there, and its owner is the uid inside; a command runs there
// as `kcna-lab exec` runs it.
func TestDeclaredInSandbox(t *testing.T) {
	const name = "kl-declared"
	checks := `      - in: kl-declared
        file: /etc/link
        owner: root
        mode: 0600
        message: no file
      - in: kl-declared
        run: [cat, /proc/self/uid_map]
        output-matches: '^\s*0\s'
        message: not in its user namespace
`
	c := declared(t, checks)
	wantDeclared(t, c, false, "no file (no sandbox called kl-declared is running")
	start(t, sandbox.Spec{Name: name, Overlay: true})
	wantDeclared(t, c, false, "no file (in sandbox kl-declared: there is no /etc/link)")
	// An absolute symlink inside means the sandbox's /etc/secret, not
	// the host's.
	execIn(t, name, "echo s > /etc/secret && chmod 600 /etc/secret && ln -s /etc/secret /etc/link")
	wantDeclared(t, c, true, "in sandbox kl-declared: /etc/link exists, owner uid 0, mode 0600; in sandbox kl-declared: `cat /proc/self/uid_map` exited 0")
	execIn(t, name, "chmod 644 /etc/secret")
	wantDeclared(t, c, false, "mode 0644; its mode must be 0600")

	// A command that leaves a child holding its output is judged when it
	// exits, not when the child does.
	c = declared(t, `      - in: kl-declared
        run: [sh, -c, 'sleep 20 & echo ok']
        timeout: 2s
        message: never
`)
	began := time.Now()
	wantDeclared(t, c, true, "in sandbox kl-declared: `sh -c 'sleep 20 & echo ok'` exited 0 and printed \"ok\"")
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("the check took %s: it waited for the child its command left", d)
	}

	// Links are followed as the sandbox's own processes follow them: a
	// relative one climbing past its root stays in it, and the owner's
	// name is looked up in the passwd file the sandbox sees (here an
	// absolute link), never the host's.
	execIn(t, name, "chmod 600 /etc/secret && ln -s ../../../../../../../../../../../../etc/secret /etc/up && "+
		"echo 'kl-owner:x:0:0::/:/bin/sh' > /kl-declared-passwd && rm /etc/passwd && ln -s /kl-declared-passwd /etc/passwd")
	c = declared(t, `      - in: kl-declared
        file: /etc/up
        owner: kl-owner
        message: not kl-owner's
`)
	wantDeclared(t, c, true, "in sandbox kl-declared: /etc/up exists, owner uid 0, mode 0600")

	c = declared(t, `      - in: kl-declared
        run: [no-such-program]
        message: never
`)
	if _, err := c.Verify(context.Background()); err == nil || !strings.Contains(err.Error(), "check 1 of 1 (01-t.md:13): run `no-such-program` in sandbox kl-declared") {
		t.Errorf("a program missing in the sandbox: %v", err)
	}
}

// A sandbox that cannot be looked up is not said to be "not running":
// the learner is told why the lookup failed.
func TestDeclaredSandboxLookupFails(t *testing.T) {
	const name = "kl-badstate"
	dir := filepath.Join(sandbox.StateDir(), "sandboxes", name)
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("%s is there already", dir)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := declared(t, `      - in: kl-badstate
        run: ['true']
        message: never
`)
	v, err := c.Verify(context.Background())
	if err == nil || !strings.Contains(err.Error(), "look for sandbox kl-badstate: read "+filepath.Join(dir, "state.json")) {
		t.Errorf("got %+v, %v; want why the lookup failed", v, err)
	}
}

// What a check printed is quoted short: the quoted text is bounded, and
// a cut never splits a character.
func TestQuoteShort(t *testing.T) {
	for _, s := range []string{strings.Repeat("\x00", 200), strings.Repeat("é", 150), strings.Repeat("a", 300), "\xff\xfe" + strings.Repeat("ü", 120)} {
		q := quoteShort(s, 200)
		if len(q) > 200+len(`""...`) || !utf8.ValidString(q) || !strings.HasSuffix(q, `"...`) {
			t.Errorf("quoteShort(%.20q..., 200) = %d bytes %q", s, len(q), q)
		}
		if _, err := strconv.Unquote(strings.TrimSuffix(q, "...")); err != nil {
			t.Errorf("quoteShort(%.20q..., 200) = %q: not a quoted string: %v", s, q, err)
		}
	}
	if q := quoteShort("ok\n", 200); q != `"ok\n"` {
		t.Errorf("quoteShort(ok\\n) = %s", q)
	}
}

// lessons keeps sandbox.ValidateName's rule so that reading a lesson
// does not link the runtime; the two must agree.
func TestSandboxNameRulesAgree(t *testing.T) {
	for _, n := range []string{"box", "lab-vms", "0", "a-", "-a", "Box", "", "a_b", "a.b", strings.Repeat("a", 31), strings.Repeat("a", 32), "host"} {
		if lessons.ValidSandboxName(n) != (sandbox.ValidateName(n) == nil) {
			t.Errorf("%q: lessons says %v, sandbox says %v", n, lessons.ValidSandboxName(n), sandbox.ValidateName(n))
		}
	}
}
