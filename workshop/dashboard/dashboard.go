// Package dashboard is the instructor's view of a workshop class in the
// terminal (issue "The instructor's dashboard"; it serves no lesson but
// the teaching of them all): a live table of the students, a student's
// detail, the class per lesson, and the instructor's actions, each
// confirmed.
//
// It reads the class from a roster.Roster and redraws when the roster
// says something changed (coalesced: thirty students answering at once
// are one redraw), never on a timer of its own.
package dashboard

import (
	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/workshop/roster"
)

// Actions are what the instructor may do; the server logs each with who.
type Actions interface {
	Broadcast(msg string) error
	Pace(through int) error
	StopSandboxes(name string) error
	ResetLab(name string) error
	EndSession() error
}

// screen is one view of the dashboard, in the shape tui's screens have:
// the root gives it its size and the messages it does not handle.
type screen interface {
	help.KeyMap
	setSize(width, height int)
	update(msg tea.Msg) tea.Cmd
	view() string
}

type screenID int

const (
	tableScreen screenID = iota
	detailScreen
	lessonsScreen
	askScreen
	screenCount
)

// Model is the dashboard's root.
type Model struct {
	ctx     *common
	screens [screenCount]screen
	active  screenID
	// back is where the ask screen returns.
	back  screenID
	table *table
	ask   *ask
	help  help.Model
}

// common is what every screen reads.
type common struct {
	roster  *roster.Roster
	course  *lessons.Course
	actions Actions
	class   []roster.Student
	lessons []roster.LessonStats
	// status is the latest action's outcome, shown in the footer.
	status        string
	width, height int
	changes       <-chan struct{}
	unsubscribe   func()
	// endOnQuit: leaving ends the workshop (EndsWorkshop).
	endOnQuit bool
	// pending is navigation a screen asked for, done by the root as
	// soon as the screen's update returns: a key typed right after
	// (esc, then b) must find the next screen already on top.
	pending []tea.Msg
}

// nav asks the root to move; it returns no command.
func (c *common) nav(msg tea.Msg) tea.Cmd {
	c.pending = append(c.pending, msg)
	return nil
}

// Navigation and results, sent by the screens.
type (
	changedMsg    struct{}
	openDetailMsg struct{ name string }
	openLessons   struct{}
	backMsg       struct{}
	askMsg        struct{ q question }
	doneMsg       struct{ status string }
)

// New builds the dashboard over r.
func New(r *roster.Roster, c *lessons.Course, a Actions) Model {
	ctx := &common{roster: r, course: c, actions: a, width: 80, height: 24}
	ctx.changes, ctx.unsubscribe = r.Subscribe()
	ctx.refresh()
	m := Model{ctx: ctx, help: help.New()}
	m.table = newTable(ctx)
	m.ask = &ask{ctx: ctx}
	m.screens = [screenCount]screen{tableScreen: m.table, detailScreen: &detail{ctx: ctx}, lessonsScreen: &lessonView{ctx: ctx}, askScreen: m.ask}
	m.resize()
	return m
}

// EndsWorkshop is the dashboard at the server's own terminal (serve
// --dashboard), whose leaving ends the workshop for everyone: q and
// ctrl+c ask the end question, and only a yes ends it, through
// Actions.EndSession (which logs it).
func (m Model) EndsWorkshop() Model {
	m.ctx.endOnQuit = true
	return m
}

func (c *common) refresh() {
	c.class = c.roster.Class()
	c.lessons = c.roster.Lessons()
}

// waitChange returns once the roster has changed.
func (c *common) waitChange() tea.Cmd {
	ch := c.changes
	return func() tea.Msg {
		<-ch
		return changedMsg{}
	}
}

// Init starts following the roster.
func (m Model) Init() tea.Cmd { return m.ctx.waitChange() }

var rootKeys = struct {
	Quit, Interrupt, Help key.Binding
}{
	Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
	Interrupt: key.NewBinding(key.WithKeys("ctrl+c")),
	Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
}

// Update handles what is the root's and passes the rest on.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.ctx.width, m.ctx.height = msg.Width, msg.Height
		m.resize()
		return m, nil
	case changedMsg:
		m.ctx.refresh()
		m.table.sortAndFilter()
		return m, m.ctx.waitChange()
	case openDetailMsg:
		m.screens[detailScreen] = &detail{ctx: m.ctx, name: msg.name}
		m.show(detailScreen)
		return m, nil
	case openLessons:
		m.show(lessonsScreen)
		return m, nil
	case backMsg:
		m.show(m.back)
		return m, nil
	case askMsg:
		m.back = m.active
		m.ask.start(msg.q)
		m.show(askScreen)
		return m, nil
	case doneMsg:
		m.ctx.status = msg.status
		return m, nil
	case tea.KeyPressMsg:
		if m.ctx.endOnQuit && m.active != askScreen && (key.Matches(msg, rootKeys.Interrupt) ||
			key.Matches(msg, rootKeys.Quit) && m.active == tableScreen && !m.typing()) {
			return m.Update(askMsg{endQuestion(m.ctx)})
		}
		if key.Matches(msg, rootKeys.Interrupt) && !m.ctx.endOnQuit {
			m.ctx.unsubscribe()
			return m, tea.Quit
		}
		if !m.typing() {
			if key.Matches(msg, rootKeys.Quit) && m.active == tableScreen && !m.ctx.endOnQuit {
				m.ctx.unsubscribe()
				return m, tea.Quit
			}
			if key.Matches(msg, rootKeys.Help) {
				m.help.ShowAll = !m.help.ShowAll
				m.resize()
				return m, nil
			}
		}
	}
	cmd := m.screens[m.active].update(msg)
	for len(m.ctx.pending) > 0 {
		next := m.ctx.pending[0]
		m.ctx.pending = m.ctx.pending[1:]
		var more tea.Cmd
		var tm tea.Model
		tm, more = m.Update(next)
		m = tm.(Model)
		cmd = tea.Batch(cmd, more)
	}
	return m, cmd
}

// typing reports whether the screen on top takes keys as text.
func (m Model) typing() bool {
	t, ok := m.screens[m.active].(interface{ typing() bool })
	return ok && t.typing()
}

func (m *Model) show(s screenID) {
	if s != askScreen {
		m.back = tableScreen
	}
	m.active = s
	m.resize()
}

func (m *Model) resize() {
	h := max(m.ctx.height-lipgloss.Height(m.footer()), 1)
	for _, s := range m.screens {
		s.setSize(m.ctx.width, h)
	}
}

// View draws the screen on top and the footer: the keys, and the last
// action's outcome.
func (m Model) View() tea.View {
	h := max(m.ctx.height-lipgloss.Height(m.footer()), 1)
	body := lipgloss.NewStyle().Height(h).MaxHeight(h).MaxWidth(m.ctx.width).Render(m.screens[m.active].view())
	v := tea.NewView(body + "\n" + m.footer())
	v.AltScreen = true
	v.WindowTitle = "kcna-lab: the class"
	return v
}

func (m Model) footer() string {
	k := m.screens[m.active]
	hm := m.help
	hm.SetWidth(m.ctx.width)
	f := hm.ShortHelpView(append(k.ShortHelp(), rootKeys.Help))
	if m.help.ShowAll {
		f = hm.FullHelpView(k.FullHelp())
	}
	if m.ctx.status != "" {
		f = statusStyle.Render(truncate(m.ctx.status, m.ctx.width)) + "\n" + f
	}
	return f
}
