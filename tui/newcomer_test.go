package tui

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// The sizes a newcomer's terminal is tried at.
var sizes = []tea.WindowSizeMsg{{Width: 80, Height: 24}, {Width: 60, Height: 20}, {Width: 40, Height: 10}, {Width: 200, Height: 50}}

// realCourse is the built-in course: fourteen lessons, more than fit a
// small terminal.
func realCourse(t *testing.T) *lessons.Course {
	t.Helper()
	c, probs := parse.Load(content.FS, nil)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return c
}

func lines(m tea.Model) []string { return strings.Split(plain(m), "\n") }

// TestFooterKeepsTheWayOutAndMoreKeys: at every size and on every screen
// the footer's last line fits and still says how to leave and "? more
// keys"; at 80 columns the lesson's does (it was cut before).
func TestFooterKeepsTheWayOutAndMoreKeys(t *testing.T) {
	c, reg, _ := oneChallenge(t, "[Look.]", "Do it.\n")
	for _, size := range sizes {
		// Each screen from a fresh app: the screens' state is shared by
		// copies of the root model.
		open := func(keys ...string) tea.Model {
			m := drive(t, New(Options{Course: c, Lab: reg}), size)
			for _, k := range keys {
				m = drive(t, m, press(k))
			}
			return m
		}
		screens := map[string]tea.Model{"map": open(), "reader": open("enter"), "challenge": open("enter", "c"),
			"quiz": open("enter", "z"), "exam": open("x")}
		for name, sm := range screens {
			ls := lines(sm)
			last := ls[len(ls)-1]
			if w := ansi.StringWidth(last); w > size.Width {
				t.Errorf("%dx%d %s: footer is %d wide: %q", size.Width, size.Height, name, w, last)
			}
			if !strings.Contains(last, "? more keys") || !strings.Contains(last, "q") && !strings.Contains(last, "esc") {
				t.Errorf("%dx%d %s: footer lacks the way out or '? more keys': %q", size.Width, size.Height, name, last)
			}
		}
	}
	m := drive(t, New(Options{Course: c}), tea.WindowSizeMsg{Width: 80, Height: 24}, press("enter"))
	if ls := lines(m); !strings.Contains(ls[len(ls)-1], "q/esc back") {
		t.Errorf("at 80 columns the lesson footer should say q/esc back: %q", ls[len(ls)-1])
	}
}

// TestCourseMapColumnsLineUp: the mark and the score of every row start
// at the same column, the selected row's too, also where titles are cut
// short (a cut title pushed its row's status one column right before).
func TestCourseMapColumnsLineUp(t *testing.T) {
	c := realCourse(t)
	p := lessons.NewProgress()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	p.MarkRead(c.Lessons[1], now)
	p.RecordAnswer(&c.Lessons[1].Quiz[0], c.Lessons[1].Quiz[0].Answers, now)
	for _, width := range []int{80, 60, 40} {
		m := drive(t, New(Options{Course: c, Progress: p}), tea.WindowSizeMsg{Width: width, Height: 40}, press("down"))
		col := map[string]int{}
		rows := 0
		for _, l := range lines(m) {
			mark, quiz := strings.Index(l, "["), strings.Index(l, "quiz ")
			if mark < 0 || quiz < 0 {
				continue
			}
			rows++
			for name, at := range map[string]int{"mark": ansi.StringWidth(l[:mark]), "quiz": ansi.StringWidth(l[:quiz])} {
				if prev, ok := col[name]; ok && prev != at {
					t.Errorf("%d columns: the %s column is at %d on %q, at %d above", width, name, at, l, prev)
				}
				col[name] = at
			}
		}
		if rows != len(c.Lessons) {
			t.Fatalf("%d columns: %d lesson rows, want %d:\n%s", width, rows, len(c.Lessons), plain(m))
		}
	}
}

