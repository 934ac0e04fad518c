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
// The list is bubbles/list: it pages when the lessons do not fit and says
// which page is shown. Its filter is off: `/` opens the search of the
// whole course, lesson titles included.
type courseMap struct {
	ctx           *common
	list          list.Model
	bar           progress.Model
	width, height int
	// notice is the start-up notice, shown until the first key.
	notice string
	// due is how many missed questions are due for review, counted
	// again whenever the map is sized (the root does so on showing it).
	due int
}

// lessonItem is one lesson in the list.
type lessonItem struct {
	index  int
	lesson *lessons.Lesson
}

// FilterValue is what a list filter would match: the number, the title
// and the id.
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
	l.SetFilteringEnabled(false)
	l.SetShowFilter(false)
	l.SetShowStatusBar(false)
	l.SetShowHelp(false) // the root's footer shows the keys
	l.SetStatusBarItemName("lesson", "lessons")
	l.DisableQuitKeybindings()
	l.KeyMap.ShowFullHelp.SetEnabled(false) // ? is the root's
	l.KeyMap.CloseFullHelp.SetEnabled(false)
	l.Paginator.Type = paginator.Arabic
	l.Paginator.ArabicFormat = "page %d of %d"
	return &courseMap{ctx: ctx, list: l, bar: progress.New(progress.WithDefaultBlend()), notice: ctx.opts.Notice}
}

func (c *courseMap) setSize(w, h int) {
	c.width, c.height = w, h
	due, _ := c.ctx.progress.Missed(c.ctx.course, c.ctx.now())
	c.due = len(due)
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

// selectLesson puts the cursor on lesson i.
func (c *courseMap) selectLesson(i int) { c.list.Select(i) }

// reviewKey is r with how many questions are due.
func (c *courseMap) reviewKey() key.Binding {
	if c.due == 0 {
		return mapKeys.Review
	}
	return bindingHelp(mapKeys.Review, "r", fmt.Sprintf("retry %d missed", c.due))
}

func (c *courseMap) ShortHelp() []key.Binding {
	return []key.Binding{mapKeys.Open, c.reviewKey(), mapKeys.Search, mapKeys.Exam, mapKeys.Quit}
}

func (c *courseMap) FullHelp() [][]key.Binding {
	k := c.list.KeyMap
	return [][]key.Binding{
		{k.CursorUp, k.CursorDown, k.NextPage, k.PrevPage, k.GoToStart, k.GoToEnd},
		{mapKeys.Open, c.reviewKey(), mapKeys.Search, mapKeys.Exam, mapKeys.Quit},
	}
}

func (c *courseMap) update(msg tea.Msg) tea.Cmd {
	if km, ok := msg.(tea.KeyPressMsg); ok {
		if c.notice != "" {
			c.notice = ""
			c.setSize(c.width, c.height)
		}
		switch {
		case key.Matches(km, mapKeys.Open):
			if it, ok := c.list.SelectedItem().(lessonItem); ok {
				return send(openLessonMsg{index: it.index})
			}
			return nil
		case key.Matches(km, mapKeys.Search):
			return send(openSearchMsg{})
		case key.Matches(km, mapKeys.Review):
			return send(openReviewMsg{})
		case key.Matches(km, mapKeys.Exam):
			return send(openExamMsg{})
		case key.Matches(km, mapKeys.Quit):
			return send(quitMsg{})
		}
	}
	var cmd tea.Cmd
	c.list, cmd = c.list.Update(msg)
	return cmd
}

func (c *courseMap) view() string {
	st := c.ctx.styles
	var b strings.Builder
	b.WriteString(st.Title.Render("kcna-lab"))
	if c.due > 0 {
		b.WriteString("  " + st.Started.Render(fmt.Sprintf("%d missed due: r", c.due)))
	}
	b.WriteString(st.Subtle.Render("  Containers and Kubernetes for the KCNA exam") + "\n")
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
	status := d.ctx.status(l)
	mark, markStyle := "[ ]", st.Subtle
	switch status {
	case lessons.Done:
		mark, markStyle = "[x]", st.Done
	case lessons.DoneHere:
		// Done as far as this host allows; the challenge is not passed.
		mark, markStyle = "[*]", st.Done
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
	title := l.Title
	if d.ctx.paced(l) {
		title = "wait for the instructor: " + title
	}
	title = ansi.Truncate(title, titleWidth, "…")
	title += strings.Repeat(" ", titleWidth-ansi.StringWidth(title))
	cursor := "  "
	if selected {
		cursor, title = st.Selected.Render("> "), st.Selected.Render(title)
	}
	return strings.TrimRight(fmt.Sprintf("%s%2d  %s%s", cursor, l.Order, title, tail), " ")
}
