package tui

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// examClock is the app's clock in these tests: it moves only when told.
type examClock struct{ t time.Time }

func (c *examClock) now() time.Time          { return c.t }
func (c *examClock) advance(d time.Duration) { c.t = c.t.Add(d) }

// examApp is the app at 80x24 with a clock the test moves and a countdown
// that does not really tick (the test sends the ticks); ticks counts the
// ticks the exam asked for.
func examApp(t *testing.T, saver Saver) (tea.Model, *examClock, *int) {
	t.Helper()
	clock := &examClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	ticks := new(int)
	app := New(Options{Course: testCourse(t), Saver: saver, Progress: lessons.NewProgress()})
	app.ctx.now = clock.now
	app.exam.tick = func(int) tea.Cmd { *ticks++; return nil }
	return drive(t, app, tea.WindowSizeMsg{Width: 80, Height: 24}), clock, ticks
}

func examOf(m tea.Model) *mockExam { return m.(Model).exam }

func keyCode(code rune) tea.Msg { return tea.KeyPressMsg{Code: code} }

func plain(m tea.Model) string { return ansi.Strip(screenOf(m)) }

// answerRight picks the right answer of the question on screen and moves on.
func answerRight(t *testing.T, m tea.Model) tea.Model {
	t.Helper()
	z := examOf(m)
	it := z.exam.Items[z.q]
	var msgs []tea.Msg
	for _, a := range it.Answers() {
		msgs = append(msgs, press(lessons.Letter(a)))
	}
	if !it.Q.Multi() {
		msgs = msgs[:0] // enter picks the choice under the cursor
		for range it.Answers()[0] {
			msgs = append(msgs, press("down"))
		}
	}
	return drive(t, m, append(msgs, press("enter"))...)
}

func wrongChoice(it lessons.ExamItem) string {
	for i := range it.Order {
		if !slices.Contains(it.Answers(), i) {
			return lessons.Letter(i)
		}
	}
	return "a"
}

