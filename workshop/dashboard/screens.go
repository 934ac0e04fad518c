package dashboard

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/workshop/roster"
)

var (
	titleStyle  = lipgloss.NewStyle().Bold(true)
	headStyle   = lipgloss.NewStyle().Bold(true).Underline(true)
	stuckStyle  = lipgloss.NewStyle().Foreground(lipgloss.Color("9")).Bold(true)
	selStyle    = lipgloss.NewStyle().Reverse(true)
	subtle      = lipgloss.NewStyle().Faint(true)
	statusStyle = lipgloss.NewStyle().Foreground(lipgloss.Color("11"))
)

func truncate(s string, w int) string { return ansi.Truncate(s, max(w, 1), "…") }

// ---- the class table ----

var tableKeys = struct {
	Up, Down, Open, Sort, Filter, Lessons, Broadcast, Pace, Stop, Reset, End key.Binding
}{
	Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑", "up")),
	Down:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓", "down")),
	Open:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "student")),
	Sort:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
	Filter:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
	Lessons:   key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "lessons")),
	Broadcast: key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "broadcast")),
	Pace:      key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pace")),
	Stop:      key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "stop sandboxes")),
	Reset:     key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "reset lab")),
	End:       key.NewBinding(key.WithKeys("E"), key.WithHelp("E", "end for all")),
}

// sortKeys are the table's orders, s cycles through them.
var sortKeys = []string{"name", "stuck", "progress", "lesson"}

type table struct {
	ctx           *common
	rows          []roster.Student
	cursor        int
	sortBy        int
	filter        textinput.Model
	filtering     bool
	width, height int
}

func newTable(ctx *common) *table {
	t := &table{ctx: ctx, filter: textinput.New()}
	t.filter.Prompt = "/"
	t.sortAndFilter()
	return t
}

func (t *table) typing() bool { return t.filtering }

func (t *table) setSize(w, h int) { t.width, t.height = w, h }

// sortAndFilter lays the rows out from the class, keeping the cursor on
// the same student.
func (t *table) sortAndFilter() {
	keep := ""
	if t.cursor < len(t.rows) {
		keep = t.rows[t.cursor].Name
	}
	f := strings.ToLower(t.filter.Value())
	t.rows = t.rows[:0]
	for _, s := range t.ctx.class {
		if f == "" || strings.Contains(s.Name, f) || strings.Contains(strings.ToLower(s.StuckWhy), f) || strings.Contains(s.Lesson, f) {
			t.rows = append(t.rows, s)
		}
	}
	by := sortKeys[t.sortBy]
	sort.SliceStable(t.rows, func(i, j int) bool {
		a, b := t.rows[i], t.rows[j]
		switch by {
		case "stuck":
			if a.Stuck != b.Stuck {
				return a.Stuck
			}
		case "progress":
			if a.LessonsDone != b.LessonsDone {
				return a.LessonsDone < b.LessonsDone
			}
			if a.QuizRight != b.QuizRight {
				return a.QuizRight < b.QuizRight
			}
		case "lesson":
			if a.Order != b.Order {
				return a.Order < b.Order
			}
		}
		return a.Name < b.Name
	})
	t.cursor = 0
	for i, s := range t.rows {
		if s.Name == keep {
			t.cursor = i
		}
	}
}

func (t *table) selected() (roster.Student, bool) {
	if t.cursor < len(t.rows) {
		return t.rows[t.cursor], true
	}
	return roster.Student{}, false
}

func (t *table) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	if t.filtering {
		switch km.String() {
		case "enter":
			t.filtering = false
			t.filter.Blur()
		case "esc":
			t.filtering = false
			t.filter.Blur()
			t.filter.SetValue("")
		default:
			var cmd tea.Cmd
			t.filter, cmd = t.filter.Update(msg)
			t.sortAndFilter()
			return cmd
		}
		t.sortAndFilter()
		return nil
	}
	s, has := t.selected()
	switch {
	case key.Matches(km, tableKeys.Up):
		t.cursor = max(t.cursor-1, 0)
	case key.Matches(km, tableKeys.Down):
		t.cursor = min(t.cursor+1, max(len(t.rows)-1, 0))
	case key.Matches(km, tableKeys.Sort):
		t.sortBy = (t.sortBy + 1) % len(sortKeys)
		t.sortAndFilter()
	case key.Matches(km, tableKeys.Filter):
		t.filtering = true
		return t.filter.Focus()
	case key.Matches(km, tableKeys.Open) && has:
		return t.ctx.nav(openDetailMsg{name: s.Name})
	case key.Matches(km, tableKeys.Lessons):
		return t.ctx.nav(openLessons{})
	case key.Matches(km, tableKeys.Broadcast):
		return t.ctx.nav(askMsg{broadcastQuestion(t.ctx)})
	case key.Matches(km, tableKeys.Pace):
		return t.ctx.nav(askMsg{paceQuestion(t.ctx)})
	case key.Matches(km, tableKeys.Stop) && has:
		return t.ctx.nav(askMsg{stopQuestion(t.ctx, s.Name)})
	case key.Matches(km, tableKeys.Reset) && has:
		return t.ctx.nav(askMsg{resetQuestion(t.ctx, s.Name)})
	case key.Matches(km, tableKeys.End):
		return t.ctx.nav(askMsg{endQuestion(t.ctx)})
	}
	return nil
}

