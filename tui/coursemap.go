package tui

import (
	"fmt"
	"io"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/list"
	"charm.land/bubbles/v2/paginator"
	"charm.land/bubbles/v2/progress"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// courseMap lists the lessons with their status and the course's progress.
// The list is bubbles/list: it pages when the lessons do not fit, says
// which page is shown, and filters on `/`.
type courseMap struct {
	ctx           *common
	list          list.Model
	bar           progress.Model
	width, height int
	// notice is the start-up notice, shown until the first key.
	notice string
}

// lessonItem is one lesson in the list.
type lessonItem struct {
	index  int
	lesson *lessons.Lesson
}

// FilterValue is what `/` matches: the number, the title and the id.
func (i lessonItem) FilterValue() string {
	return fmt.Sprintf("%d %s %s", i.lesson.Order, i.lesson.Title, i.lesson.ID)
}

func newCourseMap(ctx *common) *courseMap {
	items := make([]list.Item, len(ctx.course.Lessons))
	for i, l := range ctx.course.Lessons {
		items[i] = lessonItem{index: i, lesson: l}
	}
	l := list.New(items, rowDelegate{ctx: ctx}, 80, 20)
	l.SetShowTitle(false)
	l.SetShowHelp(false) // the root's footer shows the keys
	l.SetStatusBarItemName("lesson", "lessons")
	l.DisableQuitKeybindings()
	l.KeyMap.ShowFullHelp.SetEnabled(false) // ? is the root's
	l.KeyMap.CloseFullHelp.SetEnabled(false)
	// A steady cursor in the filter: a blinking one redraws the screen
	// twice a second, for nothing, over a slow SSH link too.
	fs := l.FilterInput.Styles()
	fs.Cursor.Blink = false
	l.FilterInput.SetStyles(fs)
	l.Paginator.Type = paginator.Arabic
	l.Paginator.ArabicFormat = "page %d of %d"
	c := &courseMap{ctx: ctx, list: l, bar: progress.New(progress.WithDefaultBlend()), notice: ctx.opts.Notice}
	c.showFilter()
	return c
}

// showFilter shows the filter line and the count of lessons it matches
// only while there is a filter: the rows are worth more on a small
// terminal.
func (c *courseMap) showFilter() {
	on := c.list.FilterState() != list.Unfiltered
	c.list.SetShowFilter(on)
	c.list.SetShowStatusBar(on)
}

func (c *courseMap) setSize(w, h int) {
	c.width, c.height = w, h
	c.bar.SetWidth(min(w-2, 60))
	c.list.Styles = list.DefaultStyles(c.ctx.dark)
	c.fit()
}

// fit gives the list the height under the header. Twice: bubbles/list
// (v2.2.1) counts the page indicator's lines by the page count it had
// before, so the first pass can leave a page one row too long, and the
// indicator is then cut off the screen.
func (c *courseMap) fit() {
	for range 2 {
		c.list.SetSize(c.width, max(c.height-c.headerHeight(), 3))
	}
}

// headerHeight is the lines above the list: the title, the notice while
// it shows, and the progress bar.
func (c *courseMap) headerHeight() int {
	if c.notice != "" {
		return 4 + strings.Count(wrapWhole(c.notice, max(c.width, 20)), "\n")
	}
	return 2
}

// selectLesson puts the cursor on lesson i, clearing a filter that hides it.
func (c *courseMap) selectLesson(i int) {
	if c.list.IsFiltered() {
		c.list.ResetFilter()
	}
	c.list.Select(i)
}

// typing is true while the learner types a filter.
func (c *courseMap) typing() bool { return c.list.SettingFilter() }

func (c *courseMap) ShortHelp() []key.Binding {
	if c.typing() {
		return []key.Binding{c.list.KeyMap.AcceptWhileFiltering, c.list.KeyMap.CancelWhileFiltering}
	}
	k := c.list.KeyMap
	short := []key.Binding{mapKeys.Open, k.Filter, mapKeys.Exam, mapKeys.Quit}
	if c.list.IsFiltered() {
		short = []key.Binding{mapKeys.Open, k.ClearFilter, mapKeys.Exam, mapKeys.Quit}
	}
	return short
}

func (c *courseMap) FullHelp() [][]key.Binding {
	k := c.list.KeyMap
	return [][]key.Binding{
		{k.CursorUp, k.CursorDown, k.NextPage, k.PrevPage, k.GoToStart, k.GoToEnd},
		{mapKeys.Open, k.Filter, k.ClearFilter, mapKeys.Exam, mapKeys.Quit},
	}
}

func (c *courseMap) update(msg tea.Msg) tea.Cmd {
	if km, ok := msg.(tea.KeyPressMsg); ok {
		if c.notice != "" {
			c.notice = ""
			c.setSize(c.width, c.height)
		}
		if !c.typing() {
			switch {
			case key.Matches(km, mapKeys.Open):
				if it, ok := c.list.SelectedItem().(lessonItem); ok {
					return send(openLessonMsg{index: it.index})
				}
				return nil
			case key.Matches(km, mapKeys.Exam):
				return send(openExamMsg{})
			case key.Matches(km, mapKeys.Quit):
				return send(quitMsg{})
			}
		}
	}
	var cmd tea.Cmd
	c.list, cmd = c.list.Update(msg)
	c.showFilter()
	c.fit() // a filter changes the page count
	return cmd
}

func (c *courseMap) view() string {
	st := c.ctx.styles
	var b strings.Builder
	b.WriteString(st.Title.Render("kcna-lab") + st.Subtle.Render("  Containers and Kubernetes for the KCNA exam") + "\n")
	if c.notice != "" {
		b.WriteString(st.Notice.Render(wrapWhole(c.notice, max(c.width, 20))) + "\n\n")
	}
	b.WriteString(c.bar.ViewAs(c.ctx.progress.Completion(c.ctx.course)) + "\n")
	b.WriteString(c.list.View())
	return truncate(strings.TrimRight(b.String(), "\n"), c.width)
}

// rowDelegate draws a lesson as one row of fixed columns, so that every
// row's status lines up: cursor, number, title, mark, status, quiz score.
type rowDelegate struct{ ctx *common }

func (rowDelegate) Height() int                         { return 1 }
func (rowDelegate) Spacing() int                        { return 0 }
func (rowDelegate) Update(tea.Msg, *list.Model) tea.Cmd { return nil }

// The widths of the columns after the title.
const (
	markWidth   = 3  // [x]
	statusWidth = 11 // "not started", the longest
	scoreWidth  = 10 // "quiz 10/10"
)

func (d rowDelegate) Render(w io.Writer, m list.Model, index int, item list.Item) {
	it, ok := item.(lessonItem)
	if !ok {
		return
	}
	fmt.Fprint(w, d.row(it.lesson, index == m.Index(), m.Width()))
}

// row lays one lesson out for width; below 64 columns the status word
// goes, the mark keeps it.
func (d rowDelegate) row(l *lessons.Lesson, selected bool, width int) string {
	st := d.ctx.styles
	p := d.ctx.progress
	status := p.Status(l)
	mark, markStyle := "[ ]", st.Subtle
	switch status {
	case lessons.Done:
		mark, markStyle = "[x]", st.Done
	case lessons.InProgress:
		mark, markStyle = "[~]", st.Started
	}
	score := ""
	if right, total := p.Score(l); total > 0 {
		score = fmt.Sprintf("quiz %d/%d", right, total)
	}
	tail := fmt.Sprintf("  %s %-*s", markStyle.Render(mark), scoreWidth, score)
	fixed := 2 + 4 + 2 + markWidth + 1 + scoreWidth
	if width >= 64 {
		tail = fmt.Sprintf("  %s %-*s %-*s", markStyle.Render(mark), statusWidth, status, scoreWidth, score)
		fixed += statusWidth + 1
	}
	titleWidth := max(width-fixed, 8)
	title := ansi.Truncate(l.Title, titleWidth, "…")
	title += strings.Repeat(" ", titleWidth-ansi.StringWidth(title))
	cursor := "  "
	if selected {
		cursor, title = st.Selected.Render("> "), st.Selected.Render(title)
	}
	return strings.TrimRight(fmt.Sprintf("%s%2d  %s%s", cursor, l.Order, title, tail), " ")
}
