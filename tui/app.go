package tui

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Model is the root model. It owns the shared context, holds every screen
// behind one interface, and handles what is not a screen's: size, colours,
// the help toggle, moving between screens, progress and quitting. Every
// other message goes to the screen it is for (owner): a screen's own
// results to that screen, keys to the screen on top.
type Model struct {
	ctx     *common
	screens [screenCount]screen
	active  screenID
	// The screens by their own types, for what the root asks of each
	// when it moves between them.
	cmap   *courseMap
	reader *reader
	quiz   *quiz
	review *quiz
	search *search
	exam   *mockExam
	quit   *quitPrompt
	help   help.Model
}

// New builds the app for o. When progress holds a place in a lesson the
// course still has, the app opens there, unless there is a notice to read
// on the course map first.
func New(o Options) Model {
	ctx := newCommon(o)
	m := Model{ctx: ctx, help: help.New()}
	m.cmap = newCourseMap(ctx)
	m.reader = newReader(ctx)
	m.quiz = newQuiz(ctx)
	m.review = newQuiz(ctx)
	m.search = newSearch(ctx)
	m.exam = newMockExam(ctx)
	m.quit = newQuitPrompt(ctx)
	m.screens = [screenCount]screen{mapScreen: m.cmap, readerScreen: m.reader, quizScreen: m.quiz,
		reviewScreen: m.review, searchScreen: m.search, examScreen: m.exam, quitScreen: m.quit}
	m.help.Styles = help.DefaultStyles(ctx.dark)
	m.resize()
	if i, scroll, ok := m.lastPlace(); ok {
		m.cmap.selectLesson(i)
		if o.Notice == "" {
			m.active = readerScreen
			m.reader.open(i)
			m.reader.setScroll(scroll)
		}
	}
	return m
}

// lastPlace is the lesson progress says the learner was in, if the
// course still has it.
func (m Model) lastPlace() (index int, scroll float64, ok bool) {
	pl := m.ctx.progress.Place
	if pl == nil {
		return 0, 0, false
	}
	for i, l := range m.ctx.course.Lessons {
		if l.ID == pl.Lesson {
			return i, pl.Scroll, true
		}
	}
	return 0, 0, false
}

// Init asks the terminal for its background so the lesson style matches
// it, and the lab which lessons' challenges this host cannot run if that
// already decides a status (askLimits).
func (m Model) Init() tea.Cmd {
	return tea.Batch(tea.RequestBackgroundColor, m.askLimits(), m.workshopInit())
}

// Update handles what is the root's and passes everything else to the
// screen it is for.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd, done := m.workshopMsg(msg)
	if !done {
		if cmd, done = m.handle(msg); !done {
			cmd = m.screens[m.owner(msg)].update(msg)
		}
	}
	return m, tea.Batch(cmd, m.noteActivity(msg))
}

// owner is the screen msg is for. The results of work a screen started
// (a demo's events, a check's verdict, a setup's outcome, the end of a
// shell, the progress they make) go back to that screen whichever is on
// top: dropped by another, a demo would stall with its next event never
// asked for, and a check would never report. Everything else, keys
// above all, goes to the screen on top.
func (m Model) owner(msg tea.Msg) screenID {
	switch msg.(type) {
	case liveMsg, shellDoneMsg, checkedMsg, setUpMsg, challengePassedMsg, demoRunMsg:
		return readerScreen
	case answeredMsg:
		return quizScreen
	case examTakenMsg:
		return examScreen
	}
	return m.active
}

// handle is the root's part of Update; done is false for a message the
// screen on top should have.
func (m *Model) handle(msg tea.Msg) (cmd tea.Cmd, done bool) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.ctx.width, m.ctx.height = msg.Width, msg.Height
		m.resize()
	case tea.BackgroundColorMsg:
		if m.ctx.dark != msg.IsDark() {
			m.ctx.dark = msg.IsDark()
			m.restyle()
		}
	case tea.ColorProfileMsg:
		if m.ctx.profile != msg.Profile {
			m.ctx.profile = msg.Profile
			m.restyle()
		}
	case tea.KeyPressMsg:
		// ctrl+c quits even while the learner types (a filter, say): it
		// is not a key anyone types into a field.
		if key.Matches(msg, appKeys.Interrupt) {
			m.keepPlace()
			m.reader.live.stop()
			return tea.Quit, true
		}
		if t, ok := m.screens[m.active].(typist); ok && t.typing() {
			return nil, false
		}
		if key.Matches(msg, appKeys.Help) {
			m.help.ShowAll = !m.help.ShowAll
			m.resize()
			return nil, true
		}
		return nil, false
	case openLessonMsg:
		return m.openLesson(msg.index, ""), true
	case openSectionMsg:
		return m.openLesson(msg.index, msg.section), true
	case resumeLessonMsg:
		m.show(readerScreen)
	case openQuizMsg:
		changed := m.keepPlace()
		m.quiz.start(msg.index)
		m.show(quizScreen)
		if changed {
			return m.save(), true
		}
	case openReviewMsg:
		m.review.startReview()
		m.show(reviewScreen)
	case openQuestionMsg:
		m.review.startQuestion(msg.q)
		m.show(reviewScreen)
	case openSearchMsg:
		m.search.open()
		m.show(searchScreen)
	case limitsMsg:
		m.ctx.cannotRun = msg.why
		m.resize()
	case openExamMsg:
		cmd := m.exam.open(m.ctx.now())
		m.show(examScreen)
		return cmd, true
	case backMsg:
		changed := m.active == readerScreen && m.keepPlace()
		m.reader.live.stop()
		// The map's cursor goes to the lesson just left; from the exam
		// or the quit question it stays where it was.
		switch m.active {
		case readerScreen:
			m.cmap.selectLesson(m.reader.index)
		case quizScreen:
			m.cmap.selectLesson(m.quiz.index)
		}
		m.show(mapScreen)
		if changed {
			return m.save(), true
		}
	case quitMsg:
		return m.askQuit(), true
	case keptMsg:
		if len(msg.names) == 0 {
			return m.quitNow(), true // others' sandboxes are not ours to ask about
		}
		m.quit.ask(msg.names, msg.others)
		m.show(quitScreen)
	case quitNowMsg:
		return m.quitNow(), true
	case savedMsg:
		m.ctx.saveErr = msg.err
	default:
		if m.record(msg) {
			return tea.Batch(m.save(), m.askLimits(), m.screens[m.owner(msg)].update(msg)), true
		}
		return nil, false
	}
	return nil, true
}