func (t *table) ShortHelp() []key.Binding {
	return []key.Binding{tableKeys.Open, tableKeys.Filter, tableKeys.Sort, tableKeys.Lessons, tableKeys.Broadcast, rootKeys.Quit}
}

func (t *table) FullHelp() [][]key.Binding {
	return [][]key.Binding{{tableKeys.Up, tableKeys.Down, tableKeys.Open, tableKeys.Filter, tableKeys.Sort, tableKeys.Lessons},
		{tableKeys.Broadcast, tableKeys.Pace, tableKeys.Stop, tableKeys.Reset, tableKeys.End, rootKeys.Quit}}
}

func (t *table) view() string {
	var b strings.Builder
	connected, stuck := 0, 0
	for _, s := range t.ctx.class {
		if s.Connected {
			connected++
		}
		if s.Stuck {
			stuck++
		}
	}
	fmt.Fprintf(&b, "%s  %d students, %d connected, %d stuck   sorted by %s\n", titleStyle.Render("The class"), len(t.ctx.class), connected, stuck, sortKeys[t.sortBy])
	if t.filtering || t.filter.Value() != "" {
		b.WriteString(t.filter.View() + "\n")
	}
	b.WriteString(headStyle.Render(truncate(fmt.Sprintf("%-14s %-7s %-18s %5s %6s %4s %5s %5s %5s %s", "NAME", "SEEN", "WHERE", "DONE", "QUIZ", "CHAL", "HINTS", "FAILS", "MEM", "STUCK"), t.width)) + "\n")
	rows := max(t.height-lipgloss.Height(b.String()), 1)
	first := max(0, t.cursor-rows+1)
	for i := first; i < len(t.rows) && i < first+rows; i++ {
		line := truncate(t.row(t.rows[i]), t.width)
		switch {
		case i == t.cursor:
			line = selStyle.Render(line)
		case t.rows[i].Stuck:
			line = stuckStyle.Render(line)
		}
		b.WriteString(line + "\n")
	}
	switch {
	case len(t.ctx.class) == 0:
		b.WriteString(subtle.Render("no students yet: each joins with ssh -p PORT NAME@THIS-HOST") + "\n")
	case len(t.rows) == 0:
		b.WriteString(subtle.Render("no student matches the filter") + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func (t *table) row(s roster.Student) string {
	where := s.Screen
	if s.Order > 0 {
		where = fmt.Sprintf("%d %s", s.Order, s.Screen)
	}
	stuck := ""
	if s.Stuck {
		stuck = "! " + s.StuckWhy
	}
	return fmt.Sprintf("%-14s %-7s %-18s %5d %6s %4d %5s %5d %5s %s", truncate(s.Name, 14), seen(s), truncate(where, 18),
		s.LessonsDone, fmt.Sprintf("%d/%d", s.QuizRight, s.QuizAnswered), s.Challenges,
		fmt.Sprintf("%d/%d", s.Hints, s.Solutions), s.FailedInARow, memory(s), stuck)
}

func seen(s roster.Student) string {
	switch {
	case s.Connected:
		return "now"
	case s.LastSeen.IsZero():
		return "never"
	}
	return ago(time.Since(s.LastSeen))
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%dh", int(d.Hours()))
}

func memory(s roster.Student) string {
	if !s.Lab {
		return "-"
	}
	return strconv.FormatInt(s.MemoryBytes>>20, 10) + "M"
}

// ---- one student ----

var backKey = key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back"))

type detail struct {
	ctx           *common
	name          string
	width, height int
}

func (d *detail) setSize(w, h int) { d.width, d.height = w, h }

func (d *detail) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, backKey):
		return d.ctx.nav(backMsg{})
	case key.Matches(km, tableKeys.Stop):
		return d.ctx.nav(askMsg{stopQuestion(d.ctx, d.name)})
	case key.Matches(km, tableKeys.Reset):
		return d.ctx.nav(askMsg{resetQuestion(d.ctx, d.name)})
	}
	return nil
}

