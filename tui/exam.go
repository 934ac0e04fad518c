package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// mockExam is the timed mock exam: a start page, the questions one at a
// time under a countdown, an overview to jump between them and submit, the
// results, and a review of every question.
type mockExam struct {
	ctx  *common
	page examPage

	exam   *lessons.Exam
	err    error // why there is no exam (a course without questions)
	picks  [][]int
	marked []bool
	q      int // the question shown
	cursor int // the choice under the cursor
	cell   int // the overview's cursor

	started, deadline, now time.Time
	// gen numbers the running exam; a tick of an older one is dropped.
	gen  int
	tick func(gen int) tea.Cmd

	result     *lessons.ExamResult
	review     []lessons.ReviewItem
	r          int      // the review item shown
	wrongOnly  bool     // review only what was not right
	reviewBack examPage // where esc leaves the review for
	// scroll is the first body line shown, kept on the focused line (the
	// cursor's choice, the overview's cell) by update and setSize.
	scroll int

	width, height int
}

type examPage int

const (
	examStart examPage = iota
	examQuestion
	examOverview
	examResults
	examReview
)

// examTickMsg is the countdown's heartbeat.
type examTickMsg struct{ gen int }

func newMockExam(ctx *common) *mockExam {
	return &mockExam{ctx: ctx, tick: examTick}
}

func examTick(gen int) tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return examTickMsg{gen: gen} })
}

func (z *mockExam) setSize(w, h int) {
	z.width, z.height = w, h
	z.follow()
}

// open shows the start page of a freshly drawn exam.
func (z *mockExam) open(now time.Time) tea.Cmd {
	*z = mockExam{ctx: z.ctx, tick: z.tick, gen: z.gen + 1, width: z.width, height: z.height, now: now}
	z.exam, z.err = lessons.NewExam(z.ctx.course, lessons.ExamOptions{Seed: now.UnixNano()})
	if z.err == nil {
		z.picks = make([][]int, len(z.exam.Items))
		z.marked = make([]bool, len(z.exam.Items))
	}
	return nil
}

func (z *mockExam) running() bool { return z.page == examQuestion || z.page == examOverview }

func (z *mockExam) ShortHelp() []key.Binding {
	k := examKeys
	var b []key.Binding
	switch z.page {
	case examStart:
		b = []key.Binding{k.Back}
		if z.err == nil {
			b = []key.Binding{k.Start, k.Back}
		}
		if _, ok := z.ctx.progress.LastExam(); ok {
			b = slices.Insert(b, len(b)-1, k.Review)
		}
	case examQuestion:
		// Most needed first, the way out last: a narrow footer drops
		// from the middle.
		b = []key.Binding{k.Up, k.Pick, k.Answer, k.Mark, k.Prev, k.Overview}
	case examOverview:
		b = []key.Binding{k.Up, k.Go, k.Submit, bindingHelp(k.Overview, "esc", "back to the question")}
	case examResults:
		b = []key.Binding{k.Review, k.Done}
	case examReview:
		b = []key.Binding{k.Prev, k.Scroll, k.WrongOnly, k.Back}
	}
	return b
}

func (z *mockExam) FullHelp() [][]key.Binding { return [][]key.Binding{z.ShortHelp()} }

// update runs the countdown and takes the page's keys, then keeps the
// focused line on screen.
func (z *mockExam) update(msg tea.Msg) tea.Cmd {
	cmd := z.handle(msg, z.ctx.now())
	z.follow()
	return cmd
}

func (z *mockExam) handle(msg tea.Msg, now time.Time) tea.Cmd {
	z.now = now
	switch msg := msg.(type) {
	case examTickMsg:
		if msg.gen != z.gen || !z.running() {
			return nil
		}
		if !now.Before(z.deadline) {
			return z.submit(now, true)
		}
		return z.tick(z.gen)
	case tea.KeyPressMsg:
		if z.running() && !now.Before(z.deadline) {
			return z.submit(now, true) // nothing is taken after the deadline
		}
		switch z.page {
		case examStart:
			return z.updateStart(msg, now)
		case examQuestion:
			z.updateQuestion(msg)
		case examOverview:
			return z.updateOverview(msg, now)
		case examResults:
			return z.updateResults(msg)
		case examReview:
			z.updateReview(msg)
		}
	}
	return nil
}

