package tui

import (
	gocontext "context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/lessons"
)

// Messages shown when there is nothing live to run. They say plainly why:
// the pane never shows invented output.
const (
	noSandboxDemo  = "This kcna-lab was started without its demos, so nothing runs live here. Read on: the text explains what the demo shows."
	noSandboxShell = "This kcna-lab was started without a way to open a sandbox shell."
	noLessonDemo   = "This lesson has no live demo of its own: its ideas are shown live in the lessons that follow."
)

// maxLiveEntries bounds the pane's memory on a chatty demo.
const maxLiveEntries = 500

// liveEntry is one thing in the pane: an event, laid out when it is
// shown (a side-by-side view takes the pane's width), or a message.
type liveEntry struct {
	ev   *event.Event
	text string
}

// livePane runs a lesson's demo and shows its event stream as it arrives.
type livePane struct {
	ctx *common
	// lesson is the lesson open beside the pane, for what an empty pane
	// says (the reader sets it).
	lesson  *lessons.Lesson
	entries []liveEntry
	// lines are the entries laid out and wrapped for the pane's width,
	// kept up to date by add and setSize so that view only slices them.
	lines []string
	// gauges hold the latest sample of each cgroup counter, drawn as bars
	// above the stream rather than as a line per sample.
	gauges        []event.Metric
	running       bool
	cancel        gocontext.CancelFunc
	gen           int // tells a stopped run's late events from the current run's
	width, height int
	// scroll is how many lines the view is moved up from the newest, so
	// that a demo's earlier steps can be read back; 0 follows the stream.
	scroll int
}

// liveMsg carries one event of a running demo, or its end.
type liveMsg struct {
	gen  int
	ev   *event.Event
	done bool
	err  error
	next tea.Cmd
}

func newLivePane(ctx *common) *livePane { return &livePane{ctx: ctx} }

func (p *livePane) setSize(w, h int) {
	if w != p.width {
		p.width = w
		p.relayout()
	}
	p.height = h
}

func (p *livePane) reset() { p.entries, p.lines, p.gauges, p.scroll = nil, nil, nil, 0 }

// scrollBy moves the view up (n > 0, towards older lines) or down; the
// view clamps it.
func (p *livePane) scrollBy(n int) { p.scroll = max(p.scroll+n, 0) }

// say replaces what the pane shows with messages.
func (p *livePane) say(texts ...string) {
	p.reset()
	for _, t := range texts {
		p.add(liveEntry{text: t})
	}
}

// textWidth is the width lines are wrapped to inside the pane's border.
func (p *livePane) textWidth() int { return max(p.width-2, 10) }

// relayout lays every entry out again, after a change of width.
func (p *livePane) relayout() {
	p.lines = nil
	for _, e := range p.entries {
		p.lines = append(p.lines, p.layout(e)...)
	}
}

// layout renders one entry for the pane's width.
func (p *livePane) layout(e liveEntry) []string {
	src := []string{e.text}
	if e.ev != nil {
		src = p.format(*e.ev)
	}
	var out []string
	for _, l := range src {
		out = append(out, strings.Split(wrapAt(l, p.textWidth(), " /|"), "\n")...)
	}
	return out
}

// stop cancels a running demo; its remaining events are ignored.
func (p *livePane) stop() {
	if p.cancel != nil {
		p.cancel()
		p.cancel = nil
	}
	p.running = false
	p.gen++
}

// demoTitle is the title of the lesson's demo i, or its id when this
// build does not have it.
func (p *livePane) demoTitle(l *lessons.Lesson, i int) string {
	if lab := p.ctx.opts.Lab; lab != nil {
		if d, ok := lab.Demo(l.Demos[i]); ok && d.Title != "" {
			return d.Title
		}
	}
	return l.Demos[i]
}

// picked says which of the lesson's demos r and s now use: below a
// running demo's output, else in its place.
func (p *livePane) picked(l *lessons.Lesson, i int) {
	text := p.ctx.styles.Title.Render(fmt.Sprintf("Demo %d of %d: %s", i+1, len(l.Demos), p.demoTitle(l, i))) + "\n" +
		p.ctx.styles.Subtle.Render("r runs it, s opens a shell in a sandbox set up like its own, d picks the next.")
	if p.running {
		p.add(liveEntry{text: text})
		return
	}
	p.say(text)
}

