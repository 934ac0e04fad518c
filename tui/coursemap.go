package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/progress"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// courseMap lists the lessons with their status and the course's progress.
type courseMap struct {
	ctx           *common
	cursor        int
	offset        int
	bar           progress.Model
	width, height int
	// notice is the start-up notice, shown until the first key.
	notice string
}

func newCourseMap(ctx *common) *courseMap {
	return &courseMap{ctx: ctx, bar: progress.New(progress.WithDefaultBlend()), notice: ctx.opts.Notice}
}

func (c *courseMap) setSize(w, h int) {
	c.width, c.height = w, h
	c.bar.SetWidth(min(w-2, 60))
	c.scroll()
}

// refresh is called when the map is shown again: statuses may have changed.
func (c *courseMap) refresh() {}

func (c *courseMap) keys() helpKeys {
	k := c.ctx.keys
	return helpKeys{short: []key.Binding{k.Up, k.Down, k.Open, k.Quit, k.Help},
		full: []key.Binding{k.Up, k.Down, k.Open, k.Quit, k.Help}}
}

func (c *courseMap) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	c.notice = ""
	n := len(c.ctx.course.Lessons)
	switch {
	case key.Matches(km, c.ctx.keys.Up):
		c.cursor = (c.cursor - 1 + n) % max(n, 1)
	case key.Matches(km, c.ctx.keys.Down):
		c.cursor = (c.cursor + 1) % max(n, 1)
	case key.Matches(km, c.ctx.keys.Open):
		if n > 0 {
			i := c.cursor
			return func() tea.Msg { return openLessonMsg{index: i} }
		}
	}
	c.scroll()
	return nil
}

// listHeight is the rows left for lessons under the header.
func (c *courseMap) listHeight() int {
	h := c.height - 5
	if c.notice != "" {
		h -= 2
	}
	return max(h, 1)
}

// scroll keeps the cursor inside the visible window.
func (c *courseMap) scroll() {
	h := c.listHeight()
	if c.cursor < c.offset {
		c.offset = c.cursor
	}
	if c.cursor >= c.offset+h {
		c.offset = c.cursor - h + 1
	}
}

func (c *courseMap) view() string {
	st := c.ctx.styles
	p := c.ctx.progress
	course := c.ctx.course
	var b strings.Builder
	b.WriteString(st.Title.Render("kcna-lab") + st.Subtle.Render("  Container Orchestration for the KCNA exam") + "\n")
	if c.notice != "" {
		b.WriteString(st.Notice.Render(c.notice) + "\n\n")
	}
	b.WriteString(c.bar.ViewAs(p.Completion(course)) + "\n\n")
	end := min(c.offset+c.listHeight(), len(course.Lessons))
	for i := c.offset; i < end; i++ {
		b.WriteString(c.row(i, course.Lessons[i]) + "\n")
	}
	return truncate(strings.TrimRight(b.String(), "\n"), c.width)
}

// row is one lesson: cursor, number, title, status mark and quiz score.
func (c *courseMap) row(i int, l *lessons.Lesson) string {
	st := c.ctx.styles
	status := c.ctx.progress.Status(l)
	mark := "[ ]"
	markStyle := st.Subtle
	switch status {
	case lessons.Done:
		mark, markStyle = "[x]", st.Done
	case lessons.InProgress:
		mark, markStyle = "[~]", st.Started
	}
	right, total := c.ctx.progress.Score(l)
	score := ""
	if total > 0 {
		score = fmt.Sprintf("quiz %d/%d", right, total)
	}
	titleWidth := max(c.width-35, 10)
	plain := ansi.Truncate(l.Title, titleWidth, "...")
	cursor, title := "  ", plain
	if i == c.cursor {
		cursor, title = st.Selected.Render("> "), st.Selected.Render(plain)
	}
	pad := max(titleWidth-ansi.StringWidth(plain), 1)
	return fmt.Sprintf("%s%2d  %s%s%s  %-11s %s", cursor, l.Order, title, strings.Repeat(" ", pad),
		markStyle.Render(mark), status, st.Subtle.Render(score))
}
