package tui

import (
	"bytes"
	gocontext "context"
	"errors"
	"fmt"
	"image/color"
	"io"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// testCourse is a small course of its own, so these tests do not change
// when the built-in lessons do.
func testCourse(t testing.TB) *lessons.Course {
	t.Helper()
	lesson := func(id, title string, order int) string {
		return "---\nid: " + id + "\ntitle: " + title + "\norder: " + string(rune('0'+order)) + "\n" +
			"domain: container-orchestration\nobjectives: [Understand " + title + "]\nquiz:\n" +
			"  - id: single\n    prompt: Which is right?\n    choices: [wrong one, right one, wrong two]\n" +
			"    answer: b\n    explanation: Because the second choice is the right one and the others are not.\n" +
			"  - id: multi\n    prompt: Which two? Choose two.\n    choices: [yes, no, also yes]\n" +
			"    answer: [a, c]\n    explanation: The first and the third are right.\n" +
			"---\n# " + title + "\n\n" + strings.Repeat("Some text about "+title+". ", 200) + "\n"
	}
	fsys := fstest.MapFS{
		"01-first.md":  {Data: []byte(lesson("first", "First lesson", 1))},
		"02-second.md": {Data: []byte(lesson("second", "Second lesson", 2))},
	}
	c, probs := parse.Load(fsys, nil)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return c
}

// fakeSaver records what the app saves.
type fakeSaver struct {
	mu    sync.Mutex
	saved []*lessons.Progress
	err   error
}

func (f *fakeSaver) Save(p *lessons.Progress) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.saved = append(f.saved, p.Clone())
	return f.err
}

func (f *fakeSaver) last() *lessons.Progress {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.saved) == 0 {
		return nil
	}
	return f.saved[len(f.saved)-1]
}

// drive sends msgs through Update, running the commands they return (but
// not tea.Quit or the terminal queries) the way the program would.
func drive(t *testing.T, m tea.Model, msgs ...tea.Msg) tea.Model {
	t.Helper()
	for _, msg := range msgs {
		m = run(t, m, msg, 0)
	}
	return m
}

func run(t *testing.T, m tea.Model, msg tea.Msg, depth int) tea.Model {
	if depth > 20 {
		t.Fatal("command loop")
	}
	m, cmd := m.Update(msg)
	for _, next := range flatten(cmd) {
		out := next()
		switch out.(type) {
		case nil, tea.QuitMsg:
			continue
		}
		if _, isBatch := out.(tea.BatchMsg); isBatch {
			for _, c := range out.(tea.BatchMsg) {
				if r := c(); r != nil {
					m = run(t, m, r, depth+1)
				}
			}
			continue
		}
		m = run(t, m, out, depth+1)
	}
	return m
}

func flatten(cmd tea.Cmd) []tea.Cmd {
	if cmd == nil {
		return nil
	}
	return []tea.Cmd{cmd}
}

func press(s string) tea.Msg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	}
	return tea.KeyPressMsg{Code: rune(s[0]), Text: s}
}

func screenOf(m tea.Model) string { return m.View().Content }

func newApp(t *testing.T, saver Saver) tea.Model {
	t.Helper()
	var m tea.Model = New(Options{Course: testCourse(t), Saver: saver, Progress: lessons.NewProgress()})
	return drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
}

func TestCourseMapListsLessonsWithStatus(t *testing.T) {
	m := newApp(t, nil)
	s := screenOf(m)
	for _, want := range []string{"First lesson", "Second lesson", "not started", "quiz 0/2", "0%"} {
		if !strings.Contains(s, want) {
			t.Errorf("map does not show %q:\n%s", want, s)
		}
	}
	m = drive(t, m, press("down"))
	if lines := strings.Split(ansi.Strip(screenOf(m)), "\n"); !strings.Contains(find(lines, "Second"), ">") {
		t.Errorf("cursor did not move to the second lesson:\n%s", screenOf(m))
	}
}