func (z *mockExam) updateStart(km tea.KeyPressMsg, now time.Time) tea.Cmd {
	k := examKeys
	switch {
	case key.Matches(km, k.Back):
		return send(backMsg{})
	case key.Matches(km, k.Review):
		if r, ok := z.ctx.progress.LastExam(); ok {
			z.showReview(r, examStart)
		}
	case key.Matches(km, k.Start) && z.err == nil:
		z.started, z.deadline = now, now.Add(z.exam.Duration)
		z.page, z.q, z.cursor, z.scroll = examQuestion, 0, 0, 0
		z.gen++
		return z.tick(z.gen)
	}
	return nil
}

func (z *mockExam) item() lessons.ExamItem { return z.exam.Items[z.q] }

func (z *mockExam) updateQuestion(km tea.KeyPressMsg) {
	k := examKeys
	it := z.item()
	n := len(it.Order)
	// A letter of one of this question's choices always picks it.
	if i, ok := choiceOf(km, k.Choice, n); ok {
		z.cursor = i
		z.pick(i)
		return
	}
	switch {
	case key.Matches(km, k.Up):
		z.cursor = (z.cursor - 1 + n) % n
	case key.Matches(km, k.Down):
		z.cursor = (z.cursor + 1) % n
	case key.Matches(km, k.Pick):
		z.pick(z.cursor)
	case key.Matches(km, k.Answer):
		if !it.Q.Multi() {
			z.picks[z.q] = []int{z.cursor}
		}
		if z.q == len(z.exam.Items)-1 {
			z.showOverview()
		} else {
			z.goTo(z.q + 1)
		}
	case key.Matches(km, k.Next):
		if z.q < len(z.exam.Items)-1 {
			z.goTo(z.q + 1)
		}
	case key.Matches(km, k.Prev):
		if z.q > 0 {
			z.goTo(z.q - 1)
		}
	case key.Matches(km, k.Mark):
		z.marked[z.q] = !z.marked[z.q]
	case key.Matches(km, k.Overview):
		z.showOverview()
	}
}

// pick chooses a choice: the only one for a single-answer question (again
// to take it back), one more or one less for a multiple-answer one.
func (z *mockExam) pick(i int) {
	p := z.picks[z.q]
	switch {
	case slices.Contains(p, i):
		p = slices.DeleteFunc(slices.Clone(p), func(x int) bool { return x == i })
	case z.item().Q.Multi():
		p = append(slices.Clone(p), i)
		slices.Sort(p)
	default:
		p = []int{i}
	}
	z.picks[z.q] = p
}

func (z *mockExam) goTo(q int) {
	z.page, z.q, z.scroll = examQuestion, q, 0
	z.cursor = 0
	if p := z.picks[q]; len(p) > 0 {
		z.cursor = p[0]
	}
}

func (z *mockExam) showOverview() {
	z.page, z.cell = examOverview, z.q
}

// columns is how many overview cells fit across.
func (z *mockExam) columns() int { return max(min((z.width-2)/8, 10), 1) }

func (z *mockExam) updateOverview(km tea.KeyPressMsg, now time.Time) tea.Cmd {
	k := examKeys
	n := len(z.exam.Items)
	cols := z.columns()
	switch {
	case key.Matches(km, k.Submit):
		return z.submit(now, false)
	case key.Matches(km, k.Go):
		z.goTo(z.cell)
	case key.Matches(km, k.Overview): // esc: back to the question
		z.goTo(z.q)
	case key.Matches(km, k.Prev):
		z.cell = max(z.cell-1, 0)
	case key.Matches(km, k.Next):
		z.cell = min(z.cell+1, n-1)
	case key.Matches(km, k.Up):
		if z.cell-cols >= 0 {
			z.cell -= cols
		}
	case key.Matches(km, k.Down):
		if z.cell+cols < n {
			z.cell += cols
		}
	}
	return nil
}

// submit scores the exam, shows the result and sends it to the root to
// keep in progress.
func (z *mockExam) submit(now time.Time, timedOut bool) tea.Cmd {
	r := z.exam.Grade(z.picks, z.started, now, timedOut)
	z.result = &r
	z.review = r.Review(z.ctx.course)
	z.page = examResults
	z.gen++ // stops the countdown
	return send(examTakenMsg{result: r})
}

func (z *mockExam) updateResults(km tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(km, examKeys.Review):
		z.showReview(*z.result, examResults)
	case key.Matches(km, examKeys.Done):
		return send(backMsg{})
	}
	return nil
}