// run starts the lesson's demo i (reader.demo), or says why there is none.
func (p *livePane) run(l *lessons.Lesson, i int) tea.Cmd {
	if p.running {
		return nil
	}
	lab := p.ctx.opts.Lab
	if lab == nil {
		p.say(noSandboxDemo)
		return nil
	}
	if len(l.Demos) == 0 {
		p.say(noLessonDemo)
		return nil
	}
	i = min(max(i, 0), len(l.Demos)-1)
	d, ok := lab.Demo(l.Demos[i])
	if !ok {
		p.say(fmt.Sprintf("The demo %q is not part of this build of kcna-lab.", l.Demos[i]))
		return nil
	}
	p.stop()
	ctx, cancel := gocontext.WithCancel(gocontext.Background())
	p.cancel, p.running = cancel, true
	running := "Running: " + d.Title
	if len(l.Demos) > 1 {
		running = fmt.Sprintf("Running demo %d of %d: %s  (d picks another)", i+1, len(l.Demos), d.Title)
	}
	p.say(p.ctx.styles.Title.Render(running))

	events := make(chan event.Event, 64)
	result := make(chan error, 1)
	go func() {
		sink := event.SinkFunc(func(e event.Event) {
			select {
			case events <- e:
			case <-ctx.Done():
			}
		})
		err := d.Run(ctx, sink)
		close(events)
		result <- err
	}()
	gen := p.gen
	var wait tea.Cmd
	wait = func() tea.Msg {
		e, ok := <-events
		if !ok {
			return liveMsg{gen: gen, done: true, err: <-result}
		}
		return liveMsg{gen: gen, ev: &e, next: wait}
	}
	return tea.Batch(wait, send(demoRunMsg{lesson: l.ID}))
}

// shellDoneMsg says the shell in the lesson's sandbox has ended and the
// terminal is the app's again. It is not a demo's end: a demo running
// meanwhile goes on.
type shellDoneMsg struct{ err error }

// shell hands the terminal to a shell in a sandbox set up like that of
// the lesson's demo i (reader.demo), and comes back.
func (p *livePane) shell(l *lessons.Lesson, i int) tea.Cmd {
	if p.ctx.opts.ShellCmd == nil {
		p.say(noSandboxShell)
		return nil
	}
	demo := ""
	if len(l.Demos) > 0 {
		demo = l.Demos[min(max(i, 0), len(l.Demos)-1)]
	}
	cmd, err := p.ctx.opts.ShellCmd(l.ID, demo)
	if err != nil {
		p.say(p.ctx.styles.StepErr.Render("No shell: " + err.Error()))
		return nil
	}
	return tea.ExecProcess(cmd, func(err error) tea.Msg {
		return shellDoneMsg{err: shellErr(err)}
	})
}

func shellErr(err error) error {
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return nil // the learner's last command failed; that is not ours to report
	}
	return err
}

// update takes a demo's events and the shell's end; it ignores what is
// not the pane's.
func (p *livePane) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case liveMsg:
		return p.event(msg)
	case shellDoneMsg:
		// Say why the shell could not run, if it could not.
		if msg.err != nil {
			p.add(liveEntry{text: p.ctx.styles.StepErr.Render("No shell: " + msg.err.Error())})
		}
	}
	return nil
}

// event shows one event of the running demo, or its end.
func (p *livePane) event(msg liveMsg) tea.Cmd {
	if msg.gen != p.gen {
		return nil
	}
	if msg.ev != nil {
		if m := msg.ev.Metric; msg.ev.Kind == event.KindMetric && m != nil {
			p.gauge(*m)
		}
		p.add(liveEntry{ev: msg.ev})
		return msg.next
	}
	if msg.done {
		p.running = false
		if msg.err != nil {
			p.add(liveEntry{text: p.ctx.styles.StepErr.Render("Cannot run here: " + msg.err.Error())})
		} else {
			p.add(liveEntry{text: p.ctx.styles.Subtle.Render("Done. Press r to run it again.")})
		}
	}
	return nil
}

func (p *livePane) add(e liveEntry) {
	p.entries = append(p.entries, e)
	if over := len(p.entries) - maxLiveEntries; over > 0 {
		p.entries = p.entries[over:]
		p.relayout()
		return
	}
	lines := p.layout(e)
	p.lines = append(p.lines, lines...)
	if p.scroll > 0 {
		p.scroll += len(lines) // a learner reading back stays where they are
	}
}