func TestOpeningALessonMarksItReadAndSaves(t *testing.T) {
	saver := &fakeSaver{}
	m := drive(t, newApp(t, saver), press("enter"))
	if s := screenOf(m); !strings.Contains(s, "Some text about First lesson") {
		t.Fatalf("lesson text not shown:\n%s", s)
	}
	p := saver.last()
	if p == nil || p.Lessons["first"] == nil || p.Lessons["first"].ReadAt.IsZero() {
		t.Fatalf("opening the lesson was not saved: %+v", p)
	}
	m = drive(t, m, press("q"))
	if s := screenOf(m); !strings.Contains(s, "in progress") {
		t.Fatalf("map does not show the lesson in progress after reading:\n%s", s)
	}
}

func TestLivePaneSaysPlainlyThatTheSandboxIsMissing(t *testing.T) {
	m := drive(t, newApp(t, nil), press("enter"), press("r"))
	s := strings.ReplaceAll(ansi.Strip(screenOf(m)), "│", "")
	if !strings.Contains(strings.Join(strings.Fields(s), " "), "started without its demos, so nothing runs live here") {
		t.Fatalf("live pane does not explain why there is no demo:\n%s", s)
	}
	m = drive(t, m, press("s"))
	if s := strings.ReplaceAll(ansi.Strip(screenOf(m)), "│", ""); !strings.Contains(strings.Join(strings.Fields(s), " "), "started without a way to open a sandbox shell") {
		t.Fatalf("shell key does not explain why there is no shell:\n%s", s)
	}
}

func TestQuizRightAndWrongWithExplanation(t *testing.T) {
	saver := &fakeSaver{}
	m := drive(t, newApp(t, saver), press("enter"), press("z"))
	if s := screenOf(m); !strings.Contains(s, "Which is right?") || !strings.Contains(s, "question 1 of 2") {
		t.Fatalf("quiz not shown:\n%s", s)
	}
	// Wrong first: pick a.
	m = drive(t, m, press("a"), press("enter"))
	s := ansi.Strip(screenOf(m))
	if !strings.Contains(s, "Not quite. The answer is b.") || !strings.Contains(s, "Because the second choice") {
		t.Fatalf("wrong answer feedback missing:\n%s", s)
	}
	if a, ok := saver.last().Answer(&testCourse(t).Lessons[0].Quiz[0]); !ok || a.Correct {
		t.Fatalf("wrong answer not saved as wrong: %+v", a)
	}
	// The multiple-answer question: pick a and c with letters, submit.
	m = drive(t, m, press("n"))
	if s := ansi.Strip(screenOf(m)); !strings.Contains(s, "Choose 2") {
		t.Fatalf("multi-answer question does not say how many to choose:\n%s", s)
	}
	m = drive(t, m, press("a"), press("down"), press("down"), press("space"), press("enter"))
	if s := ansi.Strip(screenOf(m)); !strings.Contains(s, "Right.") || !strings.Contains(s, "The first and the third") {
		t.Fatalf("right answer feedback missing:\n%s", s)
	}
	m = drive(t, m, press("n"))
	if s := ansi.Strip(screenOf(m)); !strings.Contains(s, "You answered 1 of 2 right") {
		t.Fatalf("summary missing:\n%s", s)
	}
	m = drive(t, m, press("enter"))
	if s := ansi.Strip(screenOf(m)); !strings.Contains(s, "quiz 1/2") {
		t.Fatalf("map does not show the score:\n%s", s)
	}
}

func TestSaveFailureIsShownNotHidden(t *testing.T) {
	saver := &fakeSaver{err: errors.New("disk full")}
	m := drive(t, newApp(t, saver), press("enter"))
	if s := screenOf(m); !strings.Contains(s, "progress not saved: disk full") {
		t.Fatalf("save failure not shown:\n%s", s)
	}
}

