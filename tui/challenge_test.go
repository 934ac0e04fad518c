package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// TestChallengeVerdictStaysInViewBelowALongSolution: at 80x24, a pass
// shows a solution longer than the pane (lesson 12's is); the verdict the
// learner just asked for must still be on the screen, not scrolled away
// above the solution.
func TestChallengeVerdictStaysInViewBelowALongSolution(t *testing.T) {
	var sol strings.Builder
	for i := range 40 {
		fmt.Fprintf(&sol, "      solution line %d\n", i+1)
	}
	c, reg, passed := oneChallenge(t, "[Look left.]", "|\n"+sol.String())
	var m tea.Model = New(Options{Course: c, Saver: &fakeSaver{}, Progress: lessons.NewProgress(), Lab: reg})
	m = drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24}, press("enter"), press("c"), press("enter"))
	if s := ansi.Strip(screenOf(m)); !strings.Contains(s, "Not yet: no thing yet") {
		t.Fatalf("a failing check should say what it found:\n%s", s)
	}
	*passed = true
	m = drive(t, m, press("enter"))
	s := ansi.Strip(screenOf(m))
	if !strings.Contains(s, "Passed: the thing exists") || !strings.Contains(s, "solution line 40") {
		t.Fatalf("at 80x24 a pass should show its verdict beside the end of a long solution:\n%s", s)
	}
	if n := len(strings.Split(strings.TrimRight(s, "\n"), "\n")); n > 24 {
		t.Fatalf("the screen has %d lines at 24 rows:\n%s", n, s)
	}
	// The top of the solution is reached by scrolling up; a new key
	// brings the verdict back.
	m = drive(t, m, press("pgup"), press("pgup"), press("pgup"))
	s = ansi.Strip(screenOf(m))
	if !strings.Contains(s, "Make the thing.") {
		t.Fatalf("scrolled up three pages, the task at the top should show:\n%s", s)
	}
	if strings.Contains(s, "Passed: the thing exists") {
		t.Fatalf("scrolled up three pages, the verdict at the end should be out of view:\n%s", s)
	}
	m = drive(t, m, press("h"))
	if s := ansi.Strip(screenOf(m)); !strings.Contains(s, "Passed: the thing exists") {
		t.Fatalf("after another key the view should be back at the verdict:\n%s", s)
	}
}
