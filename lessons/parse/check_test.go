package parse

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// checked is a lesson whose challenge is checked by checks: of its own.
const checked = `---
id: names
title: Names
order: 4
domain: container-orchestration
objectives:
  - Name a box
challenges:
  - id: name-the-box
    title: Name the box
    task: Start box with hostname kcna-box.
    solution: kcna-lab run --name box --hostname kcna-box --detach -- sleep 600
    checks:
      - in: box
        run: [hostname]
        output-matches: '^kcna-box\n?$'
        message: box's hostname is not kcna-box
      - in: host
        run: [grep, -qx, kcna-box, /proc/sys/kernel/hostname]
        exit: 1
        timeout: 5s
        message: the host's hostname changed
      - in: box
        file: /etc/hostname
        owner: root
        mode: 0644
        output-contains: x
        message: no /etc/hostname
---
Body.
`

func TestParseChecks(t *testing.T) {
	src := strings.Replace(checked, "        output-contains: x\n", "", 1)
	l, probs := Lesson("04-names.md", []byte(src))
	if len(probs) != 0 {
		t.Fatalf("unexpected problems:\n%v", probs)
	}
	ks := l.Challenges[0].Checks
	if len(ks) != 3 {
		t.Fatalf("%d checks, want 3: %+v", len(ks), ks)
	}
	if k := ks[0]; k.In != "box" || k.OnHost() || strings.Join(k.Run, " ") != "hostname" || k.Matches != `^kcna-box\n?$` ||
		k.Exit != 0 || k.Timeout != lessons.DefaultCheckTimeout || k.Line != 14 || k.Col != 9 {
		t.Errorf("first check = %+v", k)
	}
	if k := ks[1]; !k.OnHost() || k.Exit != 1 || k.Timeout != 5*time.Second || k.Message != "the host's hostname changed" {
		t.Errorf("second check = %+v", k)
	}
	if k := ks[2]; k.File != "/etc/hostname" || k.Owner != "root" || !k.ModeSet || k.Mode != 0o644 || len(k.Run) != 0 {
		t.Errorf("third check = %+v", k)
	}
	if got, want := ks[1].String(), "on this host: run grep -qx kcna-box /proc/sys/kernel/hostname"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := ks[2].String(), "in sandbox box: look at /etc/hostname (owner root) (mode 0644)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestQuoteArgsShowsWhatRuns(t *testing.T) {
	got := lessons.QuoteArgs([]string{"sh", "-c", `test "$(hostname)" != it's`, "", "a=b"})
	if want := `sh -c 'test "$(hostname)" != it'\''s' '' a=b`; got != want {
		t.Errorf("QuoteArgs = %s, want %s", got, want)
	}
}