func TestEveryScreenFitsTheTerminal(t *testing.T) {
	for _, size := range []tea.WindowSizeMsg{{Width: 80, Height: 24}, {Width: 200, Height: 50}, {Width: 60, Height: 20}, {Width: 60, Height: 15}, {Width: 40, Height: 10}} {
		m := drive(t, New(Options{Course: testCourse(t)}), size)
		screens := map[string]tea.Model{"map": m}
		screens["reader"] = drive(t, m, press("enter"))
		screens["live"] = drive(t, screens["reader"], press("tab"))
		screens["quiz"] = drive(t, screens["reader"], press("z"))
		screens["feedback"] = drive(t, screens["quiz"], press("a"), press("enter"))
		screens["help"] = drive(t, screens["reader"], press("?"))
		for name, sm := range screens {
			lines := strings.Split(screenOf(sm), "\n")
			if len(lines) > size.Height {
				t.Errorf("%dx%d %s: %d lines, taller than the terminal", size.Width, size.Height, name, len(lines))
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w > size.Width {
					t.Errorf("%dx%d %s: line %d is %d wide: %q", size.Width, size.Height, name, i, w, ansi.Strip(l))
				}
			}
			// The footer (key help) ends the screen and must stay visible.
			if last := ansi.Strip(strings.Join(lines[max(len(lines)-7, 0):], "\n")); !strings.Contains(last, "q") {
				t.Errorf("%dx%d %s: footer not on the last line: %q", size.Width, size.Height, name, last)
			}
		}
	}
}

func TestSideBySideOnWideTerminals(t *testing.T) {
	m := drive(t, New(Options{Course: testCourse(t)}), tea.WindowSizeMsg{Width: 160, Height: 40}, press("enter"), press("tab"))
	s := ansi.Strip(screenOf(m))
	if !strings.Contains(s, "Some text about First lesson") || !strings.Contains(s, "Live pane") {
		t.Fatalf("wide terminal does not show text and live pane together:\n%s", s)
	}
}

func TestNoticeShownOnceOnTheMap(t *testing.T) {
	m := drive(t, New(Options{Course: testCourse(t), Notice: "progress was corrupt; kept as x.bak"}), tea.WindowSizeMsg{Width: 80, Height: 24})
	if !strings.Contains(screenOf(m), "kept as x.bak") {
		t.Fatal("notice not shown")
	}
	m = drive(t, m, press("down"))
	if strings.Contains(screenOf(m), "kept as x.bak") {
		t.Fatal("notice still shown after a key")
	}
}

func TestLightBackgroundAndNoColorChangeTheLessonStyle(t *testing.T) {
	m := drive(t, New(Options{Course: testCourse(t)}), tea.WindowSizeMsg{Width: 80, Height: 24}, press("enter"))
	app := m.(Model)
	if app.ctx.glamourStyle() != "dark" {
		t.Fatalf("default style %q, want dark", app.ctx.glamourStyle())
	}
	m = drive(t, m, tea.ColorProfileMsg{Profile: colorprofile.Ascii})
	if s := m.(Model).ctx.glamourStyle(); s != "notty" {
		t.Fatalf("with NO_COLOR's profile the style is %q, want notty", s)
	}
	m = drive(t, m, tea.ColorProfileMsg{Profile: colorprofile.TrueColor}, tea.BackgroundColorMsg{Color: color.White})
	if s := m.(Model).ctx.glamourStyle(); s != "light" {
		t.Fatalf("on a white background the style is %q, want light", s)
	}
}

