package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// reader shows one lesson in a viewport, with the live pane (or the
// challenge pane) beside it on wide terminals or in its place on narrow
// ones.
type reader struct {
	ctx *common
	// index is the lesson shown; opened is false until one is.
	index    int
	opened   bool
	vp       viewport.Model
	live     *livePane
	showLive bool
	// demo is which of the lesson's demos r runs and s opens a shell
	// like (an index into its Demos), chosen with d.
	demo int
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

// open shows lesson i from the top.
func (r *reader) open(i int) {
	if i != r.index {
		r.live.stop()
		r.live.reset()
		r.demo = 0
	}
	r.index, r.opened = i, true
	r.live.lesson = r.ctx.course.Lessons[i]
	r.rendered = renderKey{}
	r.layout()
	r.vp.GotoTop()
}

// seek moves the text to the first heading named section, below the
// lesson's title; it stays put when there is none ("" or not found).
func (r *reader) seek(section string) {
	if section == "" {
		return
	}
	want := strings.ToLower(section)
	lines := strings.Split(r.vp.GetContent(), "\n")
	// The heading's own line first (glamour may keep its #s), then, for
	// a heading wrapped over lines, any line holding it.
	for _, match := range []func(string) bool{
		func(l string) bool { return strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), "#")) == want },
		func(l string) bool { return strings.Contains(l, want) },
	} {
		for i, line := range lines {
			if i > 0 && match(strings.ToLower(ansi.Strip(line))) {
				r.vp.SetYOffset(i)
				return
			}
		}
	}
}

// place is the lesson open and the fraction of it scrolled past.
func (r *reader) place() (lessonID string, scroll float64, ok bool) {
	if !r.opened {
		return "", 0, false
	}
	return r.ctx.course.Lessons[r.index].ID, r.vp.ScrollPercent(), true
}

// setScroll moves the text to a fraction of its length, as place gave it.
func (r *reader) setScroll(frac float64) {
	maxOffset := max(r.vp.TotalLineCount()-r.vp.Height(), 0)
	r.vp.SetYOffset(int(frac*float64(maxOffset) + 0.5))
}

func (r *reader) setSize(w, h int) {
	r.width, r.height = w, h
	r.layout()
}

// layout sizes the viewport and the panes and puts the lesson, rendered
// for the text column's width, into the viewport (from the cache when it
// can). The text column is at most readingWidth wide; a new rendering
// keeps the reader as far down the lesson as before.
func (r *reader) layout() {
	if len(r.ctx.course.Lessons) == 0 {
		return
	}
	textW := min(r.width, readingWidth)
	if r.showLive && r.width >= sideBySide {
		textW = min(r.width/2, readingWidth)
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
	frac := r.vp.ScrollPercent()
	r.vp.SetContent(page)
	if r.rendered.lesson == l.ID {
		r.setScroll(frac)
	}
	r.rendered = k
}

func (r *reader) ShortHelp() []key.Binding {
	k := readerKeys
	if r.showChallenge {
		return append(r.challenge.keys(), k.Shell, k.Back)
	}
	return []key.Binding{k.Run, k.Challenge, k.Quiz, k.Live, k.Next, k.Back}
}

func (r *reader) FullHelp() [][]key.Binding {
	k := readerKeys
	if r.showChallenge {
		return [][]key.Binding{append(r.challenge.keys(), challengeKeys.PageUp, k.Shell, k.Challenge, k.Live, k.Back)}
	}
	live := []key.Binding{k.Up, k.Down, k.Live, k.Run, k.Shell, k.LiveUp}
	if len(r.ctx.course.Lessons) > 0 && len(r.ctx.course.Lessons[r.index].Demos) > 1 {
		live = append(live, k.Demo)
	}
	return [][]key.Binding{live, {k.Challenge, k.Quiz, k.Next, k.Back}}
}

// update takes the reader's keys; every other message goes to both panes
// (each takes only its own: a demo's events, a check's or a setup's
// outcome, the shell's end) and to the viewport.
func (r *reader) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		var cmd tea.Cmd
		r.vp, cmd = r.vp.Update(msg)
		return tea.Batch(r.live.update(msg), r.challenge.update(msg), cmd)
	}
	k := readerKeys
	n := len(r.ctx.course.Lessons)
	l := r.ctx.course.Lessons[r.index]
	if r.showChallenge && !key.Matches(km, k.Back, k.Shell, k.Challenge, k.Live) {
		return r.challenge.update(msg)
	}
	switch {
	case key.Matches(km, k.Back) && r.showChallenge:
		r.showChallenge = false
		return nil
	case key.Matches(km, k.Back):
		return send(backMsg{})
	case key.Matches(km, k.Challenge):
		r.showChallenge = !r.showChallenge
		r.showLive = r.showChallenge
		r.challenge.show(l)
		r.layout()
		return nil
	case key.Matches(km, k.Live):
		r.showChallenge = false
		r.showLive = !r.showLive
		r.layout()
		return nil
	case key.Matches(km, k.Run):
		r.showLive, r.showChallenge = true, false
		r.layout()
		return r.live.run(l, r.demo)
	case key.Matches(km, k.Demo) && len(l.Demos) > 1:
		r.demo = (r.demo + 1) % len(l.Demos)
		r.showLive, r.showChallenge = true, false
		r.layout()
		r.live.picked(l, r.demo)
		return nil
	case key.Matches(km, k.LiveUp) && r.showLive:
		r.live.scrollBy(max(r.live.height/2, 1))
		return nil
	case key.Matches(km, k.LiveDown) && r.showLive:
		r.live.scrollBy(-max(r.live.height/2, 1))
		return nil
	case key.Matches(km, k.Shell):
		r.showLive = true
		r.layout()
		return r.live.shell(l, r.demo)
	case key.Matches(km, k.Quiz):
		return send(openQuizMsg{index: r.index})
	case key.Matches(km, k.Next) && r.index+1 < n:
		return send(openLessonMsg{index: r.index + 1})
	case key.Matches(km, k.Prev) && r.index > 0:
		return send(openLessonMsg{index: r.index - 1})
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
	if r.ctx.cannotRun[l.ID] != "" && len(l.Challenges) > 0 {
		header += "  " + st.Started.Render(string(r.ctx.status(l))+": challenge not possible here (c)")
	}
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