// TestCourseMapPagesAndFilters: at 60x20 all fifteen lessons show; at
// 40x10 the map says there is more (page 1 of 4), lesson 15 is reached by
// moving down, and / (the course search) finds it.
func TestCourseMapPagesAndFilters(t *testing.T) {
	c := realCourse(t)
	last := c.Lessons[len(c.Lessons)-1]
	m := drive(t, New(Options{Course: c}), tea.WindowSizeMsg{Width: 60, Height: 20})
	if s := plain(m); !strings.Contains(s, last.Title) {
		t.Fatalf("at 60x20 every lesson should show:\n%s", s)
	}
	m = drive(t, New(Options{Course: c}), tea.WindowSizeMsg{Width: 40, Height: 10})
	s := plain(m)
	if strings.Contains(s, "Observing") || !strings.Contains(s, "page 1 of 4") {
		t.Fatalf("at 40x10 the first page should show with a page indicator:\n%s", s)
	}
	for range len(c.Lessons) - 1 {
		m = drive(t, m, press("down"))
	}
	if row := find(lines(m), "Observing"); !strings.Contains(row, ">") || !strings.Contains(plain(m), "page 4 of 4") {
		t.Fatalf("moving down should reach and select lesson %d:\n%s", last.Order, plain(m))
	}
	m = drive(t, New(Options{Course: c}), tea.WindowSizeMsg{Width: 60, Height: 20}, press("/"))
	for _, r := range "observing" {
		m = drive(t, m, press(string(r)))
	}
	m = drive(t, m, press("enter"), press("enter"))
	if s := plain(m); !strings.Contains(s, last.Title) || !strings.Contains(s, "r run demo") {
		t.Fatalf("filtering for 'observing' and enter should open lesson %d:\n%s", last.Order, s)
	}
}

// TestReadingWidthIsCapped: at 200 columns lesson text, quiz and exam
// lines stay within readingWidth.
func TestReadingWidthIsCapped(t *testing.T) {
	c := realCourse(t)
	open := func(keys ...string) tea.Model {
		m := drive(t, New(Options{Course: c}), tea.WindowSizeMsg{Width: 200, Height: 50})
		for _, k := range keys {
			m = drive(t, m, press(k))
		}
		return m
	}
	screens := map[string]tea.Model{"reader": open("enter"), "quiz": open("enter", "z", "a", "enter"), "exam": open("x")}
	for name, sm := range screens {
		ls := lines(sm)
		for _, l := range ls[:len(ls)-1] { // the footer spans the screen
			if w := ansi.StringWidth(strings.TrimRight(l, " ")); w > readingWidth {
				t.Errorf("%s at 200 columns: a line of %d cells: %q", name, w, l)
			}
		}
	}
}

// quizCourse is one lesson with one long question, so that wrapping and
// scrolling show: a long prompt, five choices of many words, two answers.
func quizCourse(t *testing.T) *lessons.Course {
	t.Helper()
	long := "which of these statements about control groups and namespaces on a current Linux kernel hold when a container runtime starts a process"
	choice := func(s string) string {
		return s + " and then several more words so that the choice wraps on narrow terminals"
	}
	src := "---\nid: only\ntitle: Only lesson\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\nquiz:\n" +
		"  - id: long\n    prompt: " + long + "?\n    choices: [" + choice("first") + ", " + choice("second") + ", " + choice("third") + ", " +
		choice("fourth") + ", " + choice("fifth") + "]\n    answer: [a, e]\n    explanation: The first and the fifth are right.\n" +
		"---\n# Only\n\nText.\n"
	c, probs := parse.Load(fstest.MapFS{"01-only.md": {Data: []byte(src)}}, nil)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return c
}