func (d *detail) ShortHelp() []key.Binding {
	return []key.Binding{tableKeys.Stop, tableKeys.Reset, backKey}
}
func (d *detail) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }

func (d *detail) view() string {
	var s roster.Student
	for _, x := range d.ctx.class {
		if x.Name == d.name {
			s = x
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s  seen %s, at %s\n", titleStyle.Render(d.name), seen(s), orDash(strings.TrimSpace(fmt.Sprintf("%s %s", s.Lesson, s.Screen))))
	fmt.Fprintf(&b, "lessons read %d, done %d; quiz %d right of %d answered (%d in the course); challenges %d; hints %d; solutions shown %d\n",
		s.LessonsRead, s.LessonsDone, s.QuizRight, s.QuizAnswered, s.QuizTotal, s.Challenges, s.Hints, s.Solutions)
	if s.Stuck {
		b.WriteString(stuckStyle.Render("stuck: "+s.StuckWhy) + "\n")
	}
	b.WriteString("\n" + headStyle.Render("Last checks") + "\n")
	if len(s.Checks) == 0 {
		b.WriteString(subtle.Render("none yet") + "\n")
	}
	for i := len(s.Checks) - 1; i >= 0 && i >= len(s.Checks)-8; i-- {
		c := s.Checks[i]
		v := "not yet"
		if c.Passed {
			v = "passed "
		}
		b.WriteString(truncate(fmt.Sprintf("%s  %-7s %s/%s  %s", c.At.Local().Format("15:04:05"), v, c.Lesson, c.Challenge, c.Detail), d.width) + "\n")
	}
	b.WriteString("\n" + headStyle.Render("Sandboxes") + fmt.Sprintf("  (lab memory %s)", memory(s)) + "\n")
	if len(s.Sandboxes) == 0 {
		b.WriteString(subtle.Render("none running") + "\n")
	}
	for _, sb := range s.Sandboxes {
		mem := "-"
		if sb.MemoryBytes > 0 {
			mem = strconv.FormatInt(sb.MemoryBytes>>20, 10) + "M"
		}
		b.WriteString(truncate(fmt.Sprintf("%-16s %6s  up %-5s %s", sb.Name, mem, ago(time.Since(sb.Created)), sb.Command), d.width) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ---- the class per lesson ----

type lessonView struct {
	ctx           *common
	scroll        int
	width, height int
}

func (l *lessonView) setSize(w, h int) { l.width, l.height = w, h }

func (l *lessonView) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, backKey):
		return l.ctx.nav(backMsg{})
	case key.Matches(km, tableKeys.Up):
		l.scroll = max(l.scroll-1, 0)
	case key.Matches(km, tableKeys.Down):
		l.scroll++
	case key.Matches(km, tableKeys.Pace):
		return l.ctx.nav(askMsg{paceQuestion(l.ctx)})
	}
	return nil
}

func (l *lessonView) ShortHelp() []key.Binding {
	return []key.Binding{tableKeys.Up, tableKeys.Down, tableKeys.Pace, backKey}
}
func (l *lessonView) FullHelp() [][]key.Binding { return [][]key.Binding{l.ShortHelp()} }

func (l *lessonView) view() string {
	n := len(l.ctx.class)
	var lines []string
	for _, ls := range l.ctx.lessons {
		lines = append(lines, titleStyle.Render(fmt.Sprintf("%2d %s", ls.Order, ls.Title))+
			fmt.Sprintf("   read %d/%d, quiz passed %d/%d", ls.Read, n, ls.QuizPassed, n))
		for _, c := range ls.Challenges {
			lines = append(lines, fmt.Sprintf("     challenge %s: %d/%d passed", c.Title, c.Passed, n))
		}
		for i, m := range ls.Missed {
			if i == 3 {
				break
			}
			lines = append(lines, truncate(fmt.Sprintf("     missed by %d of %d: %s", m.Wrong, m.Answered, m.Prompt), l.width))
		}
	}
	l.scroll = min(l.scroll, max(len(lines)-l.height+1, 0))
	head := headStyle.Render("The class per lesson")
	end := min(len(lines), l.scroll+l.height-1)
	return head + "\n" + strings.Join(lines[l.scroll:end], "\n")
}