func (z *mockExam) showReview(r lessons.ExamResult, from examPage) {
	z.review = r.Review(z.ctx.course)
	z.page, z.reviewBack, z.r, z.scroll, z.wrongOnly = examReview, from, 0, 0, false
	if z.result == nil || from == examStart {
		z.result = &r
	}
}

// shown are the review items on view: all, or only those not right.
func (z *mockExam) shown() []int {
	var out []int
	for i, it := range z.review {
		if !z.wrongOnly || !it.Answer.Right {
			out = append(out, i)
		}
	}
	return out
}

func (z *mockExam) updateReview(km tea.KeyPressMsg) {
	k := examKeys
	shown := z.shown()
	pos := max(slices.Index(shown, z.r), 0)
	switch {
	case key.Matches(km, k.Back):
		z.page = z.reviewBack
	case key.Matches(km, k.Next):
		if pos+1 < len(shown) {
			z.r, z.scroll = shown[pos+1], 0
		}
	case key.Matches(km, k.Prev):
		if pos > 0 {
			z.r, z.scroll = shown[pos-1], 0
		}
	case key.Matches(km, k.Down):
		z.scroll++
	case key.Matches(km, k.Up):
		z.scroll = max(z.scroll-1, 0)
	case key.Matches(km, k.WrongOnly):
		z.wrongOnly = !z.wrongOnly
		if s := z.shown(); len(s) > 0 && !slices.Contains(s, z.r) {
			z.r = s[0]
		}
		z.scroll = 0
	}
}

// follow keeps the focused line of the page (if it has one) on screen
// and the scroll within the page.
func (z *mockExam) follow() {
	header, body, focus := z.layout()
	h := max(z.height-len(header), 1)
	if focus >= 0 {
		if focus < z.scroll {
			z.scroll = focus
		}
		if focus >= z.scroll+h {
			z.scroll = focus - h + 1
		}
	}
	z.scroll = max(min(z.scroll, len(body)-h), 0)
}

// view draws the page from the scroll follow keeps. Text is plain and
// wrapped here; nothing is rendered as Markdown.
func (z *mockExam) view() string {
	header, body, _ := z.layout()
	h := max(z.height-len(header), 1)
	start := max(min(z.scroll, len(body)-h), 0)
	end := min(start+h, len(body))
	lines := append(slices.Clip(header), body[start:end]...)
	return truncate(strings.Join(lines, "\n"), z.width)
}

// layout is the page as header and body lines, and the body line to keep
// on screen (-1 for none).
func (z *mockExam) layout() (header, body []string, focus int) {
	focus = -1
	if z.exam == nil && z.err == nil && z.page == examStart {
		return nil, nil, -1 // not opened yet
	}
	switch z.page {
	case examStart:
		header, body = z.viewStart()
	case examQuestion:
		header, body, focus = z.viewQuestion()
	case examOverview:
		header, body, focus = z.viewOverview()
	case examResults:
		header, body = z.viewResults()
	case examReview:
		header, body = z.viewReview()
	}
	return header, body, focus
}

// wrapWidth is the width text is wrapped to, at most readingWidth.
func (z *mockExam) wrapWidth() int { return max(min(z.width, readingWidth)-2, 20) }

// wrap breaks plain text to the screen's width as lines.
func (z *mockExam) wrap(s string, indent int) []string {
	pad := strings.Repeat(" ", indent)
	lines := strings.Split(ansi.Wrap(strings.TrimSpace(s), z.wrapWidth()-indent, " "), "\n")
	for i := range lines {
		lines[i] = pad + lines[i]
	}
	return lines
}

// titleBar is a title with text on the right, e.g. the time left.
func (z *mockExam) titleBar(title, right string) string {
	gap := z.width - lipgloss.Width(title) - lipgloss.Width(right)
	if gap < 1 {
		return title + " " + right
	}
	return title + strings.Repeat(" ", gap) + right
}

func (z *mockExam) clock() string {
	left := z.deadline.Sub(z.now)
	text := lessons.ClockText(left) + " left"
	if left < 5*time.Minute {
		return z.ctx.styles.Wrong.Render(text)
	}
	return z.ctx.styles.Title.Render(text)
}