// TestCheckProblems: every mistake in a check is reported where it is,
// with a hint.
func TestCheckProblems(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		wantMsg        string
		line, col      int
		wantHint       string
	}{
		{"unknown key", "        output-matches:", "        output-match:",
			`unknown key "challenges[0].checks[0].output-match"`, 16, 9, `did you mean "output-matches"`},
		{"bad regexp", `'^kcna-box\n?$'`, `'^kcna-(box'`,
			"challenges[0].checks[0].output-matches: not a valid regular expression: missing closing ): `^kcna-(box`", 16, 25, "RE2"},
		{"bad sandbox name", "      - in: box\n        run", "      - in: Box_1\n        run",
			`challenges[0].checks[0].in: "Box_1" is neither host nor a valid sandbox name`, 14, 13, "lower-case letters"},
		{"upper-case host", "      - in: host", "      - in: Host",
			`"Host" is neither host nor a valid sandbox name`, 18, 13, `did you mean "host"?`},
		{"no in", "      - in: box\n        run: [hostname]", "      - run: [hostname]",
			`missing "challenges[0].checks[0].in"`, 14, 9, ""},
		{"no message", "        message: box's hostname is not kcna-box\n", "",
			`missing "challenges[0].checks[0].message"`, 14, 9, ""},
		{"run as a string", "run: [hostname]", "run: hostname -s",
			"challenges[0].checks[0].run: must be a list (the command and its arguments), not one string", 15, 14, `run: [hostname, -s]; for a shell's pipes or variables, say so: run: [sh, -c, "hostname -s"]`},
		{"empty run", "run: [hostname]", "run: []", "challenges[0].checks[0].run: no command given", 15, 14, "run: [hostname]"},
		{"neither run nor file", "        run: [hostname]\n        output-matches: '^kcna-box\\n?$'\n", "",
			"challenges[0].checks[0]: the check has neither run nor file", 14, 9, "run: [COMMAND, ARG...]"},
		{"output without run", "        file: /etc/hostname\n", "        file: /etc/hostname\n", // the third check has output-contains but no run
			"challenges[0].checks[2].output-contains needs run", 27, 26, "give run: too"},
		{"bad exit", "exit: 1", "exit: 256", `challenges[0].checks[1].exit: "256" is not an exit status`, 20, 15, "0 to 255"},
		{"bad timeout", "timeout: 5s", "timeout: 5m", `challenges[0].checks[1].timeout: "5m" is not a timeout from 1s to 1m0s`, 21, 18, "timeout: 20s"},
		{"relative file", "file: /etc/hostname", "file: etc/hostname", `challenges[0].checks[2].file: "etc/hostname" is not an absolute path`, 24, 15, "from /"},
		{"bad owner", "owner: root", "owner: Root Admin", `challenges[0].checks[2].owner: "Root Admin" is neither a uid nor a user name`, 25, 16, "owner: 0"},
		{"bad mode", "mode: 0644", "mode: 0689", `challenges[0].checks[2].mode: "0689" is not a file mode`, 26, 15, "mode: 0644"},
		{"checks not a list", "    checks:\n", "    checks: yes\n    x:\n", "challenges[0].checks: must be a list", 13, 13, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := checked
			if tc.name != "output without run" {
				src = strings.Replace(checked, "        output-contains: x\n", "", 1)
			}
			if !strings.Contains(src, tc.old) {
				t.Fatalf("the test's lesson has no %q", tc.old)
			}
			src = strings.Replace(src, tc.old, tc.new, 1)
			_, probs := Lesson("04-names.md", []byte(src))
			p, ok := find(probs, tc.wantMsg)
			if !ok {
				t.Fatalf("no problem containing %q; got:\n%v", tc.wantMsg, probs)
			}
			if p.Line != tc.line || p.Col != tc.col {
				t.Errorf("at %d:%d, want %d:%d (%s)", p.Line, p.Col, tc.line, tc.col, p)
			}
			if !strings.Contains(p.Hint, tc.wantHint) {
				t.Errorf("hint %q does not mention %q", p.Hint, tc.wantHint)
			}
		})
	}
}

// A challenge checked in its file needs no registered check, and one
// that would shadow a built-in check is reported.
func TestLoadChecksAgainstRegistry(t *testing.T) {
	src := strings.Replace(checked, "        output-contains: x\n", "", 1)
	fsys := fstest.MapFS{"04-names.md": {Data: []byte(src)}}
	if _, probs := Load(fsys, fakeRegistry{}); len(probs) != 0 {
		t.Fatalf("a challenge with its own checks was refused:\n%v", probs)
	}
	_, probs := Load(fsys, fakeRegistry{checks: []string{"name-the-box"}})
	p, ok := find(probs, `challenge "name-the-box" has checks: and kcna-lab has a built-in check with the same id`)
	if !ok || p.Line != 9 || p.Col != 5 || !strings.Contains(p.Hint, "an id of its own") {
		t.Fatalf("shadowing not reported at 9:5 with a hint: %v", probs)
	}
}

func TestValidSandboxName(t *testing.T) {
	for name, want := range map[string]bool{"box": true, "lab-vms": true, "0": true, "-box": false, "Box": false, "": false,
		strings.Repeat("a", 31): true, strings.Repeat("a", 32): false} {
		if got := lessons.ValidSandboxName(name); got != want {
			t.Errorf("ValidSandboxName(%q) = %v, want %v", name, got, want)
		}
	}
}

// A challenge whose only check is wrong is reported for that, not also
// as a challenge with no check.
func TestBadCheckIsNotAlsoNoCheck(t *testing.T) {
	src := strings.Replace(checked, "        output-contains: x\n", "", 1)
	src = strings.Replace(src, "in: box\n        run", "in: Box\n        run", 1)
	_, probs := Load(fstest.MapFS{"04-names.md": {Data: []byte(src)}}, fakeRegistry{})
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, `"Box" is neither host nor a valid sandbox name`) {
		t.Fatalf("want the one problem of the check, got:\n%v", probs)
	}
}