// format renders one event as the pane shows it: a step with its result and
// timing, then the shell command that would do the same.
func (p *livePane) format(e event.Event) []string {
	st := p.ctx.styles
	switch e.Kind {
	case event.KindStep:
		status := st.StepOK.Render("ok ")
		if !e.OK() {
			status = st.StepErr.Render("err")
		}
		out := []string{fmt.Sprintf("%s %s %s", status, e.Action, st.Subtle.Render(took(e.Took)))}
		if e.Shell != "" {
			out = append(out, st.Shell.Render("    $ "+e.Shell))
		}
		if !e.OK() {
			out = append(out, st.StepErr.Render("    "+e.Err))
		}
		return out
	case event.KindOutput:
		return strings.Split(strings.TrimRight(e.Text, "\n"), "\n")
	case event.KindNarration:
		return []string{"", st.Title.Render(e.Text)}
	case event.KindWarning:
		return []string{"", st.StepErr.Render("warning: " + e.Text)}
	case event.KindMetric:
		return nil // drawn as a gauge
	case event.KindCompare:
		if e.Compare == nil {
			return nil
		}
		out := []string{"", st.Title.Render(e.Compare.Title)}
		for _, l := range e.Compare.Lines(p.textWidth()) {
			out = append(out, st.Shell.Render(l))
		}
		return out
	case event.KindOOM:
		return []string{st.StepErr.Render("OOM: " + e.Text)}
	case event.KindResult:
		if e.Result == nil {
			return nil
		}
		return []string{st.Subtle.Render(fmt.Sprintf("exit status %d", e.Result.ExitCode))}
	}
	return nil
}

func took(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return d.Round(10 * time.Microsecond).String()
}

// gauge keeps the newest sample of m's counter.
func (p *livePane) gauge(m event.Metric) {
	for i := range p.gauges {
		if p.gauges[i].Name == m.Name {
			p.gauges[i] = m
			return
		}
	}
	p.gauges = append(p.gauges, m)
}

// gaugeLine draws one counter against its limit, e.g.
// "memory.current ████████░░░░  27.1 MiB of 32.0 MiB".
func (p *livePane) gaugeLine(m event.Metric, width int) string {
	st := p.ctx.styles
	value := func(v int64) string {
		if m.Unit == "bytes" {
			return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20))
		}
		return fmt.Sprint(v)
	}
	label := fmt.Sprintf("%-15s", m.Name)
	if m.Limit <= 0 {
		return label + " " + value(m.Value) + st.Subtle.Render(" (no limit)")
	}
	text := fmt.Sprintf(" %s of %s", value(m.Value), value(m.Limit))
	bar := max(width-len(label)-len(text)-2, 5)
	filled := min(int(float64(bar)*float64(m.Value)/float64(m.Limit)+0.5), bar)
	style := st.StepOK
	if m.Value*10 >= m.Limit*9 {
		style = st.StepErr
	}
	return label + " " + style.Render(strings.Repeat("█", filled)) + st.Subtle.Render(strings.Repeat("░", bar-filled)) + text
}

// view shows the gauges, then the newest lines that fit, wrapped to the
// pane's width.
func (p *livePane) view() string {
	var top []string
	for _, m := range p.gauges {
		top = append(top, p.gaugeLine(m, p.textWidth()))
	}
	wrapped := p.lines
	if len(p.entries) == 0 {
		wrapped = p.layout(liveEntry{text: p.ctx.styles.Subtle.Render(p.placeholder())})
	}
	if over := len(wrapped) + len(top) - p.height; over > 0 {
		over = min(over, len(wrapped))
		up := min(p.scroll, over)
		wrapped = wrapped[over-up : len(wrapped)-up]
		if up > 0 && len(wrapped) > 0 {
			// A copy: wrapped shares p.lines, which must keep the line.
			wrapped = append(slices.Clone(wrapped[:len(wrapped)-1]), p.ctx.styles.Subtle.Render(fmt.Sprintf("(%d newer lines below: ] scrolls down, [ up)", up)))
		}
	}
	return p.ctx.styles.Pane.Width(p.width).Height(p.height).Render(strings.Join(append(top, wrapped...), "\n"))
}

// placeholder is what an empty pane says; it names the keys.
func (p *livePane) placeholder() string {
	if p.lesson != nil && len(p.lesson.Demos) > 1 {
		return fmt.Sprintf("Live pane. This lesson has %d demos: r runs the first (%s), s opens a shell in its sandbox, d picks another.", len(p.lesson.Demos), p.demoTitle(p.lesson, 0))
	}
	return "Live pane. Press r to run this lesson's demo, s for a shell in its sandbox."
}