// TestQuizWrapsEvenlyAndScrolls: below 72 columns the prompt and choices
// wrap at words within the width, each choice's lines under its text,
// and at 40x10 every choice is reached by moving down, and the
// explanation by scrolling after the answer.
func TestQuizWrapsEvenlyAndScrolls(t *testing.T) {
	c := quizCourse(t)
	for _, size := range sizes[1:3] { // 60x20, 40x10
		m := drive(t, New(Options{Course: c}), size, press("enter"), press("z"))
		var text []string
		for _, l := range lines(m) {
			if w := ansi.StringWidth(l); w > size.Width {
				t.Errorf("%dx%d: a line of %d cells: %q", size.Width, size.Height, w, l)
			}
			if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, strings.Repeat(" ", choiceIndent)) && strings.TrimSpace(l) != "" && !strings.Contains(l, ")") {
				t.Errorf("%dx%d: a choice's line is not under its text: %q", size.Width, size.Height, l)
			}
			text = append(text, strings.Fields(l)...)
		}
		if got := strings.Join(text, " "); !strings.Contains(got, "which of these statements about control groups") {
			t.Errorf("%dx%d: the prompt's words are cut or out of order:\n%s", size.Width, size.Height, plain(m))
		}
		for range 4 {
			m = drive(t, m, press("down"))
		}
		if s := plain(m); !strings.Contains(s, "e) fifth") {
			t.Errorf("%dx%d: the last choice is not reachable:\n%s", size.Width, size.Height, s)
		}
		m = drive(t, m, press("a"), press("e"), press("enter"))
		for range 20 {
			m = drive(t, m, press("down"))
		}
		if s := plain(m); !strings.Contains(s, "The first and the fifth") {
			t.Errorf("%dx%d: the explanation is not reachable by scrolling:\n%s", size.Width, size.Height, s)
		}
	}
}

// TestAnswersCarryMarksNotOnlyColour: after an answer the right choices
// carry ✓ and a wrong pick ✗, and the verdict says which.
func TestAnswersCarryMarksNotOnlyColour(t *testing.T) {
	m := drive(t, newApp(t, nil), press("enter"), press("z"), press("a"), press("enter"))
	ls := lines(m)
	if !strings.HasPrefix(strings.TrimSpace(find(ls, "right one")), "✓") || !strings.HasPrefix(strings.TrimSpace(find(ls, "wrong one")), "✗") {
		t.Fatalf("the right choice should carry ✓ and the wrong pick ✗:\n%s", plain(m))
	}
	if !strings.Contains(plain(m), "✗ Not quite.") {
		t.Fatalf("the verdict should carry ✗:\n%s", plain(m))
	}
}

// TestChooseTwoWantsTwoPicks: one pick does not answer a "choose 2"
// question; nothing is recorded and the quiz says why.
func TestChooseTwoWantsTwoPicks(t *testing.T) {
	saver := &fakeSaver{}
	m := drive(t, newApp(t, saver), press("enter"), press("z"), press("b"), press("enter"), press("n"))
	m = drive(t, m, press("a"), press("enter"))
	if s := plain(m); !strings.Contains(s, "asks for 2 choices; you picked 1") || strings.Contains(s, "Right.") || strings.Contains(s, "Not quite") {
		t.Fatalf("one pick should not answer a choose-2 question:\n%s", s)
	}
	if _, ok := saver.last().Answer(&testCourse(t).Lessons[0].Quiz[1]); ok {
		t.Fatal("one pick of two was recorded as an answer")
	}
	m = drive(t, m, press("c"), press("enter"))
	if s := plain(m); !strings.Contains(s, "✓ Right.") {
		t.Fatalf("two picks should answer it:\n%s", s)
	}
}

// TestQuitInAQuizReturnsToTheLesson: q in a quiz goes back to the lesson
// where the learner was, not to the course map.
func TestQuitInAQuizReturnsToTheLesson(t *testing.T) {
	m := drive(t, newApp(t, nil), press("enter"), press("pgdown"), press("pgdown"))
	before := lines(m)[0]
	m = drive(t, m, press("z"), press("q"))
	if got := lines(m)[0]; got != before || !strings.Contains(plain(m), "Some text about First lesson") {
		t.Fatalf("q in the quiz should return to the lesson as it was (%q), got:\n%s", before, plain(m))
	}
}