// startTeatest runs the app on the test course in the real program
// loop at 80x24, with the colour profile pinned to no colour.
func startTeatest(t *testing.T, saver *fakeSaver) (*teatest.TestModel, *screenLog) {
	t.Helper()
	tm := teatest.NewTestModel(t, New(Options{Course: testCourse(t), Saver: saver}),
		teatest.WithInitialTermSize(80, 24),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	return tm, &screenLog{r: tm.Output()}
}

// TestTeatestOpenLessonQuizQuit drives the real program loop with the
// colour profile pinned, the way a learner would.
func TestTeatestOpenLessonQuizQuit(t *testing.T) {
	saver := &fakeSaver{}
	tm, out := startTeatest(t, saver)
	out.waitFor(t, "First lesson")
	tm.Send(press("enter"))
	out.waitFor(t, "Some text about")
	tm.Send(press("z"))
	out.waitFor(t, "Which is right?")
	tm.Send(press("b"))
	tm.Send(press("enter"))
	out.waitFor(t, "Right.")
	out.next()
	tm.Send(press("q")) // back to the lesson, then to the map
	out.waitFor(t, "Some text about")
	tm.Send(press("q"))
	out.waitFor(t, "quiz 1/2")
	tm.Send(press("q"))
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	out.waitFor(t, "")
	if bytes.Contains(out.all.Bytes(), []byte("\x1b[38;")) {
		t.Error("colour codes written although the profile is Ascii (NO_COLOR)")
	}
	right, total := final.ctx.progress.Score(final.ctx.course.Lessons[0])
	if right != 1 || total != 2 {
		t.Fatalf("final score %d/%d, want 1/2", right, total)
	}
}

// screenLog keeps everything the program wrote, so later checks see it
// all; waitFor looks at what was written since the last next.
type screenLog struct {
	r    io.Reader
	all  bytes.Buffer
	from int
}

func (l *screenLog) waitFor(t *testing.T, text string) {
	t.Helper()
	teatest.WaitFor(t, io.TeeReader(l.r, &l.all), func([]byte) bool { return bytes.Contains(l.all.Bytes()[l.from:], []byte(text)) },
		teatest.WithDuration(5*time.Second))
}

// next makes waitFor look only at what is written from now on.
func (l *screenLog) next() { l.from = l.all.Len() }

func find(lines []string, substr string) string {
	for _, l := range lines {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

// oneChallenge is a course of one lesson with one challenge, make-it,
// whose check passes once *passed is set. hints is a YAML list, solution
// the rest of the solution field's line and any lines below it.
func oneChallenge(t *testing.T, hints, solution string) (*lessons.Course, testLab, *bool) {
	t.Helper()
	src := "---\nid: only\ntitle: Only lesson\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\n" +
		"challenges:\n  - id: make-it\n    title: Make it\n    task: Make the thing.\n    hints: " + hints + "\n    solution: " + solution +
		"---\n# Only\n\nText.\n"
	passed := new(bool)
	reg := testLab{"make-it": {Verify: func(gocontext.Context) (Verdict, error) {
		if *passed {
			return Verdict{Passed: true, Detail: "the thing exists"}, nil
		}
		return Verdict{Detail: "no thing yet"}, nil
	}}}
	c, probs := parse.Load(fstest.MapFS{"01-only.md": {Data: []byte(src)}}, reg)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return c, reg, passed
}

func TestChallengePaneHintsCheckAndSolution(t *testing.T) {
	c, reg, passed := oneChallenge(t, "[Look left., Look right.]", "Do it.\n")
	saver := &fakeSaver{}
	var m tea.Model = New(Options{Course: c, Saver: saver, Progress: lessons.NewProgress(), Lab: reg})
	m = drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24}, press("enter"), press("c"))
	flat := func() string {
		return strings.Join(strings.Fields(strings.ReplaceAll(ansi.Strip(screenOf(m)), "│", "")), " ")
	}
	if s := flat(); !strings.Contains(s, "Make the thing.") || strings.Contains(s, "Look left.") || strings.Contains(s, "Do it.") {
		t.Fatalf("the pane should show the task and neither hints nor the solution yet:\n%s", s)
	}
	m = drive(t, m, press("h"))
	if s := flat(); !strings.Contains(s, "Hint 1: Look left.") || strings.Contains(s, "Look right.") {
		t.Fatalf("h should reveal exactly one hint:\n%s", s)
	}
	m = drive(t, m, press("enter"))
	if s := flat(); !strings.Contains(s, "Not yet: no thing yet") {
		t.Fatalf("a failing check should say what it found:\n%s", s)
	}
	*passed = true
	m = drive(t, m, press("enter"))
	if s := flat(); !strings.Contains(s, "Passed: the thing exists") || !strings.Contains(s, "Do it.") {
		t.Fatalf("a pass should say so and show the solution:\n%s", s)
	}
	if p := saver.last(); p == nil || !p.Passed("only", "make-it") {
		t.Fatalf("the pass was not saved: %+v", p)
	}
}

// TestLivePaneLaysOutSideBySideAndGaugesForItsWidth: a side-by-side view
// is laid out again when the pane's width changes, and a memory sample
// becomes a gauge rather than a line.
func TestLivePaneLaysOutSideBySideAndGaugesForItsWidth(t *testing.T) {
	p := newLivePane(newCommon(Options{Course: testCourse(t), Progress: lessons.NewProgress()}))
	p.setSize(60, 20)
	cmp := event.Event{Kind: event.KindCompare, Compare: &event.Compare{Title: "hostnames",
		Left: event.Column{Title: "host", Lines: []string{"vm"}}, Right: event.Column{Title: "sandbox", Lines: []string{"kcna-box"}}}}
	p.update(liveMsg{ev: &cmp})
	mem := event.Event{Kind: event.KindMetric, Metric: &event.Metric{Name: "memory.current", Value: 30 << 20, Limit: 32 << 20, Unit: "bytes"}}
	p.update(liveMsg{ev: &mem})
	widest := func() int {
		w := 0
		for _, l := range strings.Split(ansi.Strip(p.view()), "\n") {
			if strings.Contains(l, "kcna-box") {
				w = max(w, ansi.StringWidth(strings.TrimRight(strings.Trim(l, "│ "), " ")))
			}
		}
		return w
	}
	narrow := widest()
	p.setSize(100, 20)
	if wide := widest(); wide <= narrow {
		t.Errorf("the side-by-side row did not widen with the pane: %d then %d cells", narrow, wide)
	}
	v := ansi.Strip(p.view())
	if !strings.Contains(v, "memory.current") || !strings.Contains(v, "30.0 MiB of 32.0 MiB") || !strings.Contains(v, "█") {
		t.Errorf("no memory gauge:\n%s", v)
	}
}

// TestLivePaneScrollsBackAndStaysPut: a demo longer than the pane can be
// read back with [ and ], and lines arriving meanwhile do not move what
// the learner is reading; a step's command is not broken at its hyphens.
func TestLivePaneScrollsBackAndStaysPut(t *testing.T) {
	p := newLivePane(newCommon(Options{Course: testCourse(t), Progress: lessons.NewProgress()}))
	p.setSize(60, 10)
	for i := range 40 {
		e := event.Event{Kind: event.KindNarration, Text: fmt.Sprintf("line %02d", i)}
		p.update(liveMsg{ev: &e})
	}
	view := func() string { return ansi.Strip(p.view()) }
	if v := view(); !strings.Contains(v, "line 39") || strings.Contains(v, "line 20") {
		t.Fatalf("following the stream, the newest lines should show:\n%s", v)
	}
	p.scrollBy(40) // a narration takes two lines: twenty entries up
	v := view()
	if !strings.Contains(v, "line 18") || strings.Contains(v, "line 39") || !strings.Contains(v, "newer lines below") {
		t.Fatalf("scrolled up 40 lines, older lines and a note should show:\n%s", v)
	}
	e := event.Event{Kind: event.KindNarration, Text: "line 40"}
	p.update(liveMsg{ev: &e})
	if after := view(); !strings.Contains(after, "line 18") {
		t.Fatalf("a new line moved the view the learner is reading:\n%s", after)
	}
	p.scrollBy(-1000)
	if v := view(); !strings.Contains(v, "line 40") {
		t.Fatalf("scrolled back down, the newest line should show:\n%s", v)
	}
	p.scrollBy(-1000)
	p.scrollBy(40)
	p.scrollBy(-2)
	if v := view(); !strings.Contains(v, "line 19") {
		t.Fatalf("a line once covered by the scroll note is gone:\n%s", v)
	}
	cmd := event.Event{Kind: event.KindStep, Action: "run", Shell: strings.Repeat("x", 50) + " --name=lab-vms-keep"}
	p.update(liveMsg{ev: &cmd})
	for _, l := range strings.Split(view(), "\n") {
		if strings.HasSuffix(strings.TrimRight(l, " │"), "-") {
			t.Fatalf("a command was broken at a hyphen: %q", l)
		}
	}
}

// testLab is a Lab of checks only; it also tells parse.Load that their
// challenge ids exist.
type testLab map[string]Check

func (l testLab) Demo(string) (Demo, bool)      { return Demo{}, false }
func (l testLab) Check(id string) (Check, bool) { c, ok := l[id]; return c, ok }
func (l testLab) HasDemo(string) bool           { return false }
func (l testLab) HasChallenge(id string) bool   { _, ok := l[id]; return ok }
