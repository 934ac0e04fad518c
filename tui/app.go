package tui

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Model is the root model: it owns the context and routes messages to the
// screen on top.
type Model struct {
	ctx    *common
	screen screen
	cmap   *courseMap
	reader *reader
	quiz   *quiz
	exam   *mockExam
	help   help.Model
	// now is the clock, replaceable in tests.
	now func() time.Time
}

type screen int

const (
	mapScreen screen = iota
	readerScreen
	quizScreen
	examScreen
)

// Navigation between screens, sent by the screens as commands.
type (
	openLessonMsg struct{ index int }
	openQuizMsg   struct{ index int }
	backMsg       struct{}
	// saveMsg asks the root to save progress; savedMsg reports the result.
	saveMsg  struct{}
	savedMsg struct{ err error }
)

// New builds the app for o.
func New(o Options) Model {
	ctx := newCommon(o)
	m := Model{ctx: ctx, help: help.New(), now: time.Now}
	m.cmap = newCourseMap(ctx)
	m.reader = newReader(ctx)
	m.quiz = newQuiz(ctx)
	m.exam = newMockExam(ctx)
	m.help.Styles = help.DefaultStyles(ctx.dark)
	m.resize()
	return m
}

// Init asks the terminal for its background so the lesson style matches it.
func (m Model) Init() tea.Cmd {
	return tea.RequestBackgroundColor
}

// Update routes msg.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.ctx.width, m.ctx.height = msg.Width, msg.Height
		m.resize()
		return m, nil
	case tea.BackgroundColorMsg:
		if m.ctx.dark != msg.IsDark() {
			m.ctx.dark = msg.IsDark()
			m.restyle()
		}
		return m, nil
	case tea.ColorProfileMsg:
		if m.ctx.profile != msg.Profile {
			m.ctx.profile = msg.Profile
			m.restyle()
		}
		return m, nil
	case tea.KeyPressMsg:
		if msg.String() == "ctrl+c" {
			m.reader.live.stop()
			return m, tea.Quit
		}
		if key.Matches(msg, m.ctx.keys.Help) {
			m.help.ShowAll = !m.help.ShowAll
			m.resize()
			return m, nil
		}
		if m.screen == mapScreen && key.Matches(msg, m.ctx.keys.Quit) {
			return m, tea.Quit
		}
		if m.screen == mapScreen && key.Matches(msg, m.ctx.keys.Exam) {
			m.screen = examScreen
			return m, m.exam.open(m.now())
		}
	case openLessonMsg:
		m.screen = readerScreen
		changed := m.reader.open(msg.index, m.now())
		if changed {
			return m, m.save()
		}
		return m, nil
	case openQuizMsg:
		m.screen = quizScreen
		m.quiz.start(msg.index)
		return m, nil
	case backMsg:
		m.reader.live.stop()
		m.screen = mapScreen
		m.cmap.refresh()
		return m, nil
	case saveMsg:
		return m, m.save()
	case savedMsg:
		m.ctx.saveErr = msg.err
		return m, nil
	}
	var cmd tea.Cmd
	switch m.screen {
	case mapScreen:
		cmd = m.cmap.update(msg)
	case readerScreen:
		cmd = m.reader.update(msg)
	case quizScreen:
		cmd = m.quiz.update(msg, m.now())
	case examScreen:
		cmd = m.exam.update(msg, m.now())
	}
	return m, cmd
}

// save writes a snapshot of progress in the background.
func (m Model) save() tea.Cmd {
	s := m.ctx.opts.Saver
	if s == nil {
		return nil
	}
	snap := m.ctx.progress.Clone()
	return func() tea.Msg { return savedMsg{err: s.Save(snap)} }
}

// View draws the screen on top, the footer below it.
func (m Model) View() tea.View {
	var body string
	switch m.screen {
	case mapScreen:
		body = m.cmap.view()
	case readerScreen:
		body = m.reader.view()
	case quizScreen:
		body = m.quiz.view()
	case examScreen:
		body = m.exam.view()
	}
	body = lipgloss.NewStyle().Height(m.bodyHeight()).MaxHeight(m.bodyHeight()).Render(body)
	v := tea.NewView(body + "\n" + m.footer())
	v.AltScreen = true
	v.WindowTitle = "kcna-lab"
	return v
}

func (m Model) footer() string {
	var k helpKeys
	switch m.screen {
	case mapScreen:
		k = withExamKey(m.cmap.keys(), m.ctx.keys.Exam)
	case readerScreen:
		k = m.reader.keys()
	case quizScreen:
		k = m.quiz.keys()
	case examScreen:
		k = m.exam.keyHelp()
	}
	// bubbles/help can overflow when even its ellipsis does not fit.
	f := truncate(m.help.View(k), m.ctx.width)
	if m.ctx.saveErr != nil {
		f = m.ctx.styles.Wrong.Render("progress not saved: "+m.ctx.saveErr.Error()) + "\n" + f
	}
	return f
}

// bodyHeight is what is left above the footer.
func (m Model) bodyHeight() int {
	return max(m.ctx.height-lipgloss.Height(m.footer())-1, 3)
}

func (m *Model) resize() {
	m.help.SetWidth(m.ctx.width)
	h := m.bodyHeight()
	m.cmap.setSize(m.ctx.width, h)
	m.reader.setSize(m.ctx.width, h)
	m.quiz.setSize(m.ctx.width, h)
	m.exam.setSize(m.ctx.width, h)
}

func (m *Model) restyle() {
	m.ctx.styles = newStyles(m.ctx.dark)
	m.help.Styles = help.DefaultStyles(m.ctx.dark)
	m.resize() // re-renders the open lesson in the new style
}

// truncate cuts every line of s to width cells, so nothing wraps and pushes
// the footer off the screen.
func truncate(s string, width int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if lipgloss.Width(l) > width {
			lines[i] = ansi.Truncate(l, width, "")
		}
	}
	return strings.Join(lines, "\n")
}
