package tui

import (
	gocontext "context"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// notRunning is what the real checks say before the learner's sandbox
// exists: a command to copy, with flags.
const notRunning = "no sandbox called lab-vms is running; start it with: kcna-lab shell --name lab-vms --keep  (or press s in the lesson)"

// shellApp is a one-lesson course whose challenge is done in the lesson's
// sandbox shell; the shell is `true`, and the check fails until passed.
func shellApp(t *testing.T, passed *bool) tea.Model {
	t.Helper()
	src := "---\nid: only\ntitle: Only lesson\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\n" +
		"challenges:\n  - id: make-it\n    title: Make it\n    task: Press s and make the thing.\n    hints: [Look left.]\n    solution: Do it.\n" +
		"---\n# Only\n\nText.\n"
	reg := testLab{"make-it": {Verify: func(gocontext.Context) (Verdict, error) {
		if *passed {
			return Verdict{Passed: true, Detail: "the thing exists"}, nil
		}
		return Verdict{Detail: notRunning}, nil
	}}}
	c, probs := parse.Load(fstest.MapFS{"01-only.md": {Data: []byte(src)}}, reg)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var m tea.Model = New(Options{Course: c, Progress: lessons.NewProgress(), Lab: reg,
		ShellCmd: func(string, string) (*exec.Cmd, error) { return exec.Command("true"), nil }})
	return drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24}, press("enter"), press("c"))
}

// TestBackFromTheShellTheOldVerdictIsGone: a verdict about live state
// ("no sandbox ... is running") is stale once the learner has been in the
// sandbox's shell, which is what starts it; the pane asks for a new check
// instead of showing it. And the live pane does not say a demo finished.
func TestBackFromTheShellTheOldVerdictIsGone(t *testing.T) {
	passed := false
	m := shellApp(t, &passed)
	m = drive(t, m, press("enter"))
	if s := ansi.Strip(screenOf(m)); !strings.Contains(s, "Not yet:") {
		t.Fatalf("a failing check should show its verdict:\n%s", s)
	}
	// s hands the terminal over (tea.ExecProcess, run by the program, not
	// here); the shell's end comes back as this message.
	m = drive(t, m, press("s"), shellDoneMsg{})
	s := ansi.Strip(screenOf(m))
	if strings.Contains(s, "Not yet:") || !strings.Contains(s, "enter checks") {
		t.Fatalf("back from the shell, the old verdict should be gone and the pane ask for a check:\n%s", s)
	}
	passed = true
	m = drive(t, m, press("enter"))
	if s := ansi.Strip(screenOf(m)); !strings.Contains(s, "Passed: the thing exists") {
		t.Fatalf("the new check should pass:\n%s", s)
	}
	m = drive(t, m, press("q"))
	if s := ansi.Strip(screenOf(m)); strings.Contains(s, "Done. Press r") || strings.Contains(s, "No shell") {
		t.Fatalf("no demo ran and the shell worked; the live pane should say neither:\n%s", s)
	}
	m = drive(t, m, press("c"), press("s"), shellDoneMsg{err: exec.ErrNotFound}, press("q"))
	if s := ansi.Strip(screenOf(m)); !strings.Contains(s, "No shell: "+exec.ErrNotFound.Error()) {
		t.Fatalf("a shell that could not start should say why in the live pane:\n%s", s)
	}
}

// TestChallengeVerdictKeepsCommandFlagsWhole: at 80 columns the verdict's
// command wraps between words, never inside --name or kcna-lab, so that
// what the learner reads (and copies) is the command.
func TestChallengeVerdictKeepsCommandFlagsWhole(t *testing.T) {
	passed := false
	m := drive(t, shellApp(t, &passed), press("enter"))
	s := ansi.Strip(screenOf(m))
	var text []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "│"))
		if strings.HasSuffix(l, "-") {
			t.Errorf("a line ends inside a word or flag: %q", l)
		}
		text = append(text, l)
	}
	if !strings.Contains(strings.Join(text, " "), "kcna-lab shell --name lab-vms --keep") {
		t.Errorf("the command in the verdict is not whole:\n%s", s)
	}
}
