package tui

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// Workshop links the course to a workshop server's instructor: the
// learner's activity goes to ActivityPath (the dashboard watches it), and
// the class's notice and pace come from ClassroomPath (the server writes
// it; the course looks for a change every second).
type Workshop struct {
	ActivityPath  string
	ClassroomPath string

	// Activity writes run in the background: mu keeps them one at a
	// time and written the newest, so an older snapshot never lands last.
	mu      sync.Mutex
	written int64
}

// What the challenge pane tells the root the learner was shown, for the
// activity: hints and solutions are what an instructor needs to know of
// a student who is stuck.
type (
	hintShownMsg struct {
		lesson, challenge string
		shown             int
	}
	solutionShownMsg struct{ lesson, challenge string }
	// classroomMsg is the classroom as read, when it changed.
	classroomMsg struct {
		changed bool
		c       lessons.Classroom
		modTime time.Time
	}
	// classroomTickMsg is the time to look at the classroom again.
	classroomTickMsg struct{}
)

// workshopState is the course's side of the workshop, kept in common.
type workshopState struct {
	activity  lessons.Activity
	classroom lessons.Classroom
	read      time.Time // the classroom file's mtime when last read
	dismissed int64     // the NoticeID the learner dismissed
	seq       int64     // activity snapshots taken
	// wait says why a lesson just asked for is not open yet (paced).
	wait string
}

var noticeKeys = struct{ Dismiss key.Binding }{
	Dismiss: key.NewBinding(key.WithKeys("enter", "esc"), key.WithHelp("enter", "dismiss")),
}

// paced reports whether l waits for the instructor.
func (c *common) paced(l *lessons.Lesson) bool {
	i := slices.Index(c.course.Lessons, l)
	return i >= 0 && c.ws.classroom.Paced(i)
}

// workshopInit starts watching the classroom, on a workshop server.
func (m Model) workshopInit() tea.Cmd {
	if m.ctx.opts.Workshop == nil || m.ctx.opts.Workshop.ClassroomPath == "" {
		return nil
	}
	return m.readClassroom()
}

// readClassroom reads the classroom file if its mtime changed, then
// ticks again in a second. A stat a second is the whole cost of a class
// whose instructor says nothing.
func (m Model) readClassroom() tea.Cmd {
	path, seen := m.ctx.opts.Workshop.ClassroomPath, m.ctx.ws.read
	return func() tea.Msg {
		fi, err := os.Stat(path)
		if err != nil || fi.ModTime().Equal(seen) {
			return classroomMsg{}
		}
		var c lessons.Classroom
		if _, err := lessons.ReadJSON(path, &c); err != nil {
			return classroomMsg{} // never half-written: it is renamed in
		}
		return classroomMsg{changed: true, c: c, modTime: fi.ModTime()}
	}
}

// workshopMsg handles the workshop's messages and keys; done is true when
// msg was one of them.
func (m *Model) workshopMsg(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case classroomTickMsg:
		return m.readClassroom(), true
	case classroomMsg:
		if msg.changed {
			m.ctx.ws.classroom, m.ctx.ws.read = msg.c, msg.modTime
			m.leavePaced()
			m.resize()
		}
		return tea.Tick(time.Second, func(time.Time) tea.Msg { return classroomTickMsg{} }), true
	case hintShownMsg, solutionShownMsg:
		return nil, true // noteActivity keeps them
	case tea.KeyPressMsg:
		if !m.noticeShown() {
			return nil, false
		}
		if key.Matches(msg, noticeKeys.Dismiss) {
			if m.ctx.ws.wait != "" {
				m.ctx.ws.wait = ""
			} else {
				m.ctx.ws.dismissed = m.ctx.ws.classroom.NoticeID
			}
		}
		return nil, !key.Matches(msg, appKeys.Interrupt)
	case openLessonMsg:
		return nil, m.holdPaced(msg.index)
	case openSectionMsg:
		return nil, m.holdPaced(msg.index)
	case openQuizMsg:
		return nil, m.holdPaced(msg.index)
	}
	return nil, false
}

// holdPaced keeps a lesson the class has not reached closed, saying why.
func (m *Model) holdPaced(i int) bool {
	if !m.ctx.ws.classroom.Paced(i) {
		return false
	}
	l := m.ctx.course.Lessons[i]
	m.ctx.ws.wait = fmt.Sprintf("Lesson %d, %s, waits for the instructor: the class goes as far as lesson %d for now.",
		l.Order, l.Title, m.ctx.course.Lessons[m.ctx.ws.classroom.PaceThrough-1].Order)
	return true
}

