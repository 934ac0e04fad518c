package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// quitPrompt is asked on quitting while sandboxes this session kept still
// run (a lesson's `s` keeps its sandbox for the challenge's check, and
// lab-chroot's can escape its jail): it lists them with the command that
// stops each, and stops them when the learner says so. Other sandboxes
// running on the machine are listed apart and never stopped.
type quitPrompt struct {
	ctx   *common
	names []string
	// others are running sandboxes this session did not keep.
	others []string
	// stopping is set while the sandboxes are being stopped; failed holds
	// what could not be, after.
	stopping      bool
	failed        []string
	width, height int
}

// keptMsg lists the sandboxes still running when the learner quits: the
// session's own (names) and the others.
type keptMsg struct{ names, others []string }

// quitNowMsg quits without asking again.
type quitNowMsg struct{}

// stoppedMsg reports the sandboxes that could not be stopped, and why.
type stoppedMsg struct{ failed []string }

func newQuitPrompt(ctx *common) *quitPrompt { return &quitPrompt{ctx: ctx} }

func (q *quitPrompt) ask(names, others []string) {
	*q = quitPrompt{ctx: q.ctx, names: names, others: others, width: q.width, height: q.height}
}

func (q *quitPrompt) setSize(w, h int) { q.width, q.height = w, h }

func (q *quitPrompt) ShortHelp() []key.Binding {
	if q.failed != nil {
		return []key.Binding{bindingHelp(quitKeys.Keep, "enter", "quit")}
	}
	return []key.Binding{quitKeys.Stop, quitKeys.Keep, quitKeys.Cancel}
}

func (q *quitPrompt) FullHelp() [][]key.Binding { return [][]key.Binding{q.ShortHelp()} }

func (q *quitPrompt) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case stoppedMsg:
		q.stopping = false
		if len(msg.failed) == 0 {
			return send(quitNowMsg{})
		}
		q.failed = msg.failed
	case tea.KeyPressMsg:
		switch {
		case q.stopping:
		case q.failed != nil:
			return send(quitNowMsg{})
		case key.Matches(msg, quitKeys.Stop):
			return q.stop()
		case key.Matches(msg, quitKeys.Keep):
			return send(quitNowMsg{})
		case key.Matches(msg, quitKeys.Cancel):
			return send(backMsg{})
		}
	}
	return nil
}

// stop stops every sandbox listed, off the UI goroutine: each may take
// its stop timeout.
func (q *quitPrompt) stop() tea.Cmd {
	stop := q.ctx.opts.StopSandbox
	if stop == nil {
		q.failed = []string{"this kcna-lab was started without a way to stop sandboxes"}
		return nil
	}
	q.stopping = true
	names := q.names
	return func() tea.Msg {
		var failed []string
		for _, n := range names {
			if err := stop(n); err != nil {
				failed = append(failed, fmt.Sprintf("%s: %v", n, err))
			}
		}
		return stoppedMsg{failed: failed}
	}
}

func (q *quitPrompt) view() string {
	st := q.ctx.styles
	w := max(min(q.width, readingWidth)-2, 20)
	var out []string
	add := func(s string) { out = append(out, strings.Split(wrapWhole(s, w), "\n")...) }
	out = append(out, st.Title.Render("Sandboxes still running"), "")
	add("The lessons' shells kept these sandboxes, still running on this machine:")
	out = append(out, "")
	for _, n := range q.names {
		add("  " + n + "  (stop it with: kcna-lab stop " + n + ")")
	}
	out = append(out, "")
	if len(q.others) > 0 {
		add("Also running, not started by this course session, and left alone: " + strings.Join(q.others, ", ") + ".")
		out = append(out, "")
	}
	switch {
	case q.stopping:
		out = append(out, st.Subtle.Render("Stopping..."))
	case q.failed != nil:
		out = append(out, st.StepErr.Render("✗ Not all could be stopped:"))
		for _, f := range q.failed {
			add("  " + f)
		}
		out = append(out, "")
		add("`kcna-lab ps` lists what still runs. Press enter to quit.")
	default:
		add("Press y to stop them and quit, n or q to quit and keep them running, esc to go back to the course.")
	}
	return truncate(strings.Join(out, "\n"), q.width)
}