func (z *mockExam) viewStart() (header, body []string) {
	st := z.ctx.styles
	header = []string{st.Title.Render("Practice exam"), ""}
	if z.err != nil {
		body = append(body, z.wrap("There is no exam to take: "+z.err.Error()+". Add questions to the lessons first.", 0)...)
		return header, body
	}
	e := z.exam
	header[0] = st.Title.Render(e.Name())
	body = append(body, z.wrap(fmt.Sprintf("%d questions from every lesson, drawn by the KCNA blueprint (CNCF curriculum, November 2025):", len(e.Items)), 0)...)
	for _, l := range lessons.PlanTable(e.Plan) {
		body = append(body, "  "+l)
	}
	if c := e.Caveat(); c != "" {
		body = append(body, "")
		body = append(body, z.wrap(c, 0)...)
	}
	body = append(body, "",
		fmt.Sprintf("Time:       %s (%s a question)", lessons.ClockText(e.Duration), lessons.ClockText(lessons.ExamTimePerQuestion)),
		fmt.Sprintf("Pass mark:  %d%%", e.PassPercent))
	if r, ok := z.ctx.progress.LastExam(); ok {
		body = append(body, fmt.Sprintf("Last exam:  %d of %d (%d%%), %s, on %s.", r.Score, r.Total, r.Percent(),
			passWord(st, r), r.At.Local().Format("2006-01-02 15:04")))
	}
	body = append(body, "")
	body = append(body, z.wrap("As on the real exam, a multiple-answer question counts only when every right choice and no wrong one is picked. Answers can be changed and questions marked for review until you submit; at the deadline the exam is submitted as it stands.", 0)...)
	body = append(body, "", st.Subtle.Render("Press enter to start the clock."))
	return header, body
}

func passWord(st Styles, r lessons.ExamResult) string {
	if r.Passed {
		return st.Right.Render("PASS")
	}
	return st.Wrong.Render("FAIL")
}

// counts is how many questions are answered and marked.
func (z *mockExam) counts() (answered, marked int) {
	for i := range z.picks {
		if len(z.picks[i]) > 0 {
			answered++
		}
		if z.marked[i] {
			marked++
		}
	}
	return answered, marked
}

func (z *mockExam) viewQuestion() (header, body []string, focus int) {
	st := z.ctx.styles
	it := z.item()
	answered, marked := z.counts()
	title := st.Title.Render(fmt.Sprintf("Question %d of %d", z.q+1, len(z.exam.Items))) +
		st.Subtle.Render(fmt.Sprintf("  answered %d · marked %d", answered, marked))
	sub := st.Subtle.Render(it.Domain)
	if z.marked[z.q] {
		sub += "  " + st.Notice.Render("[marked for review]")
	}
	header = []string{z.titleBar(title, z.clock()), sub, ""}
	body = z.wrap(it.Q.Prompt, 0)
	hint := "Pick one: press its letter, or move to it and press enter."
	if it.Q.Multi() {
		hint = fmt.Sprintf("Choose %d: press each one's letter (or space on it), then enter.", len(it.Q.Answers))
	}
	for _, l := range z.wrap(hint, 0) {
		body = append(body, st.Subtle.Render(l))
	}
	body = append(body, "")
	box := "( )"
	if it.Q.Multi() {
		box = "[ ]"
	}
	focus = len(body)
	for i, c := range it.Choices() {
		b := box
		if slices.Contains(z.picks[z.q], i) {
			b = box[:1] + "x" + box[2:]
		}
		cursor := "  "
		if i == z.cursor {
			cursor = st.Selected.Render("> ")
			focus = len(body)
		}
		lines := strings.Split(ansi.Wrap(fmt.Sprintf("%s %s) %s", b, lessons.Letter(i), c), z.wrapWidth()-2, " "), "\n")
		for j, l := range lines {
			if j == 0 {
				body = append(body, cursor+l)
			} else {
				body = append(body, "         "+l)
			}
		}
	}
	return header, body, focus
}

func (z *mockExam) viewOverview() (header, body []string, focus int) {
	st := z.ctx.styles
	answered, marked := z.counts()
	n := len(z.exam.Items)
	header = []string{
		z.titleBar(st.Title.Render("Overview"), z.clock()),
		fmt.Sprintf("%d of %d answered · %d not answered · %d marked for review", answered, n, n-answered, marked),
		"",
	}
	cols := z.columns()
	var row strings.Builder
	for i := range n {
		state := "."
		if len(z.picks[i]) > 0 {
			state = "x"
		}
		if z.marked[i] {
			state += "*"
		}
		cell := fmt.Sprintf("%2d %-2s", i+1, state)
		if i == z.cell {
			cell = st.Selected.Render("[" + cell + "]")
			focus = len(body)
		} else {
			cell = " " + cell + " "
		}
		row.WriteString(cell + " ")
		if (i+1)%cols == 0 || i == n-1 {
			body = append(body, strings.TrimRight(row.String(), " "))
			row.Reset()
		}
	}
	body = append(body, "", st.Subtle.Render("x answered   . not answered   * marked for review"), "")
	if answered < n {
		body = append(body, z.wrap(fmt.Sprintf("%d question(s) have no answer; unanswered questions count as wrong.", n-answered), 0)...)
	}
	body = append(body, z.wrap("Press s to submit the exam, or enter to go to a question.", 0)...)
	return header, body, focus
}

