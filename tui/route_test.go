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

// demoLab is a Lab with one demo, three-steps, that narrates three
// lines, and the checks of a testLab.
type demoLab struct{ testLab }

func (demoLab) Demo(id string) (Demo, bool) {
	return Demo{Title: "Three steps", Run: func(_ gocontext.Context, sink event.Sink) error {
		for _, s := range []string{"step one", "step two", "step three"} {
			event.Narrate(sink, s)
		}
		return nil
	}}, id == "three-steps"
}
func (demoLab) HasDemo(id string) bool { return id == "three-steps" }

// routeApp is a course of one lesson with the three-steps demo, a quiz
// and one challenge, make-it, whose check passes once *passed is set; it
// is open at the lesson.
func routeApp(t *testing.T, saver Saver) (tea.Model, *bool) {
	t.Helper()
	src := "---\nid: only\ntitle: Only lesson\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\n" +
		"demos: [three-steps]\nquiz:\n" +
		"  - id: single\n    prompt: Which is right?\n    choices: [wrong one, right one]\n" +
		"    answer: b\n    explanation: Because the second choice is the right one and the first is not.\n" +
		"challenges:\n  - id: make-it\n    title: Make it\n    task: Make the thing.\n    hints: [Look.]\n    solution: Do it.\n" +
		"---\n# Only\n\nText.\n"
	passed := new(bool)
	lab := demoLab{testLab{"make-it": {Verify: func(gocontext.Context) (Verdict, error) {
		if *passed {
			return Verdict{Passed: true, Detail: "the thing exists"}, nil
		}
		return Verdict{Detail: "no thing yet"}, nil
	}}}}
	c, probs := parse.Load(fstest.MapFS{"01-only.md": {Data: []byte(src)}}, lab)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	var m tea.Model = New(Options{Course: c, Saver: saver, Progress: lessons.NewProgress(), Lab: lab})
	return drive(t, m, tea.WindowSizeMsg{Width: 100, Height: 30}, press("enter")), passed
}

// results runs cmd, without the messages it leads to, the way the program
// would while the learner goes on pressing keys.
func results(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	out := cmd()
	if b, ok := out.(tea.BatchMsg); ok {
		var msgs []tea.Msg
		for _, c := range b {
			msgs = append(msgs, results(c)...)
		}
		return msgs
	}
	if out == nil {
		return nil
	}
	return []tea.Msg{out}
}

func flatText(m tea.Model) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(ansi.Strip(screenOf(m)), "│", "")), " ")
}

// TestDemoGoesOnWhileTheQuizIsOnTop: a demo's events reach the reader
// while the quiz is on top, so the demo runs to its end and can be run
// again back in the lesson.
func TestDemoGoesOnWhileTheQuizIsOnTop(t *testing.T) {
	m, _ := routeApp(t, &fakeSaver{})
	m, cmd := m.Update(press("r"))
	pending := results(cmd) // the first event and the demo's run recorded
	m = drive(t, m, press("z"))
	if s := flatText(m); !strings.Contains(s, "Which is right?") {
		t.Fatalf("z should open the quiz:\n%s", s)
	}
	m = drive(t, m, pending...) // the rest follows through each event's next
	m = drive(t, m, press("esc"))
	s := flatText(m)
	if !strings.Contains(s, "step three") || !strings.Contains(s, "Done. Press r to run it again.") {
		t.Fatalf("back in the lesson, the pane should show the demo's end:\n%s", s)
	}
	m, cmd = m.Update(press("r"))
	if cmd == nil {
		t.Fatal("r was refused after the demo had ended")
	}
	m = drive(t, m, results(cmd)...)
	if s := flatText(m); !strings.Contains(s, "Running: Three steps") {
		t.Errorf("r should run the demo again:\n%s", s)
	}
}

// TestCheckReportsAfterLeavingTheLesson: a check's verdict reaches the
// challenge pane, and a pass is saved, though the learner went back to
// the course map while it ran.
func TestCheckReportsAfterLeavingTheLesson(t *testing.T) {
	saver := &fakeSaver{}
	m, passed := routeApp(t, saver)
	*passed = true
	m = drive(t, m, press("c"))
	m, cmd := m.Update(press("enter"))
	pending := results(cmd)
	m = drive(t, m, press("esc"), press("esc"))
	if s := flatText(m); !strings.Contains(s, "Only lesson") || strings.Contains(s, "Make the thing.") {
		t.Fatalf("esc esc should lead back to the course map:\n%s", s)
	}
	m = drive(t, m, pending...)
	if p := saver.last(); p == nil || !p.Passed("only", "make-it") {
		t.Fatalf("the pass was not saved: %+v", p)
	}
	m = drive(t, m, press("enter"), press("c"))
	if s := flatText(m); !strings.Contains(s, "Passed: the thing exists") || strings.Contains(s, "Checking live state") {
		t.Errorf("back in the lesson, the pane should show the verdict:\n%s", s)
	}
}

