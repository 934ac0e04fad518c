package tui

import (
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

// reader shows one lesson in a viewport, with the live pane beside it on
// wide terminals or in its place on narrow ones.
type reader struct {
	ctx      *common
	index    int
	vp       viewport.Model
	live     *livePane
	showLive bool
	// challenge takes the live pane's place while showChallenge is set.
	challenge     *challengePane
	showChallenge bool
	// rendered is the lesson+width+style now in the viewport, so a resize
	// to the same size does not reset the scroll position.
	rendered      renderKey
	width, height int
	err           error
}

// sideBySide is the width from which the live pane sits beside the text.
const sideBySide = 120

func newReader(ctx *common) *reader {
	return &reader{ctx: ctx, vp: viewport.New(), live: newLivePane(ctx), challenge: newChallengePane(ctx)}
}

// open shows lesson i from the top and marks it read. It reports whether
// progress changed.
func (r *reader) open(i int, now time.Time) bool {
	if i != r.index {
		r.live.stop()
		r.live.reset()
	}
	r.index = i
	r.rendered = renderKey{}
	r.layout()
	r.vp.GotoTop()
	return r.ctx.progress.MarkRead(r.ctx.course.Lessons[i], now)
}

func (r *reader) setSize(w, h int) {
	r.width, r.height = w, h
	r.layout()
}

// layout sizes the viewport and live pane and puts the lesson, rendered for
// the text column's width, into the viewport (from the cache when it can).
func (r *reader) layout() {
	if len(r.ctx.course.Lessons) == 0 {
		return
	}
	textW := r.width
	if r.showLive && r.width >= sideBySide {
		textW = r.width / 2
		r.live.setSize(r.width-textW, r.height-1)
		r.challenge.setSize(r.width-textW, r.height-1)
	} else {
		r.live.setSize(r.width, r.height-1)
		r.challenge.setSize(r.width, r.height-1)
	}
	r.vp.SetWidth(textW)
	r.vp.SetHeight(r.height - 1)
	l := r.ctx.course.Lessons[r.index]
	k := renderKey{lesson: l.ID, style: r.ctx.glamourStyle(), width: textW}
	if k == r.rendered {
		return
	}
	page, err := r.ctx.renders.page(l, textW, k.style)
	r.err = err
	if err != nil {
		page = r.ctx.styles.Wrong.Render(err.Error()) + "\n\n" + l.Document()
	}
	r.vp.SetContent(page)
	r.rendered = k
}

func (r *reader) keys() helpKeys {
	k := r.ctx.keys
	if r.showChallenge {
		return helpKeys{
			short: append(r.challenge.keys(), k.Shell, k.Back),
			full:  append(r.challenge.keys(), k.Shell, k.Challenge, k.Live, k.Back, k.Help),
		}
	}
	return helpKeys{
		short: []key.Binding{k.Live, k.Run, k.Challenge, k.Quiz, k.Next, k.Back, k.Help},
		full:  []key.Binding{k.Up, k.Down, k.Live, k.Run, k.Shell, k.LiveUp, k.Challenge, k.Quiz, k.Next, k.Back, k.Help},
	}
}

func (r *reader) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case liveMsg:
		return r.live.update(msg)
	case checkedMsg:
		return r.challenge.update(msg)
	case shellDoneMsg:
		// What the learner did in the shell changed the live state an
		// earlier verdict was about: it no longer holds.
		r.live.shellDone(msg)
		r.challenge.forgetVerdict()
		return nil
	case tea.KeyPressMsg:
		k := r.ctx.keys
		n := len(r.ctx.course.Lessons)
		if r.showChallenge && !key.Matches(msg, k.Back, k.Shell, k.Challenge, k.Live) {
			return r.challenge.update(msg)
		}
		switch {
		case key.Matches(msg, k.Back) && r.showChallenge:
			r.showChallenge = false
			return nil
		case key.Matches(msg, k.Back):
			return func() tea.Msg { return backMsg{} }
		case key.Matches(msg, k.Challenge):
			r.showChallenge = !r.showChallenge
			r.showLive = r.showChallenge
			r.challenge.show(r.ctx.course.Lessons[r.index])
			r.rendered = renderKey{}
			r.layout()
			return nil
		case key.Matches(msg, k.Live):
			r.showChallenge = false
			r.showLive = !r.showLive
			r.rendered = renderKey{}
			r.layout()
			return nil
		case key.Matches(msg, k.Run):
			r.showLive, r.showChallenge = true, false
			r.rendered = renderKey{}
			r.layout()
			return r.live.run(r.ctx.course.Lessons[r.index])
		case key.Matches(msg, k.LiveUp) && r.showLive:
			r.live.scrollBy(max(r.live.height/2, 1))
			return nil
		case key.Matches(msg, k.LiveDown) && r.showLive:
			r.live.scrollBy(-max(r.live.height/2, 1))
			return nil
		case key.Matches(msg, k.Shell):
			r.showLive = true
			r.layout()
			return r.live.shell(r.ctx.course.Lessons[r.index])
		case key.Matches(msg, k.Quiz):
			i := r.index
			return func() tea.Msg { return openQuizMsg{index: i} }
		case key.Matches(msg, k.Next) && r.index+1 < n:
			i := r.index + 1
			return func() tea.Msg { return openLessonMsg{index: i} }
		case key.Matches(msg, k.Prev) && r.index > 0:
			i := r.index - 1
			return func() tea.Msg { return openLessonMsg{index: i} }
		}
	}
	var cmd tea.Cmd
	r.vp, cmd = r.vp.Update(msg)
	return cmd
}

func (r *reader) view() string {
	if len(r.ctx.course.Lessons) == 0 {
		return "No lessons."
	}
	l := r.ctx.course.Lessons[r.index]
	st := r.ctx.styles
	header := st.Title.Render(fmt.Sprintf("%d. %s", l.Order, l.Title)) +
		st.Subtle.Render(fmt.Sprintf("  %3.0f%%", 100*r.vp.ScrollPercent()))
	pane := r.live.view
	if r.showChallenge {
		pane = r.challenge.view
	}
	var body string
	switch {
	case r.showLive && r.width >= sideBySide:
		body = lipgloss.JoinHorizontal(lipgloss.Top, r.vp.View(), pane())
	case r.showLive:
		body = pane()
	default:
		body = r.vp.View()
	}
	return truncate(header+"\n"+body, r.width)
}