// openLesson opens lesson i, at section when it is not "", and marks
// it read.
func (m *Model) openLesson(i int, section string) tea.Cmd {
	changed := m.keepPlace()
	m.reader.open(i)
	m.reader.seek(section)
	m.show(readerScreen)
	if m.ctx.progress.MarkRead(m.ctx.course.Lessons[i], m.ctx.now()) || changed {
		return tea.Batch(m.save(), m.askLimits())
	}
	return nil
}

// show puts screen s on top. The footer may change height with it.
func (m *Model) show(s screenID) {
	m.active = s
	m.resize()
}

// askQuit looks for sandboxes still running before quitting: lessons
// keep some for their challenges, and nothing should run unnoticed.
func (m Model) askQuit() tea.Cmd {
	list := m.ctx.opts.KeptSandboxes
	if list == nil {
		return m.quitNow()
	}
	return func() tea.Msg {
		names, others, err := list()
		if err != nil {
			return keptMsg{} // the cmd's own listing after quitting says more
		}
		return keptMsg{names: names, others: others}
	}
}

// quitNow stops the live pane, records the place and quits.
func (m Model) quitNow() tea.Cmd {
	m.keepPlace()
	m.reader.live.stop()
	return tea.Quit
}

// View draws the screen on top, the footer below it.
func (m Model) View() tea.View {
	if m.noticeShown() {
		v := tea.NewView(m.noticeView())
		v.AltScreen = true
		v.WindowTitle = "kcna-lab"
		return v
	}
	body := m.screens[m.active].view()
	body = lipgloss.NewStyle().Height(m.bodyHeight()).MaxHeight(m.bodyHeight()).Render(body)
	v := tea.NewView(body + "\n" + m.footer())
	v.AltScreen = true
	v.WindowTitle = "kcna-lab"
	return v
}

// footer is the key help of the screen on top and the latest save error.
func (m Model) footer() string {
	k := m.screens[m.active]
	var f string
	if m.help.ShowAll {
		f = m.help.FullHelpView(fullWithWayOut(k))
	} else {
		f = m.help.ShortHelpView(m.fitShort(k.ShortHelp()))
	}
	// bubbles/help can overflow when even its ellipsis does not fit.
	f = truncate(f, m.ctx.width)
	if m.ctx.saveErr != nil {
		f = m.ctx.styles.Wrong.Render("progress not saved: "+m.ctx.saveErr.Error()) + "\n" + f
	}
	return f
}

// fitShort is a screen's short help with "? more keys" added, less as
// many keys before the way out as it takes to fit the width: the first
// keys (the most needed) go last, the way out and ? always stay.
func (m Model) fitShort(short []key.Binding) []key.Binding {
	keys := slices.Clone(short)
	keep := 1 // the way out
	if t, ok := m.screens[m.active].(typist); !ok || !t.typing() {
		keys = append(keys, appKeys.Help) // while typing, ? is a letter
		keep++
	}
	wide := m.help
	wide.SetWidth(0)
	for len(keys) > keep && lipgloss.Width(wide.ShortHelpView(keys)) > m.ctx.width {
		keys = slices.Delete(keys, len(keys)-keep-1, len(keys)-keep)
	}
	return keys
}

// fullWithWayOut is a screen's full help after a first column of its way
// out and ?, which a narrow footer keeps when it drops the last columns.
func fullWithWayOut(k help.KeyMap) [][]key.Binding {
	short := k.ShortHelp()
	first := []key.Binding{appKeys.Help}
	if len(short) > 0 {
		first = []key.Binding{short[len(short)-1], appKeys.Help}
	}
	groups := [][]key.Binding{first}
	for _, g := range k.FullHelp() {
		g = slices.DeleteFunc(slices.Clone(g), func(b key.Binding) bool { return b.Help() == first[0].Help() })
		if len(g) > 0 {
			groups = append(groups, g)
		}
	}
	return groups
}

// bodyHeight is what is left above the footer.
func (m Model) bodyHeight() int {
	return max(m.ctx.height-lipgloss.Height(m.footer())-1, 3)
}

func (m *Model) resize() {
	m.help.SetWidth(m.ctx.width)
	h := m.bodyHeight()
	for _, s := range m.screens {
		s.setSize(m.ctx.width, h)
	}
}

func (m *Model) restyle() {
	m.ctx.styles = newStyles(m.ctx.dark)
	m.help.Styles = help.DefaultStyles(m.ctx.dark)
	m.resize() // re-renders the open lesson in the new style
}

// readingWidth caps how wide running text is set: past about 100 columns
// lines get hard to follow back to their start.
const readingWidth = 100

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
