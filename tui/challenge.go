package tui

import (
	gocontext "context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
)

// challengePane shows a lesson's hands-on challenge: the task, hints one
// at a time, a check against live state, and the solution after a pass or
// when asked for.
type challengePane struct {
	ctx           *common
	lesson        *lessons.Lesson
	index         int // which of the lesson's challenges
	hints         int // how many are shown
	solution      bool
	checking      bool
	verdict       *demos.Verdict
	err           error
	width, height int
}

// checkedMsg carries a check's outcome back to the pane.
type checkedMsg struct {
	lesson, challenge string
	verdict           demos.Verdict
	err               error
}

var challengeKeys = struct{ Check, Hint, Solution, Next key.Binding }{
	Check:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "check")),
	Hint:     key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "hint")),
	Solution: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "answer")),
	Next:     key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next challenge")),
}

func newChallengePane(ctx *common) *challengePane { return &challengePane{ctx: ctx} }

func (c *challengePane) setSize(w, h int) { c.width, c.height = w, h }

// show points the pane at a lesson, keeping its place if it is the same.
func (c *challengePane) show(l *lessons.Lesson) {
	if c.lesson != l {
		*c = challengePane{ctx: c.ctx, lesson: l, width: c.width, height: c.height}
	}
}

func (c *challengePane) current() (lessons.Challenge, bool) {
	if c.lesson == nil || c.index >= len(c.lesson.Challenges) {
		return lessons.Challenge{}, false
	}
	return c.lesson.Challenges[c.index], true
}

func (c *challengePane) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case checkedMsg:
		ch, ok := c.current()
		if !ok || c.lesson.ID != msg.lesson || ch.ID != msg.challenge {
			return nil
		}
		c.checking, c.verdict, c.err = false, &msg.verdict, msg.err
		if msg.err == nil && msg.verdict.Passed {
			c.solution = true
			c.ctx.progress.RecordChallenge(msg.lesson, msg.challenge, time.Now())
			return func() tea.Msg { return saveMsg{} }
		}
	case tea.KeyPressMsg:
		ch, ok := c.current()
		if !ok {
			return nil
		}
		switch {
		case key.Matches(msg, challengeKeys.Check) && !c.checking:
			return c.check(ch)
		case key.Matches(msg, challengeKeys.Hint) && c.hints < len(ch.Hints):
			c.hints++
		case key.Matches(msg, challengeKeys.Solution):
			c.solution = true
		case key.Matches(msg, challengeKeys.Next) && len(c.lesson.Challenges) > 1:
			l := c.lesson
			*c = challengePane{ctx: c.ctx, lesson: l, index: (c.index + 1) % len(l.Challenges), width: c.width, height: c.height}
		}
	}
	return nil
}

// check runs the challenge's check off the UI goroutine.
func (c *challengePane) check(ch lessons.Challenge) tea.Cmd {
	reg := c.ctx.opts.Registry
	if reg == nil {
		c.verdict = &demos.Verdict{Detail: "This kcna-lab was started without its checks."}
		return nil
	}
	chk, ok := reg.Check(ch.ID)
	if !ok {
		c.verdict = &demos.Verdict{Detail: fmt.Sprintf("The check %q is not part of this build of kcna-lab.", ch.ID)}
		return nil
	}
	c.checking, c.verdict, c.err = true, nil, nil
	lessonID := c.lesson.ID
	return func() tea.Msg {
		ctx, cancel := gocontext.WithTimeout(gocontext.Background(), 30*time.Second)
		defer cancel()
		v, err := chk.Verify(ctx)
		return checkedMsg{lesson: lessonID, challenge: ch.ID, verdict: v, err: err}
	}
}

func (c *challengePane) keys() []key.Binding {
	return []key.Binding{challengeKeys.Check, challengeKeys.Hint, challengeKeys.Solution, challengeKeys.Next}
}

func (c *challengePane) view() string {
	st := c.ctx.styles
	w := max(c.width-2, 10)
	ch, ok := c.current()
	var out []string
	if !ok {
		out = []string{st.Subtle.Render("This lesson has no hands-on challenge.")}
	} else {
		title := fmt.Sprintf("Challenge: %s", ch.Title)
		if len(c.lesson.Challenges) > 1 {
			title += fmt.Sprintf("  (%d of %d)", c.index+1, len(c.lesson.Challenges))
		}
		if c.ctx.progress.Passed(c.lesson.ID, ch.ID) {
			title += "  " + st.StepOK.Render("passed")
		}
		out = append(out, st.Title.Render(title), "", ch.Task, "")
		for i := range c.hints {
			out = append(out, st.Subtle.Render(fmt.Sprintf("Hint %d: ", i+1))+ch.Hints[i], "")
		}
		switch {
		case c.checking:
			out = append(out, st.Subtle.Render("Checking live state..."))
		case c.err != nil:
			out = append(out, st.StepErr.Render("The check could not run: "+c.err.Error()))
		case c.verdict != nil && c.verdict.Passed:
			out = append(out, st.StepOK.Render("Passed: ")+c.verdict.Detail)
		case c.verdict != nil:
			out = append(out, st.StepErr.Render("Not yet: ")+c.verdict.Detail)
		default:
			more := ""
			if c.hints < len(ch.Hints) {
				more = fmt.Sprintf(", h for a hint (%d left)", len(ch.Hints)-c.hints)
			}
			out = append(out, st.Subtle.Render("s opens the lesson's sandbox shell; enter checks"+more+", a shows the answer."))
		}
		if c.solution {
			out = append(out, "", st.Title.Render("Solution"), ch.Solution)
		}
	}
	var wrapped []string
	for _, l := range out {
		wrapped = append(wrapped, strings.Split(ansi.Wrap(l, w, " -/"), "\n")...)
	}
	if over := len(wrapped) - c.height; over > 0 {
		wrapped = wrapped[over:]
	}
	return st.Pane.Width(c.width).Height(c.height).Render(strings.Join(wrapped, "\n"))
}
