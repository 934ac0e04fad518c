package tui

import (
	gocontext "context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/lessons"
)

// challengePane shows a lesson's hands-on challenge: the task, hints one
// at a time, a check against live state, and the solution after a pass or
// when asked for.
type challengePane struct {
	ctx      *common
	lesson   *lessons.Lesson
	index    int // which of the lesson's challenges
	hints    int // how many are shown
	solution bool
	checking bool
	verdict  *Verdict
	// settingUp is true while the challenge's Setup builds its broken
	// scenario; setup is what it said, setupErr why it could not.
	settingUp     bool
	setup         string
	setupErr      error
	err           error
	width, height int
	// scroll is how many lines the view is moved up from its end, where
	// the latest verdict is; a long solution is read by scrolling up.
	scroll int
	// lines is the pane's text wrapped for its width, laid out again after
	// every change (update, setSize, show) so that view only slices it;
	// wrapped keeps the wrapping when the text has not changed.
	lines   []string
	wrapped wrapCache
}

// wrapCache holds text wrapped to a width, wrapped again only when the
// text or the width changes.
type wrapCache struct {
	text  string
	width int
	lines []string
}

// of returns the paragraphs in out wrapped to w cells, as wrapWhole does.
func (c *wrapCache) of(out []string, w int) []string {
	text := strings.Join(out, "\n")
	if text == c.text && w == c.width && c.lines != nil {
		return c.lines
	}
	var lines []string
	for _, l := range out {
		lines = append(lines, strings.Split(wrapWhole(l, w), "\n")...)
	}
	c.text, c.width, c.lines = text, w, lines
	return lines
}

// checkedMsg carries a check's outcome back to the pane.
type checkedMsg struct {
	lesson, challenge string
	verdict           Verdict
	err               error
}

// setUpMsg carries a challenge setup's outcome back to the pane.
type setUpMsg struct {
	lesson, challenge string
	text              string
	err               error
}

func newChallengePane(ctx *common) *challengePane { return &challengePane{ctx: ctx} }

func (c *challengePane) setSize(w, h int) {
	c.width, c.height = w, h
	c.layout()
}

// show points the pane at a lesson, keeping its place if it is the same.
func (c *challengePane) show(l *lessons.Lesson) {
	if c.lesson != l {
		*c = challengePane{ctx: c.ctx, lesson: l, width: c.width, height: c.height}
	}
	c.layout()
}

func (c *challengePane) current() (lessons.Challenge, bool) {
	if c.lesson == nil || c.index >= len(c.lesson.Challenges) {
		return lessons.Challenge{}, false
	}
	return c.lesson.Challenges[c.index], true
}

// update takes the pane's keys and the outcomes of its check and setup;
// it ignores what is not the pane's. The text is laid out again after.
func (c *challengePane) update(msg tea.Msg) tea.Cmd {
	cmd := c.handle(msg)
	c.layout()
	return cmd
}

func (c *challengePane) handle(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case shellDoneMsg:
		// What the learner did in the shell changed the live state an
		// earlier verdict was about: it no longer holds.
		c.forgetVerdict()
	case setUpMsg:
		ch, ok := c.current()
		if !ok || c.lesson.ID != msg.lesson || ch.ID != msg.challenge {
			return nil
		}
		c.settingUp, c.setup, c.setupErr = false, msg.text, msg.err
		c.forgetVerdict()
	case checkedMsg:
		// A pass counts even when the learner has moved on meanwhile;
		// only the pane's view of it needs the same challenge in view.
		var passed tea.Cmd
		if msg.err == nil && msg.verdict.Passed {
			passed = send(challengePassedMsg{lesson: msg.lesson, challenge: msg.challenge})
		}
		ch, ok := c.current()
		if !ok || c.lesson.ID != msg.lesson || ch.ID != msg.challenge {
			return passed
		}
		c.checking, c.verdict, c.err = false, &msg.verdict, msg.err
		if passed != nil {
			c.solution = true
		}
		return passed
	case tea.KeyPressMsg:
		ch, ok := c.current()
		if !ok {
			return nil
		}
		page := max(c.height-2, 1)
		switch {
		case key.Matches(msg, challengeKeys.Up):
			c.scroll++ // layout clamps it
			return nil
		case key.Matches(msg, challengeKeys.Down):
			c.scroll = max(c.scroll-1, 0)
			return nil
		case key.Matches(msg, challengeKeys.PageUp):
			c.scroll += page
			return nil
		case key.Matches(msg, challengeKeys.PageDown):
			c.scroll = max(c.scroll-page, 0)
			return nil
		}
		c.scroll = 0 // whatever a key adds is shown at the end
		switch {
		case key.Matches(msg, challengeKeys.Setup) && c.hasSetup(ch) && !c.settingUp:
			return c.runSetup(ch)
		case key.Matches(msg, challengeKeys.Check) && !c.checking:
			return c.check(ch)
		case key.Matches(msg, challengeKeys.Hint) && c.hints < len(ch.Hints):
			c.hints++
			return send(hintShownMsg{lesson: c.lesson.ID, challenge: ch.ID, shown: c.hints})
		case key.Matches(msg, challengeKeys.Solution):
			if !c.solution && (c.verdict == nil || !c.verdict.Passed) {
				c.solution = true
				return send(solutionShownMsg{lesson: c.lesson.ID, challenge: ch.ID})
			}
			c.solution = true
		case key.Matches(msg, challengeKeys.Next) && len(c.lesson.Challenges) > 1:
			l := c.lesson
			*c = challengePane{ctx: c.ctx, lesson: l, index: (c.index + 1) % len(l.Challenges), width: c.width, height: c.height}
		}
	}
	return nil
}