// TestReopensAtTheLastPlace: the lesson and scroll the learner left are
// saved and the next start opens there, at any size.
func TestReopensAtTheLastPlace(t *testing.T) {
	saver := &fakeSaver{}
	m := drive(t, newApp(t, saver), press("enter"), press("n"), press("pgdown"), press("pgdown"), press("q"))
	p := saver.last()
	if p == nil || p.Place == nil || p.Place.Lesson != "second" || p.Place.Scroll <= 0 {
		t.Fatalf("leaving the lesson should save its place: %+v", p)
	}
	if !strings.Contains(find(lines(m), "Second lesson"), ">") {
		t.Fatalf("back on the map, the cursor should be on the lesson left:\n%s", plain(m))
	}
	for _, size := range sizes {
		m := drive(t, New(Options{Course: testCourse(t), Progress: p.Clone()}), size)
		head := lines(m)[0]
		if !strings.Contains(head, "2. Second lesson") || strings.Contains(head, " 0%") {
			t.Errorf("%dx%d: the course should reopen down the second lesson, got %q", size.Width, size.Height, head)
		}
	}
	// A notice is read on the map first.
	m = drive(t, New(Options{Course: testCourse(t), Progress: p.Clone(), Notice: "kept as x.bak"}), sizes[0])
	if s := plain(m); !strings.Contains(s, "kept as x.bak") || !strings.Contains(find(lines(m), "Second lesson"), ">") {
		t.Fatalf("with a notice the map shows first, on the last lesson:\n%s", s)
	}
}

// quits reports whether msg, and the messages its commands send, end in
// tea.Quit; m is the model after them.
func quits(t *testing.T, m tea.Model, msg tea.Msg) (tea.Model, bool) {
	t.Helper()
	for range 10 {
		var cmd tea.Cmd
		m, cmd = m.Update(msg)
		if cmd == nil {
			return m, false
		}
		msg = cmd()
		if _, ok := msg.(tea.QuitMsg); ok {
			return m, true
		}
		if msg == nil {
			return m, false
		}
	}
	t.Fatal("command loop")
	return m, false
}

// TestQuitListsRunningSandboxes: quitting while a lesson's sandbox runs
// lists it with the command that stops it; n quits and keeps it, y stops
// it first, and a failure to stop is shown before quitting.
func TestQuitListsRunningSandboxes(t *testing.T) {
	var stopped []string
	var stopErr error
	o := Options{Course: testCourse(t),
		KeptSandboxes: func() ([]string, []string, error) { return []string{"lab-chroot"}, nil, nil },
		StopSandbox:   func(name string) error { stopped = append(stopped, name); return stopErr }}
	for _, size := range sizes {
		m := drive(t, New(o), size)
		m, quit := quits(t, m, press("q"))
		if quit {
			t.Fatalf("%dx%d: q quit without saying a sandbox runs", size.Width, size.Height)
		}
		flat := strings.Join(strings.Fields(plain(m)), " ")
		if !strings.Contains(flat, "lab-chroot") || !strings.Contains(flat, "kcna-lab stop lab-chroot") {
			t.Fatalf("%dx%d: the running sandbox and how to stop it should show:\n%s", size.Width, size.Height, plain(m))
		}
		if _, quit := quits(t, m, press("n")); !quit || len(stopped) != 0 {
			t.Fatalf("%dx%d: n should quit and keep the sandbox (stopped %v)", size.Width, size.Height, stopped)
		}
	}
	m := drive(t, New(o), sizes[0], press("down"))
	m, _ = quits(t, m, press("q"))
	if back, quit := quits(t, m, press("esc")); quit || !strings.Contains(find(lines(back), "Second lesson"), ">") {
		t.Fatalf("esc should go back to the course, the cursor where it was:\n%s", plain(back))
	}
	if _, quit := quits(t, m, press("y")); !quit || len(stopped) != 1 || stopped[0] != "lab-chroot" {
		t.Fatalf("y should stop the sandbox, then quit (stopped %v)", stopped)
	}
	stopErr = errors.New("permission denied")
	m = drive(t, New(o), sizes[0])
	m, _ = quits(t, m, press("q"))
	m, quit := quits(t, m, press("y"))
	if quit || !strings.Contains(plain(m), "lab-chroot: permission denied") {
		t.Fatalf("a failure to stop should show before quitting:\n%s", plain(m))
	}
	if _, quit := quits(t, m, press("enter")); !quit {
		t.Fatal("enter after a failure should quit")
	}
	// With nothing running, q quits at once.
	o.KeptSandboxes = func() ([]string, []string, error) { return nil, nil, nil }
	if _, quit := quits(t, drive(t, New(o), sizes[0]), press("q")); !quit {
		t.Fatal("with no sandbox running q should quit")
	}
}
