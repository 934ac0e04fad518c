package tui

import (
	"strings"
	"testing"
	"testing/fstest"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// TestChallengePaneShowsWhatChecksRun: a challenge checked by its lesson
// file's checks: says, before enter is pressed, what they will run and
// where, the learner's own machine included.
func TestChallengePaneShowsWhatChecksRun(t *testing.T) {
	src := "---\nid: only\ntitle: Only lesson\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\n" +
		"challenges:\n  - id: make-it\n    title: Make it\n    task: Make the thing.\n    solution: Do it.\n" +
		"    checks:\n      - in: host\n        run: [test, -e, /tmp/thing]\n        message: no thing\n" +
		"      - in: box\n        file: /etc/thing\n        message: no thing in box\n" +
		"---\n# Only\n\nText.\n"
	c, probs := parse.Load(fstest.MapFS{"01-only.md": {Data: []byte(src)}}, testLab{})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var m tea.Model = New(Options{Course: c, Saver: &fakeSaver{}, Progress: lessons.NewProgress(), Lab: testLab{}})
	m = drive(t, m, tea.WindowSizeMsg{Width: 100, Height: 30}, press("enter"), press("c"))
	s := strings.Join(strings.Fields(strings.ReplaceAll(ansi.Strip(screenOf(m)), "│", "")), " ")
	if want := "enter runs the lesson file's checks, commands on this machine among them: on this host: run test -e /tmp/thing; in sandbox box: look at /etc/thing"; !strings.Contains(s, want) {
		t.Fatalf("the pane does not say %q:\n%s", want, s)
	}
}

// TestCheckBudget: the pane waits for a lesson file's checks as long as
// their own timeouts allow, all of them, so that one is never cut short
// and blamed for it; a built-in check gets 30 s.
func TestCheckBudget(t *testing.T) {
	src := "---\nid: only\ntitle: Only lesson\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\n" +
		"challenges:\n  - id: slow\n    title: Slow\n    task: T.\n    solution: S.\n" +
		"    checks:\n      - in: host\n        run: [sleep, '1']\n        timeout: 45s\n        message: m\n" +
		"      - in: box\n        run: [sleep, '1']\n        timeout: 60s\n        message: m\n" +
		"---\n# Only\n\nText.\n"
	c, probs := parse.Load(fstest.MapFS{"01-only.md": {Data: []byte(src)}}, testLab{})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if got := checkBudget(c.Lessons[0].Challenges[0]); got < 105*time.Second || got > 2*time.Minute {
		t.Errorf("the budget for checks of 45s and 60s is %s; want their sum and a small margin", got)
	}
	if got := checkBudget(lessons.Challenge{ID: "built-in"}); got != 30*time.Second {
		t.Errorf("a built-in check's budget is %s; want 30s", got)
	}
}