// leavePaced takes the learner back to the map from a lesson the class
// has not reached (the course reopened there, or the pace went back).
func (m *Model) leavePaced() {
	i := -1
	switch m.active {
	case readerScreen:
		i = m.reader.index
	case quizScreen:
		i = m.quiz.index
	}
	if i >= 0 && m.holdPaced(i) {
		m.reader.live.stop()
		m.cmap.selectLesson(i)
		m.show(mapScreen)
	}
}

// noticeShown reports whether a notice covers the screen.
func (m Model) noticeShown() bool {
	c := m.ctx.ws.classroom
	return m.ctx.ws.wait != "" || (c.Notice != "" && c.NoticeID != m.ctx.ws.dismissed)
}

// noticeView is the notice, boxed in the middle of the screen.
func (m Model) noticeView() string {
	text, title := m.ctx.ws.wait, "Not yet"
	if text == "" {
		text, title = m.ctx.ws.classroom.Notice, "From your instructor"
	}
	w := min(max(m.ctx.width-8, 20), 72)
	body := m.ctx.styles.Title.Render(title) + "\n\n" + wrapWhole(text, w-4) + "\n\n" +
		m.ctx.styles.Subtle.Render("enter: dismiss")
	box := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1).Width(w).Render(body)
	return lipgloss.Place(m.ctx.width, m.ctx.height, lipgloss.Center, lipgloss.Center, box)
}

// noteActivity keeps what msg says the learner did, and where they are
// after it, and writes the activity when that changed.
func (m *Model) noteActivity(msg tea.Msg) tea.Cmd {
	w := m.ctx.opts.Workshop
	if w == nil || w.ActivityPath == "" {
		return nil
	}
	a := &m.ctx.ws.activity
	changed := false
	now := m.ctx.now()
	switch msg := msg.(type) {
	case checkedMsg:
		detail := msg.verdict.Detail
		if msg.err != nil {
			detail = msg.err.Error()
		}
		a.AddCheck(lessons.CheckRun{Lesson: msg.lesson, Challenge: msg.challenge,
			Passed: msg.err == nil && msg.verdict.Passed, Detail: firstLine(detail), At: now})
		changed = true
	case hintShownMsg:
		if a.Hints == nil {
			a.Hints = map[string]int{}
		}
		a.Hints[msg.lesson+"/"+msg.challenge] = max(a.Hints[msg.lesson+"/"+msg.challenge], msg.shown)
		changed = true
	case solutionShownMsg:
		if k := msg.lesson + "/" + msg.challenge; !slices.Contains(a.Solutions, k) {
			a.Solutions = append(a.Solutions, k)
			changed = true
		}
	}
	screen, lesson := m.where()
	if screen != a.Screen || lesson != a.Lesson {
		a.Screen, a.Lesson, a.Since = screen, lesson, now
		changed = true
	}
	if !changed {
		return nil
	}
	snap := *a
	snap.Checks = slices.Clone(a.Checks)
	snap.Solutions = slices.Clone(a.Solutions)
	snap.Hints = make(map[string]int, len(a.Hints))
	for k, v := range a.Hints {
		snap.Hints[k] = v
	}
	m.ctx.ws.seq++
	seq := m.ctx.ws.seq
	return func() tea.Msg {
		w.mu.Lock()
		defer w.mu.Unlock()
		if seq < w.written {
			return nil // a newer one is on disk
		}
		// A lost activity write costs the dashboard a moment's view,
		// never progress: the next change writes it whole again.
		_ = lessons.WriteJSON(w.ActivityPath, snap, 0o644)
		w.written = seq
		return nil
	}
}

// where names the screen on top and its lesson, for the activity.
func (m Model) where() (screen, lesson string) {
	names := [screenCount]string{mapScreen: "map", readerScreen: "reader", quizScreen: "quiz",
		reviewScreen: "review", searchScreen: "search", examScreen: "exam", quitScreen: "quit"}
	switch m.active {
	case readerScreen:
		if id, _, ok := m.reader.place(); ok {
			return names[m.active], id
		}
	case quizScreen:
		if m.quiz.index >= 0 && m.quiz.index < len(m.ctx.course.Lessons) {
			return names[m.active], m.ctx.course.Lessons[m.quiz.index].ID
		}
	}
	return names[m.active], ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
