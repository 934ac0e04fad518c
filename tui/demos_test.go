package tui

import (
	gocontext "context"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// twoDemoLab has the demos alpha and beta, each narrating its own name.
type twoDemoLab struct{}

func (twoDemoLab) Demo(id string) (Demo, bool) {
	if id != "alpha" && id != "beta" {
		return Demo{}, false
	}
	return Demo{Title: strings.ToUpper(id[:1]) + id[1:] + " demo", Run: func(_ gocontext.Context, sink event.Sink) error {
		event.Narrate(sink, "this is "+id+" running")
		return nil
	}}, true
}
func (twoDemoLab) Check(string) (Check, bool)  { return Check{}, false }
func (twoDemoLab) HasDemo(id string) bool      { return id == "alpha" || id == "beta" }
func (twoDemoLab) HasChallenge(id string) bool { return false }

// TestDPicksWhichDemoRAndSUse: in a lesson with two demos, r runs the
// first until d picks the second; then r runs it and s opens a shell set
// up like its sandbox; d again comes back to the first. The keys' help
// lists d only where there is a choice.
func TestDPicksWhichDemoRAndSUse(t *testing.T) {
	two := "---\nid: two\ntitle: Two demos\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\ndemos: [alpha, beta]\n---\n# Two\n\nText.\n"
	one := "---\nid: one\ntitle: One demo\norder: 2\ndomain: container-orchestration\nobjectives: [Try]\ndemos: [alpha]\n---\n# One\n\nText.\n"
	c, probs := parse.Load(fstest.MapFS{"01-two.md": {Data: []byte(two)}, "02-one.md": {Data: []byte(one)}}, twoDemoLab{})
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var shells []string
	var m tea.Model = New(Options{Course: c, Progress: lessons.NewProgress(), Lab: twoDemoLab{},
		ShellCmd: func(lesson, demo string) (*exec.Cmd, error) {
			shells = append(shells, lesson+"/"+demo)
			return exec.Command("true"), nil
		}})
	m = drive(t, m, tea.WindowSizeMsg{Width: 100, Height: 30}, press("enter"))
	screen := func() string { return ansi.Strip(screenOf(m)) }

	m = drive(t, m, press("tab"))
	if s := screen(); !strings.Contains(s, "2 demos") || !strings.Contains(s, "d picks") {
		t.Fatalf("the empty pane should say there are two demos and d picks:\n%s", s)
	}
	m = drive(t, m, press("?"))
	if s := screen(); !strings.Contains(s, "next demo") {
		t.Fatalf("a two-demo lesson's help should offer d:\n%s", s)
	}
	m = drive(t, m, press("?"), press("r"))
	if s := screen(); !strings.Contains(s, "this is alpha running") {
		t.Fatalf("r should run the first demo:\n%s", s)
	}
	m = drive(t, m, press("d"))
	if s := screen(); !strings.Contains(s, "Demo 2 of 2: Beta demo") {
		t.Fatalf("d should pick the second demo and say so:\n%s", s)
	}
	m = drive(t, m, press("r"))
	if s := screen(); !strings.Contains(s, "this is beta running") || strings.Contains(s, "this is alpha running") {
		t.Fatalf("after d, r should run the second demo:\n%s", s)
	}
	m = drive(t, m, press("s"), shellDoneMsg{})
	m = drive(t, m, press("d"), press("s"), shellDoneMsg{})
	if strings.Join(shells, " ") != "two/beta two/alpha" {
		t.Fatalf("s opened shells for %v; want two/beta, then (d again) two/alpha", shells)
	}
	if s := screen(); !strings.Contains(s, "Demo 1 of 2: Alpha demo") {
		t.Fatalf("d after the last demo should come back to the first:\n%s", s)
	}

	// The next lesson has one demo: d is not offered and does nothing.
	m = drive(t, m, press("n"), press("?"))
	if s := screen(); strings.Contains(s, "next demo") {
		t.Fatalf("a one-demo lesson's help offers d:\n%s", s)
	}
	m = drive(t, m, press("?"), press("d"), press("s"), shellDoneMsg{})
	if shells[len(shells)-1] != "one/alpha" {
		t.Fatalf("s in the one-demo lesson opened %v", shells)
	}
}