func (z *mockExam) viewResults() (header, body []string) {
	st := z.ctx.styles
	r := z.result
	header = []string{st.Title.Render("Mock exam results"), ""}
	body = append(body,
		fmt.Sprintf("%s  %d of %d right (%d%%); the pass mark is %d%%.", passWord(st, *r), r.Score, r.Total, r.Percent(), r.PassPercent))
	took := fmt.Sprintf("Time: %s of %s", lessons.ClockText(time.Duration(r.Seconds)*time.Second),
		lessons.ClockText(time.Duration(r.LimitSeconds)*time.Second))
	if r.TimedOut {
		took += st.Notice.Render("  time ran out: submitted at the deadline")
	}
	body = append(body, took, "", st.Title.Render("By domain"))
	for _, d := range r.Domains {
		pct := 0
		if d.Total > 0 {
			pct = d.Right * 100 / d.Total
		}
		line := fmt.Sprintf("  %-34s %3d/%-3d %3d%%", d.Domain, d.Right, d.Total, pct)
		body = append(body, line)
	}
	if c := lessons.ResultCaveat(*r); c != "" {
		body = append(body, "")
		body = append(body, z.wrap(c, 0)...)
	}
	body = append(body, "")
	for _, l := range z.wrap("Saved to your progress. Press r to review every question: your answer, the right one, and why.", 0) {
		body = append(body, st.Subtle.Render(l))
	}
	return header, body
}

func (z *mockExam) viewReview() (header, body []string) {
	st := z.ctx.styles
	shown := z.shown()
	if len(shown) == 0 {
		return []string{st.Title.Render("Review"), ""}, []string{"Every answer was right: nothing to review. Press w to see them all."}
	}
	it := z.review[z.r]
	verdict := st.Right.Render("✓ RIGHT")
	switch {
	case len(it.Given) == 0:
		verdict = st.Wrong.Render("✗ NOT ANSWERED")
	case !it.Answer.Right:
		verdict = st.Wrong.Render("✗ WRONG")
	}
	pos := max(slices.Index(shown, z.r), 0)
	title := st.Title.Render(fmt.Sprintf("Review %d of %d", pos+1, len(shown)))
	if z.wrongOnly {
		title += st.Subtle.Render(" (not right only)")
	}
	header = []string{
		z.titleBar(title, fmt.Sprintf("question %d · %s", it.Number, verdict)),
		st.Subtle.Render(it.Answer.Domain + " · " + it.Answer.ID),
		"",
	}
	if it.Question == nil {
		body = append(body, "This question is no longer in the course, or has changed since.")
	} else {
		body = append(body, z.wrap(it.Question.Prompt, 0)...)
		body = append(body, "")
		for i := range it.Choices {
			// The right choices carry ✓ and a wrong pick ✗: not only
			// colour tells them apart.
			lines := z.wrap(it.ChoiceLine(i), 2)
			style := lipgloss.NewStyle()
			switch {
			case slices.Contains(it.Correct, i):
				style, lines[0] = st.Right, "✓ "+strings.TrimPrefix(lines[0], "  ")
			case slices.Contains(it.Given, i):
				style, lines[0] = st.Wrong, "✗ "+strings.TrimPrefix(lines[0], "  ")
			}
			for _, l := range lines {
				body = append(body, style.Render(l))
			}
		}
	}
	given := "none"
	if len(it.Given) > 0 {
		given = letters(it.Given)
	}
	body = append(body, "", fmt.Sprintf("Your answer: %s   Right answer: %s", given, letters(it.Correct)))
	if it.Question != nil {
		body = append(body, "")
		body = append(body, z.wrap(it.Question.Explanation, 0)...)
	}
	return header, body
}

func letters(idx []int) string {
	ls := make([]string, len(idx))
	for i, x := range idx {
		ls[i] = lessons.Letter(x)
	}
	return strings.Join(ls, ", ")
}