func TestExamOpensFromTheCourseMap(t *testing.T) {
	m, _, _ := examApp(t, nil)
	if s := plain(m); !strings.Contains(s, "x mock exam") {
		t.Fatalf("the map's help does not show the exam key:\n%s", s)
	}
	m = drive(t, m, press("x"))
	s := plain(m)
	for _, want := range []string{"Course practice exam", "4 questions from every lesson, drawn by the KCNA blueprint",
		"KCNA domain", "Kubernetes Fundamentals", "Container Orchestration", "not a signal of",
		"Time:       6:00 (1:30 a question)", "Pass mark:  75%", "enter start the clock"} {
		if !strings.Contains(s, want) {
			t.Errorf("start page lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "Last exam") {
		t.Error("a last exam shown before any was taken")
	}
	m = drive(t, m, press("q"))
	if s := plain(m); !strings.Contains(s, "First lesson") {
		t.Fatalf("q on the start page does not return to the map:\n%s", s)
	}
}

func TestExamTakeSubmitAndReview(t *testing.T) {
	saver := &fakeSaver{}
	m, clock, ticks := examApp(t, saver)
	m = drive(t, m, press("x"), press("enter"))
	if *ticks != 1 {
		t.Fatalf("starting the exam asked for %d ticks, want 1", *ticks)
	}
	s := plain(m)
	if !strings.Contains(s, "Question 1 of 4") || !strings.Contains(s, "6:00 left") || !strings.Contains(s, "answered 0 · marked 0") {
		t.Fatalf("first question:\n%s", s)
	}
	z := examOf(m)
	items := z.exam.Items

	// Question 1 wrong, and marked for review.
	m = drive(t, m, press(wrongChoice(items[0])), press("m"))
	if s := plain(m); !strings.Contains(s, "[marked for review]") || !strings.Contains(s, "(x) "+wrongChoice(items[0])+")") &&
		!strings.Contains(s, "[x] "+wrongChoice(items[0])+")") {
		t.Fatalf("pick or mark not shown:\n%s", s)
	}
	m = drive(t, m, keyCode(tea.KeyRight))
	if s := plain(m); !strings.Contains(s, "Question 2 of 4") || !strings.Contains(s, "answered 1 · marked 1") {
		t.Fatalf("→ does not move on:\n%s", s)
	}
	// Back and forth keeps the answer.
	m = drive(t, m, keyCode(tea.KeyLeft))
	if got := examOf(m).picks[0]; len(got) != 1 || lessons.Letter(got[0]) != wrongChoice(items[0]) {
		t.Fatalf("answer lost moving back: %v", got)
	}
	m = drive(t, m, keyCode(tea.KeyRight))

	// A second passes: the countdown moves.
	clock.advance(61 * time.Second)
	m = drive(t, m, examTickMsg{gen: examOf(m).gen})
	if s := plain(m); !strings.Contains(s, "4:59 left") || *ticks != 2 {
		t.Fatalf("tick did not update the countdown (ticks %d):\n%s", *ticks, s)
	}
	// A tick of an earlier exam is dropped, not chained.
	m = drive(t, m, examTickMsg{gen: examOf(m).gen - 1})
	if *ticks != 2 {
		t.Fatal("a stale tick started a second countdown")
	}

	// Questions 2-4 right; enter on the last opens the overview.
	for range 3 {
		m = answerRight(t, m)
	}
	s = plain(m)
	if !strings.Contains(s, "Overview") || !strings.Contains(s, "4 of 4 answered") || !strings.Contains(s, " 1 x*") {
		t.Fatalf("overview:\n%s", s)
	}
	// Jump to question 1 from the overview and back.
	m = drive(t, m, keyCode(tea.KeyLeft), keyCode(tea.KeyLeft), keyCode(tea.KeyLeft), press("enter"))
	if s := plain(m); !strings.Contains(s, "Question 1 of 4") {
		t.Fatalf("enter on the overview does not open the question:\n%s", s)
	}
	clock.advance(2 * time.Minute)
	m = drive(t, m, press("esc"), press("s"))
	s = plain(m)
	for _, want := range []string{"Mock exam results", "PASS  3 of 4 right (75%); the pass mark is 75%.", "Time: 3:01 of 6:00",
		"By domain", "Container Orchestration", "3/4", "not a signal of", "r review"} {
		if !strings.Contains(s, want) {
			t.Errorf("results lack %q:\n%s", want, s)
		}
	}
	p := saver.last()
	if p == nil || len(p.Exams) != 1 || p.Exams[0].Score != 3 || p.Exams[0].Questions[0].Right {
		t.Fatalf("result not saved: %+v", p)
	}
	// The countdown stops with the exam.
	m = drive(t, m, examTickMsg{gen: examOf(m).gen})
	if *ticks != 2 {
		t.Fatal("the countdown went on after submitting")
	}

	// Review: the wrong first question, with the right answer and why.
	m = drive(t, m, press("r"))
	s = plain(m)
	for _, want := range []string{"Review 1 of 4", "WRONG", "<- your answer", "<- right answer", "Your answer: " + wrongChoice(items[0]),
		"Right answer: " + letters(items[0].Answers())} {
		if !strings.Contains(s, want) {
			t.Errorf("review lacks %q:\n%s", want, s)
		}
	}
	if !strings.Contains(strings.Join(strings.Fields(s), " "), strings.Join(strings.Fields(items[0].Q.Explanation), " ")) {
		t.Errorf("review lacks the explanation:\n%s", s)
	}
	m = drive(t, m, keyCode(tea.KeyRight))
	if s := plain(m); !strings.Contains(s, "Review 2 of 4") || !strings.Contains(s, "RIGHT") {
		t.Fatalf("→ in the review:\n%s", s)
	}
	m = drive(t, m, press("w"))
	if s := plain(m); !strings.Contains(s, "Review 1 of 1 (not right only)") || !strings.Contains(s, "WRONG") {
		t.Fatalf("wrong-only review:\n%s", s)
	}
	m = drive(t, m, press("esc"), press("enter"))
	if s := plain(m); !strings.Contains(s, "First lesson") {
		t.Fatalf("enter on the results does not return to the map:\n%s", s)
	}

	// The start page now shows the last exam, and r reviews it.
	m = drive(t, m, press("x"))
	if s := plain(m); !strings.Contains(s, "Last exam:  3 of 4 (75%), PASS") {
		t.Fatalf("start page lacks the last exam:\n%s", s)
	}
	m = drive(t, m, press("r"))
	if s := plain(m); !strings.Contains(s, "Review 1 of 4") {
		t.Fatalf("r on the start page:\n%s", s)
	}
	m = drive(t, m, press("esc"))
	if s := plain(m); !strings.Contains(s, "Course practice exam") {
		t.Fatalf("esc from that review does not return to the start page:\n%s", s)
	}
}

func TestExamSubmitsItselfAtTheDeadline(t *testing.T) {
	saver := &fakeSaver{}
	m, clock, _ := examApp(t, saver)
	m = drive(t, m, press("x"), press("enter"))
	m = answerRight(t, m)
	clock.advance(6 * time.Minute)
	m = drive(t, m, examTickMsg{gen: examOf(m).gen})
	s := plain(m)
	if !strings.Contains(s, "FAIL  1 of 4 right (25%)") || !strings.Contains(s, "time ran out") || !strings.Contains(s, "Time: 6:00 of 6:00") {
		t.Fatalf("not submitted at the deadline:\n%s", s)
	}
	if r, _ := saver.last().LastExam(); !r.TimedOut || r.Score != 1 {
		t.Fatalf("saved %+v", r)
	}
}

func TestExamTakesNoAnswerAfterTheDeadline(t *testing.T) {
	saver := &fakeSaver{}
	m, clock, _ := examApp(t, saver)
	m = drive(t, m, press("x"), press("enter"))
	clock.advance(6*time.Minute + time.Second) // before the tick arrives
	m = drive(t, m, press("a"))
	if s := plain(m); !strings.Contains(s, "Mock exam results") {
		t.Fatalf("a key after the deadline did not end the exam:\n%s", s)
	}
	if r, _ := saver.last().LastExam(); !r.TimedOut || len(r.Questions[0].Given) != 0 {
		t.Fatalf("an answer after the deadline was taken: %+v", r.Questions[0])
	}
}

func TestExamMultiAnswerIsAllOrNothing(t *testing.T) {
	m, _, _ := examApp(t, nil)
	m = drive(t, m, press("x"), press("enter"))
	z := examOf(m)
	multi := slices.IndexFunc(z.exam.Items, func(it lessons.ExamItem) bool { return it.Q.Multi() })
	for range multi {
		m = drive(t, m, keyCode(tea.KeyRight))
	}
	ans := z.exam.Items[multi].Answers()
	m = drive(t, m, press(lessons.Letter(ans[0]))) // half the answer
	if s := plain(m); !strings.Contains(s, "Choose 2") {
		t.Fatalf("multi-answer question does not say how many:\n%s", s)
	}
	m = drive(t, m, press("esc"), press("s"))
	if r, _ := examOf(m).ctx.progress.LastExam(); r.Questions[multi].Right || r.Score != 0 {
		t.Fatalf("half a multi answer scored: %+v", r.Questions[multi])
	}
}

func TestExamScreensFitTheTerminal(t *testing.T) {
	for _, size := range []tea.WindowSizeMsg{{Width: 80, Height: 24}, {Width: 60, Height: 15}, {Width: 200, Height: 50}} {
		m, _, _ := examApp(t, nil)
		m = drive(t, m, size)
		screens := map[string]tea.Model{}
		screens["start"] = drive(t, m, press("x"))
		screens["question"] = drive(t, screens["start"], press("enter"))
		screens["overview"] = drive(t, screens["question"], press("esc"))
		screens["results"] = drive(t, screens["overview"], press("s"))
		screens["review"] = drive(t, screens["results"], press("r"), press("down"), press("down"), press("down"))
		screens["help"] = drive(t, screens["question"], press("?"))
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
			if last := ansi.Strip(strings.Join(lines[max(len(lines)-3, 0):], "\n")); !strings.Contains(last, "esc") &&
				!strings.Contains(last, "enter") {
				t.Errorf("%dx%d %s: key help not at the bottom: %q", size.Width, size.Height, name, last)
			}
		}
	}
}

func TestExamWithoutQuestionsSaysSo(t *testing.T) {
	c := testCourse(t)
	for _, l := range c.Lessons {
		l.Quiz = nil
	}
	m := drive(t, New(Options{Course: c}), tea.WindowSizeMsg{Width: 80, Height: 24}, press("x"))
	if s := plain(m); !strings.Contains(s, "There is no exam to take") {
		t.Fatalf("empty course:\n%s", s)
	}
	m = drive(t, m, press("enter"))
	if s := plain(m); !strings.Contains(s, "There is no exam to take") {
		t.Fatalf("enter started an exam without questions:\n%s", s)
	}
}

// TestTeatestExamToReview runs a whole exam in the real program loop, with
// the real countdown and the colour profile pinned to no colour.
func TestTeatestExamToReview(t *testing.T) {
	saver := &fakeSaver{}
	tm, out := startTeatest(t, saver)
	out.waitFor(t, "x mock exam")
	tm.Send(press("x"))
	out.waitFor(t, "Pass mark")
	tm.Send(press("enter"))
	out.waitFor(t, "Question 1 of 4")
	for range 4 {
		tm.Send(press("a"))
		tm.Send(press("enter"))
	}
	out.waitFor(t, "4 of 4 answered")
	tm.Send(press("s"))
	out.waitFor(t, "Mock exam results")
	tm.Send(press("r"))
	out.waitFor(t, "Review 1 of 4")
	tm.Send(press("esc"))
	mark := out.all.Len()
	tm.Send(press("enter"))
	// Back on the map (a command away, so wait for it before quitting).
	teatest.WaitFor(t, io.TeeReader(out.r, &out.all), func([]byte) bool {
		return bytes.Contains(out.all.Bytes()[mark:], []byte("First lesson"))
	}, teatest.WithDuration(5*time.Second))
	tm.Send(press("q"))
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	out.waitFor(t, "")
	if bytes.Contains(out.all.Bytes(), []byte("\x1b[38;")) {
		t.Error("colour codes written although the profile is Ascii (NO_COLOR)")
	}
	r, ok := final.ctx.progress.LastExam()
	if !ok || r.Total != 4 || len(r.Questions) != 4 {
		t.Fatalf("exam not kept in progress: %+v", r)
	}
	for _, q := range r.Questions {
		if len(q.Given) != 1 {
			t.Fatalf("answer lost: %+v", q)
		}
	}
}
