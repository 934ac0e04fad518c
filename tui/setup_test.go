package tui

import (
	gocontext "context"
	"strings"
	"testing"
	"testing/fstest"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// TestChallengeSetupResultReachesThePane: S builds a troubleshooting
// challenge's broken scenario off the UI goroutine; its result must reach
// the challenge pane, which then says what is broken, and S works again.
func TestChallengeSetupResultReachesThePane(t *testing.T) {
	src := "---\nid: only\ntitle: Only lesson\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\n" +
		"challenges:\n  - id: fix-it\n    title: Fix it\n    task: Find what is broken.\n    hints: [Look.]\n    solution: Fix it.\n" +
		"---\n# Only\n\nText.\n"
	setups := 0
	reg := testLab{"fix-it": {Verify: func(gocontext.Context) (Verdict, error) { return Verdict{Detail: "still broken"}, nil },
		Setup: func(gocontext.Context, event.Sink) (string, error) {
			setups++
			return "the sandbox hungry runs out of memory", nil
		}}}
	c, probs := parse.Load(fstest.MapFS{"01-only.md": {Data: []byte(src)}}, reg)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var m tea.Model = New(Options{Course: c, Progress: lessons.NewProgress(), Lab: reg})
	m = drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24}, press("enter"), press("c"), press("S"))
	flat := strings.Join(strings.Fields(strings.ReplaceAll(ansi.Strip(screenOf(m)), "│", "")), " ")
	if strings.Contains(flat, "Setting up the broken scenario") || !strings.Contains(flat, "the sandbox hungry runs out of memory") {
		t.Fatalf("after the setup ran, the pane should say what it set up:\n%s", flat)
	}
	drive(t, m, press("S"))
	if setups != 2 {
		t.Fatalf("S ran the setup %d times, want 2 (once, then again to start over)", setups)
	}
}
