package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// The two sizes every practice screen is tried at: a usual terminal and
// the smallest the app supports.
var practiceSizes = []tea.WindowSizeMsg{{Width: 80, Height: 24}, {Width: 40, Height: 10}}

// footerFits checks the last line fits the width and keeps the way out.
func footerFits(t *testing.T, m tea.Model, size tea.WindowSizeMsg, what string) {
	t.Helper()
	ls := lines(m)
	if len(ls) > size.Height {
		t.Errorf("%dx%d %s: %d lines on a %d-line terminal", size.Width, size.Height, what, len(ls), size.Height)
	}
	last := ls[len(ls)-1]
	if ansi.StringWidth(last) > size.Width || !strings.Contains(last, "esc") && !strings.Contains(last, "q ") {
		t.Errorf("%dx%d %s: footer too wide or without a way out: %q", size.Width, size.Height, what, last)
	}
}

// missedProgress has lesson first's single question missed an hour ago
// (box 1, due now) and its multi question missed, then answered right an
// hour ago (box 2, due in a day).
func missedProgress(c *lessons.Course) *lessons.Progress {
	p := lessons.NewProgress()
	hourAgo := time.Now().Add(-time.Hour)
	single, multi := &c.Lessons[0].Quiz[0], &c.Lessons[0].Quiz[1]
	p.RecordAnswer(single, []int{0}, hourAgo)
	p.RecordAnswer(multi, []int{1}, hourAgo.Add(-time.Minute))
	p.RecordAnswer(multi, multi.Answers, hourAgo)
	return p
}

// TestReviewAsksWhatIsDueAndRecordsThroughTheRoot: the map shows how many
// missed questions are due and r asks exactly those (box 1 here, not the
// box 2 one), saying the box and the lesson; a right answer is saved as
// the lesson quiz saves it, moving the question to box 2, and the map
// then shows none due.
func TestReviewAsksWhatIsDueAndRecordsThroughTheRoot(t *testing.T) {
	for _, size := range practiceSizes {
		c := testCourse(t)
		saver := &fakeSaver{}
		m := drive(t, New(Options{Course: c, Saver: saver, Progress: missedProgress(c)}), size)
		if s := plain(m); !strings.Contains(s, "1 missed due: r") {
			t.Fatalf("%dx%d: the map should say one question is due:\n%s", size.Width, size.Height, s)
		}
		if size.Width == 80 && !strings.Contains(lines(m)[len(lines(m))-1], "r retry 1 missed") {
			t.Errorf("80 columns: the footer should show r with the count: %q", lines(m)[len(lines(m))-1])
		}
		m = drive(t, m, press("r"))
		s := plain(m)
		for _, want := range []string{"Retry what you missed", "question 1 of 1", "box 1 of 5", "Which is right?"} {
			if !strings.Contains(s, want) {
				t.Fatalf("%dx%d: review lacks %q:\n%s", size.Width, size.Height, want, s)
			}
		}
		footerFits(t, m, size, "review")
		m = drive(t, m, press("b"), press("enter"))
		a, ok := saver.last().Answer(&c.Lessons[0].Quiz[0])
		if !ok || !a.Correct || a.Box != 2 {
			t.Fatalf("%dx%d: the right answer should be saved in box 2, got %+v (saved: %v)", size.Width, size.Height, a, ok)
		}
		m = drive(t, m, press("n"))
		if s := plain(m); !strings.Contains(s, "You answered 1 of 1 right") || !strings.Contains(s, "next question is due") {
			t.Fatalf("%dx%d: the summary should give the score and the next due:\n%s", size.Width, size.Height, s)
		}
		m = drive(t, m, press("enter"))
		if s := plain(m); strings.Contains(s, "missed due") || !strings.Contains(s, "First lesson") {
			t.Fatalf("%dx%d: back on the map nothing should be due:\n%s", size.Width, size.Height, s)
		}
	}
}

// TestReviewWithNothingDueSaysWhen: with nothing missed, r explains the
// boxes; q goes back to the course map, not into a lesson.
func TestReviewWithNothingDueSaysWhen(t *testing.T) {
	m := drive(t, newApp(t, nil), press("r"))
	if s := plain(m); !strings.Contains(s, "Nothing is due for review") {
		t.Fatalf("review with nothing missed:\n%s", s)
	}
	m = drive(t, m, press("q"))
	if s := plain(m); !strings.Contains(s, "not started") {
		t.Fatalf("q should go back to the course map:\n%s", s)
	}
}