// forgetVerdict drops the last check's outcome, once the live state it
// was about may have changed; a check still running reports as usual.
func (c *challengePane) forgetVerdict() {
	if !c.checking {
		c.verdict, c.err = nil, nil
	}
}

// check runs the challenge's check off the UI goroutine.
func (c *challengePane) check(ch lessons.Challenge) tea.Cmd {
	lab := c.ctx.opts.Lab
	if lab == nil {
		c.verdict = &Verdict{Detail: "This kcna-lab was started without its checks."}
		return nil
	}
	chk, ok := lab.Check(ch.ID)
	if !ok {
		c.verdict = &Verdict{Detail: fmt.Sprintf("The check %q is not part of this build of kcna-lab.", ch.ID)}
		return nil
	}
	c.checking, c.verdict, c.err = true, nil, nil
	lessonID := c.lesson.ID
	return func() tea.Msg {
		ctx, cancel := gocontext.WithTimeout(gocontext.Background(), checkBudget(ch))
		defer cancel()
		v, err := chk.Verify(ctx)
		return checkedMsg{lesson: lessonID, challenge: ch.ID, verdict: v, err: err}
	}
}

// checkBudget is how long the pane waits for a challenge's check. A
// lesson file's checks each stop at their own timeout:, one after the
// other, so the budget is their sum and a margin for starting each and
// reading its output, and never cuts one short; a built-in check, 30 s.
func checkBudget(ch lessons.Challenge) time.Duration {
	if len(ch.Checks) == 0 {
		return 30 * time.Second
	}
	d := 5 * time.Second
	for _, k := range ch.Checks {
		d += k.Timeout + time.Second
	}
	return d
}

// hasSetup reports whether the challenge starts from a scenario that
// kcna-lab builds (the troubleshooting lesson's).
func (c *challengePane) hasSetup(ch lessons.Challenge) bool {
	if c.ctx.opts.Lab == nil {
		return false
	}
	chk, ok := c.ctx.opts.Lab.Check(ch.ID)
	return ok && chk.Setup != nil
}

// runSetup builds the challenge's broken scenario off the UI goroutine.
// Its steps are not shown: what matters to the learner is the message
// saying what is broken and where to look.
func (c *challengePane) runSetup(ch lessons.Challenge) tea.Cmd {
	chk, _ := c.ctx.opts.Lab.Check(ch.ID)
	c.settingUp, c.setup, c.setupErr = true, "", nil
	lessonID := c.lesson.ID
	return func() tea.Msg {
		ctx, cancel := gocontext.WithTimeout(gocontext.Background(), 2*time.Minute)
		defer cancel()
		text, err := chk.Setup(ctx, event.Discard)
		return setUpMsg{lesson: lessonID, challenge: ch.ID, text: text, err: err}
	}
}

func (c *challengePane) keys() []key.Binding {
	k := []key.Binding{challengeKeys.Check, challengeKeys.Hint, challengeKeys.Solution, challengeKeys.Next, challengeKeys.Up}
	if ch, ok := c.current(); ok && c.hasSetup(ch) {
		k = append([]key.Binding{challengeKeys.Setup}, k...)
	}
	return k
}