// TestCtrlCQuitsWhileTypingAFilter: ctrl+c quits from the course map
// while the learner types a filter, as it does everywhere else.
func TestCtrlCQuitsWhileTypingAFilter(t *testing.T) {
	m := drive(t, New(Options{Course: testCourse(t), Progress: lessons.NewProgress()}),
		tea.WindowSizeMsg{Width: 80, Height: 24}, press("/"), press("s"))
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	if cmd == nil {
		t.Fatal("ctrl+c while typing a filter did nothing")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("ctrl+c while typing a filter did not quit")
	}
}

// TestQuitQuestionQTwiceQuits: q on the map, then q on the question about
// running sandboxes, quits and stops nothing; esc alone goes back.
func TestQuitQuestionQTwiceQuits(t *testing.T) {
	var stopped []string
	o := Options{Course: testCourse(t),
		KeptSandboxes: func() ([]string, []string, error) { return []string{"lab-chroot"}, nil, nil },
		StopSandbox:   func(name string) error { stopped = append(stopped, name); return nil }}
	m := drive(t, New(o), tea.WindowSizeMsg{Width: 80, Height: 24})
	m, _ = quits(t, m, press("q"))
	if s := flatText(m); !strings.Contains(s, "n/q keep them, quit") || !strings.Contains(s, "esc back to the course") {
		t.Fatalf("the question's help should say what q and esc do:\n%s", s)
	}
	if _, quit := quits(t, m, press("q")); !quit || len(stopped) != 0 {
		t.Fatalf("q q should quit and stop nothing (quit %v, stopped %v)", quit, stopped)
	}
}

// TestExamEscIsLabelledOverview: in the mock exam, esc opens the overview
// (submitting is s there), and the footer says so.
func TestExamEscIsLabelledOverview(t *testing.T) {
	// The exam's clock ticks for ever: its commands are not run.
	var m tea.Model = New(Options{Course: realCourse(t), Progress: lessons.NewProgress()})
	m, _ = m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
	m, _ = m.Update(openExamMsg{})
	m, _ = m.Update(press("enter"))
	if s := flatText(m); !strings.Contains(s, "esc overview") || strings.Contains(s, "esc submit") {
		t.Fatalf("the exam's footer should label esc as the overview:\n%s", s)
	}
	if m, _ = m.Update(press("esc")); !strings.Contains(flatText(m), "Overview") {
		t.Fatalf("esc should open the overview:\n%s", flatText(m))
	}
}

// TestQuitStopsOnlyTheSessionsSandboxes: y stops the sandboxes this
// session's shells kept; others running are listed and left alone, and
// with only others running q quits at once.
func TestQuitStopsOnlyTheSessionsSandboxes(t *testing.T) {
	var stopped []string
	o := Options{Course: testCourse(t),
		KeptSandboxes: func() ([]string, []string, error) { return []string{"lab-chroot"}, []string{"web-1", "mesh"}, nil },
		StopSandbox:   func(name string) error { stopped = append(stopped, name); return nil }}
	m := drive(t, New(o), tea.WindowSizeMsg{Width: 80, Height: 24})
	m, _ = quits(t, m, press("q"))
	if s := flatText(m); !strings.Contains(s, "kcna-lab stop lab-chroot") || !strings.Contains(s, "left alone: web-1, mesh.") ||
		strings.Contains(s, "kcna-lab stop web-1") {
		t.Fatalf("the session's sandbox should be offered, the others only listed:\n%s", s)
	}
	if _, quit := quits(t, m, press("y")); !quit || len(stopped) != 1 || stopped[0] != "lab-chroot" {
		t.Fatalf("y should stop lab-chroot alone, then quit (stopped %v)", stopped)
	}
	o.KeptSandboxes = func() ([]string, []string, error) { return nil, []string{"web-1"}, nil }
	if _, quit := quits(t, drive(t, New(o), tea.WindowSizeMsg{Width: 80, Height: 24}), press("q")); !quit {
		t.Fatal("with only others' sandboxes running, q should quit at once")
	}
}