// typeText types s into the app, a key a rune.
func typeText(t *testing.T, m tea.Model, s string) tea.Model {
	t.Helper()
	for _, r := range s {
		m = drive(t, m, tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	return m
}

// TestSearchOpensLessonQuestionAndSection: `/` finds a title, a question
// and a lesson's text; enter opens the lesson, asks the question (the
// answer saved as the quiz saves it) or opens the lesson at the section.
// ? and q are typed into the query, not obeyed.
func TestSearchOpensLessonQuestionAndSection(t *testing.T) {
	for _, size := range practiceSizes {
		c := realCourse(t)
		saver := &fakeSaver{}
		open := func() tea.Model {
			return drive(t, New(Options{Course: c, Saver: saver, Progress: lessons.NewProgress()}), size, press("/"))
		}
		m := typeText(t, open(), "q?")
		if s := plain(m); !strings.Contains(s, "/ q?") || strings.Contains(s, "more keys\n") {
			t.Fatalf("%dx%d: q and ? should be typed:\n%s", size.Width, size.Height, s)
		}
		footerFits(t, m, size, "search")

		m = drive(t, typeText(t, open(), "storage"), press("enter"))
		if s := plain(m); !strings.Contains(s, "13. Storage") {
			t.Fatalf("%dx%d: enter on a title hit should open the lesson:\n%s", size.Width, size.Height, s)
		}

		l4 := c.Lessons[3]
		m = typeText(t, open(), "the eight namespaces")
		if s := plain(m); !strings.Contains(s, "The eight namespaces") {
			t.Fatalf("%dx%d: the section should be found:\n%s", size.Width, size.Height, s)
		}
		m = drive(t, m, press("enter"))
		if ls := lines(m); len(ls) < 2 || !strings.Contains(ls[1], "The eight namespaces") || !strings.Contains(ls[0], l4.Title) {
			t.Fatalf("%dx%d: the lesson should open at the section's heading:\n%s", size.Width, size.Height, plain(m))
		}

		q := &c.Lessons[0].Quiz[0]
		m = typeText(t, open(), strings.Join(strings.Fields(q.Prompt)[:6], " "))
		for range 12 { // past title and glossary hits, to the question's
			if strings.Contains(plain(m), "> Question in 1.") {
				break
			}
			m = drive(t, m, press("down"))
		}
		m = drive(t, m, press("enter"))
		if s := plain(m); !strings.Contains(s, "from 1. "+c.Lessons[0].Title) {
			t.Fatalf("%dx%d: enter on a question hit should ask it:\n%s", size.Width, size.Height, s)
		}
		footerFits(t, m, size, "question")
		m = drive(t, m, press(lessons.Letter(q.Answers[0])))
		for _, a := range q.Answers[1:] {
			m = drive(t, m, press(lessons.Letter(a)))
		}
		drive(t, m, press("enter"))
		if a, ok := saver.last().Answer(q); !ok || !a.Correct {
			t.Fatalf("%dx%d: the answer should be saved: %+v %v", size.Width, size.Height, a, ok)
		}
	}
}

// TestSearchShowsGlossaryEntryAndItsLesson: a glossary hit shows the
// entry; enter then opens the lesson that teaches it, esc goes back to
// the results and esc again to the course map.
func TestSearchShowsGlossaryEntryAndItsLesson(t *testing.T) {
	c := realCourse(t)
	var term lessons.Term
	for _, tm := range c.Glossary {
		if tm.Term == "hypervisor" {
			term = tm
		}
	}
	if term.Term == "" {
		t.Skip("the glossary has no hypervisor entry any more")
	}
	taught, _ := c.Lesson(term.Lesson)
	for _, size := range practiceSizes {
		m := drive(t, typeText(t, drive(t, New(Options{Course: c}), size, press("/")), "hypervisor"), press("enter"))
		s := plain(m)
		if !strings.Contains(s, "hypervisor") || !strings.Contains(s, strings.Fields(term.Means)[0]) {
			t.Fatalf("%dx%d: the glossary entry should show:\n%s", size.Width, size.Height, s)
		}
		footerFits(t, m, size, "glossary entry")
		m = drive(t, m, press("esc"))
		if !strings.Contains(plain(m), "Glossary: hypervisor") {
			t.Fatalf("%dx%d: esc should go back to the results:\n%s", size.Width, size.Height, plain(m))
		}
		m = drive(t, m, press("enter"), press("enter"))
		if ls := lines(m); !strings.Contains(ls[0], taught.Title) {
			t.Fatalf("%dx%d: enter should open lesson %s:\n%s", size.Width, size.Height, taught.ID, plain(m))
		}
		m = drive(t, m, press("q"), press("/"), press("esc"))
		if s := plain(m); !strings.Contains(s, "Why containers") {
			t.Fatalf("%dx%d: esc from the search should go back to the map:\n%s", size.Width, size.Height, s)
		}
	}
}

// limitedLab is a lab on a host that cannot run lesson only's challenge.
type limitedLab struct{ testLab }

func (limitedLab) CannotRun() map[string]string {
	return map[string]string{"only": "this host has no bridge network"}
}

// TestChallengeNotPossibleHereIsDoneHere: on a host that cannot run the
// challenge, a lesson read with its quiz passed shows as done here on the
// map, the lesson and its challenge pane say why, and the challenge is
// never marked passed; before the lab has said, it is in progress.
func TestChallengeNotPossibleHereIsDoneHere(t *testing.T) {
	for _, size := range practiceSizes {
		c, reg, _ := oneChallenge(t, "[Look.]", "Do it.\n")
		p := lessons.NewProgress()
		p.MarkRead(c.Lessons[0], time.Now())
		saver := &fakeSaver{}
		app := New(Options{Course: c, Saver: saver, Progress: p, Lab: limitedLab{reg}})
		m := drive(t, app, tea.WindowSizeMsg{Width: 80, Height: 24})
		if row := find(lines(m), "Only lesson"); !strings.Contains(row, "in progress") {
			t.Fatalf("before the lab says, the lesson is in progress: %q", row)
		}
		// Init asks the lab; its answer comes back as a message.
		m = drive(t, m, lessonLimits(t, app))
		if row := find(lines(m), "Only lesson"); !strings.Contains(row, "[*] done here") {
			t.Fatalf("the lesson should be done here: %q\n%s", row, plain(m))
		}
		m = drive(t, m, size)
		if row := find(lines(m), "Only lesson"); !strings.Contains(row, "[*]") {
			t.Fatalf("%dx%d: the mark should say done here: %q", size.Width, size.Height, row)
		}
		m = drive(t, m, press("enter"))
		if size.Width == 80 && !strings.Contains(lines(m)[0], "done here: challenge not possible here") {
			t.Errorf("the lesson's header should say the challenge is not possible here: %q", lines(m)[0])
		}
		m = drive(t, m, press("c"))
		flat := strings.Join(strings.Fields(plain(m)), " ")
		if size.Height >= 24 && !strings.Contains(flat, "Not possible on this host: this host has no bridge network") {
			t.Fatalf("%dx%d: the challenge pane should say why:\n%s", size.Width, size.Height, plain(m))
		}
		footerFits(t, m, size, "challenge")
		m = drive(t, m, press("enter"))
		if s := plain(m); !strings.Contains(s, "Not yet") {
			t.Fatalf("%dx%d: enter should still check, and fail:\n%s", size.Width, size.Height, s)
		}
		if last := saver.last(); last != nil && last.Passed("only", "make-it") {
			t.Fatalf("%dx%d: the challenge must never be marked passed", size.Width, size.Height)
		}
		if p.Passed("only", "make-it") || p.Status(c.Lessons[0]) != lessons.InProgress {
			t.Fatalf("%dx%d: progress itself must not count the challenge: %s", size.Width, size.Height, p.Status(c.Lessons[0]))
		}
	}
}

// lessonLimits runs the app's Init and returns the lab's answer in it.
func lessonLimits(t *testing.T, m Model) tea.Msg {
	t.Helper()
	batch, ok := m.Init()().(tea.BatchMsg)
	if !ok {
		t.Fatal("Init should batch its commands")
	}
	for _, cmd := range batch {
		if cmd == nil {
			continue
		}
		if msg, ok := cmd().(limitsMsg); ok {
			return msg
		}
	}
	t.Fatal("Init did not ask the lab what this host cannot run")
	return nil
}

// countingLab counts how often it is asked for its limits.
type countingLab struct {
	testLab
	asked *int
}

func (l countingLab) CannotRun() map[string]string {
	*l.asked++
	return map[string]string{"only": "no bridge here"}
}

// TestLimitsAskedOnlyWhenTheyDecide: the lab (doctor, which starts
// sandboxes) is not asked at start with nothing done, is asked once the
// lesson is read with nothing but its challenge left, and only once.
func TestLimitsAskedOnlyWhenTheyDecide(t *testing.T) {
	c, reg, _ := oneChallenge(t, "[Look.]", "Do it.\n")
	asked := 0
	app := New(Options{Course: c, Progress: lessons.NewProgress(), Lab: countingLab{reg, &asked}})
	if b, ok := app.Init()().(tea.BatchMsg); ok {
		for _, cmd := range b {
			if cmd != nil {
				cmd() // asks the lab, if Init would
			}
		}
	}
	if asked != 0 {
		t.Fatalf("asked %d times at start with nothing done", asked)
	}
	m := drive(t, app, tea.WindowSizeMsg{Width: 80, Height: 24}, press("enter"), press("q"))
	if row := find(lines(m), "Only lesson"); asked != 1 || !strings.Contains(row, "done here") {
		t.Fatalf("after reading: asked %d times, row %q", asked, row)
	}
	drive(t, m, press("enter"), press("q"), press("enter"))
	if asked != 1 {
		t.Fatalf("asked %d times, want once a run", asked)
	}
}