// layout wraps the pane's text for its width and keeps the scroll
// within it.
func (c *challengePane) layout() {
	c.lines = c.wrapped.of(c.text(), max(c.width-2, 10))
	c.scroll = min(c.scroll, max(len(c.lines)-c.height, 0))
}

// text is what the pane says, a paragraph an entry: the task, the setup's
// outcome, the hints shown, the solution, and last the check's status.
func (c *challengePane) text() []string {
	st := c.ctx.styles
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
		if plan := ch.Plan(); len(plan) > 0 {
			// The lesson file's checks run commands, on this machine
			// too: say what, before the learner presses enter.
			lead := "enter runs the lesson file's checks: "
			if ch.RunsOnHost() {
				lead = "enter runs the lesson file's checks, commands on this machine among them: "
			}
			out = append(out, st.Subtle.Render(lead)+strings.Join(plan, "; "), "")
		}
		if why := c.ctx.cannotRun[c.lesson.ID]; why != "" && !c.ctx.progress.Passed(c.lesson.ID, ch.ID) {
			out = append(out, st.Started.Render("Not possible on this host: ")+why+". "+notPossibleHere, "")
		}
		switch {
		case c.settingUp:
			out = append(out, st.Subtle.Render("Setting up the broken scenario..."), "")
		case c.setupErr != nil:
			out = append(out, st.StepErr.Render("The setup could not run: "+c.setupErr.Error()), "")
		case c.setup != "":
			out = append(out, st.Subtle.Render("Set up: ")+c.setup, "")
		}
		for i := range c.hints {
			out = append(out, st.Subtle.Render(fmt.Sprintf("Hint %d: ", i+1))+ch.Hints[i], "")
		}
		// The solution comes before the check's status, which stays on
		// the pane's last line: a long solution scrolls the top of the
		// pane away, never the verdict the learner just asked for.
		if c.solution {
			out = append(out, st.Title.Render("Solution"), ch.Solution, "")
		}
		switch {
		case c.checking:
			out = append(out, st.Subtle.Render("Checking live state..."))
		case c.err != nil:
			out = append(out, st.StepErr.Render("The check could not run: "+c.err.Error()))
		case c.verdict != nil && c.verdict.Passed:
			out = append(out, st.StepOK.Render("✓ Passed: ")+c.verdict.Detail)
		case c.verdict != nil:
			out = append(out, st.StepErr.Render("✗ Not yet: ")+c.verdict.Detail)
		default:
			more := ""
			if c.hints < len(ch.Hints) {
				more = fmt.Sprintf(", h for a hint (%d left)", len(ch.Hints)-c.hints)
			}
			first := "s opens the lesson's sandbox shell"
			if c.hasSetup(ch) && c.setup == "" {
				first = "S sets up the broken scenario, s opens a shell"
			}
			out = append(out, st.Subtle.Render(first+"; enter checks"+more+", a shows the answer."))
		}
	}
	return out
}

// notPossibleHere is what "done" means for a lesson whose challenges this
// host cannot run.
const notPossibleHere = "Without it this lesson counts as done here once you have read it and answered every quiz question right; the challenge is not marked passed. `kcna-lab doctor` says more; on a host that can run it, enter still checks it."

// view shows the end of the text (the verdict) unless the learner
// scrolled up.
func (c *challengePane) view() string {
	lines := c.lines
	if over := len(lines) - c.height; over > 0 {
		lines = lines[over-c.scroll : len(lines)-c.scroll]
	}
	return c.ctx.styles.Pane.Width(c.width).Height(c.height).Render(strings.Join(lines, "\n"))
}

// wrapWhole wraps s to w cells at spaces and slashes.
func wrapWhole(s string, w int) string { return wrapAt(s, w, " /") }

// wrapAt wraps s to w cells after any of breaks, but not after a hyphen
// as ansi.Wrap always does: tasks, verdicts and steps hold commands, and a
// break there turns --name into "-" and "-name", kcna-lab into "kcna-" and
// "lab". A word longer than w is still cut.
func wrapAt(s string, w int, breaks string) string {
	const keep = "\u2011" // non-breaking hyphen, as wide as "-"
	return strings.ReplaceAll(ansi.Wrap(strings.ReplaceAll(s, "-", keep), w, breaks), keep, "-")
}
