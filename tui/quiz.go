package tui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// quiz asks questions one at a time with immediate feedback: a lesson's
// quiz, or as the review screen the missed questions due again (Leitner
// boxes, lessons/review.go) or one question a search found. Either way an
// answer goes to the root as an answeredMsg, which records it, and with
// it the question's box.
type quiz struct {
	ctx    *common
	lesson *lessons.Lesson // the lesson whose quiz this is; nil in review
	index  int             // lesson index in the course
	// qs are the questions asked; in review, boxes are their Leitner
	// boxes when asked (nil for a question a search found).
	qs       []*lessons.Question
	boxes    []int
	review   bool
	title    string
	q        int // question index
	cursor   int
	picked   []int
	answered bool
	correct  bool
	right    int // answered right in this sitting
	finished bool
	// short is set when a multiple-answer question was answered with
	// fewer or more picks than it asks for.
	short bool
	// follow asks layout to bring the cursor's choice (or after an
	// answer, the verdict) into view, once: a new question starts at its
	// top, the prompt.
	follow bool

	width, height int
	// lines is the page laid out for the width; scroll is the first line
	// shown. update and setSize keep them, view only slices.
	lines  []string
	scroll int
}

func newQuiz(ctx *common) *quiz { return &quiz{ctx: ctx} }

func (z *quiz) setSize(w, h int) {
	z.width, z.height = w, h
	z.layout()
}

// start begins lesson i's quiz from its first question.
func (z *quiz) start(i int) {
	l := z.ctx.course.Lessons[i]
	*z = quiz{ctx: z.ctx, width: z.width, height: z.height, index: i, lesson: l, title: "Quiz: " + l.Title}
	for j := range l.Quiz {
		z.qs = append(z.qs, &l.Quiz[j])
	}
	z.finished = len(z.qs) == 0
	z.layout()
}

// startReview asks the missed questions due now, lowest box first.
func (z *quiz) startReview() {
	due, _ := z.ctx.progress.Missed(z.ctx.course, z.ctx.now())
	*z = quiz{ctx: z.ctx, width: z.width, height: z.height, review: true, title: "Retry what you missed"}
	for _, c := range due {
		z.qs, z.boxes = append(z.qs, c.Q), append(z.boxes, c.Box)
	}
	z.finished = len(z.qs) == 0
	z.layout()
}

// startQuestion asks q alone, from the course map's search.
func (z *quiz) startQuestion(q *lessons.Question) {
	*z = quiz{ctx: z.ctx, width: z.width, height: z.height, review: true, title: "Question", qs: []*lessons.Question{q}}
	z.layout()
}

func (z *quiz) question() *lessons.Question { return z.qs[z.q] }

// lessonOf is the lesson q belongs to, and its index in the course.
func (z *quiz) lessonOf(q *lessons.Question) (*lessons.Lesson, int) {
	for i, l := range z.ctx.course.Lessons {
		if l.ID == q.LessonID {
			return l, i
		}
	}
	return nil, -1
}

// backKey is the way out: to the lesson from its quiz, to the course
// map from a review.
func (z *quiz) backKey() key.Binding {
	if z.review {
		return bindingHelp(quizKeys.Back, "q/esc", "back to the course")
	}
	return quizKeys.Back
}

func (z *quiz) ShortHelp() []key.Binding {
	k := quizKeys
	k.Back = z.backKey()
	switch {
	case z.qs == nil && !z.finished:
		return []key.Binding{k.Back}
	case z.finished:
		return []key.Binding{k.Done, k.Up, k.Back}
	case z.answered:
		return []key.Binding{k.Next, k.Up, k.Back}
	case z.question().Multi():
		return []key.Binding{k.Choice, k.Pick, k.Answer, k.Up, k.Back}
	}
	return []key.Binding{k.Choice, k.Answer, k.Up, k.Back}
}

func (z *quiz) FullHelp() [][]key.Binding { return [][]key.Binding{z.ShortHelp()} }

func (z *quiz) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok || (z.lesson == nil && !z.review) {
		return nil
	}
	cmd := z.key(km)
	z.layout()
	return cmd
}

func (z *quiz) key(km tea.KeyPressMsg) tea.Cmd {
	k := quizKeys
	switch {
	case key.Matches(km, k.Back) && z.review:
		return send(backMsg{})
	case key.Matches(km, k.Back):
		return send(resumeLessonMsg{})
	case z.finished:
		switch {
		case key.Matches(km, k.Done):
			return send(backMsg{})
		case key.Matches(km, k.Down):
			z.scroll++ // layout clamps it
		case key.Matches(km, k.Up):
			z.scroll = max(z.scroll-1, 0)
		}
		return nil
	case z.answered:
		switch {
		case key.Matches(km, k.Next):
			z.next()
		case key.Matches(km, k.Down):
			z.scroll++ // layout clamps it
		case key.Matches(km, k.Up):
			z.scroll = max(z.scroll-1, 0)
		}
		return nil
	}
	q := z.question()
	n := len(q.Choices)
	z.short, z.follow = false, true
	if i, ok := choiceOf(km, k.Choice, n); ok {
		z.cursor = i
		if q.Multi() {
			z.toggle(i)
		}
		return nil
	}
	switch {
	case key.Matches(km, k.Up):
		z.cursor = (z.cursor - 1 + n) % n
	case key.Matches(km, k.Down):
		z.cursor = (z.cursor + 1) % n
	case key.Matches(km, k.Pick) && q.Multi():
		z.toggle(z.cursor)
	case key.Matches(km, k.Answer):
		if !q.Multi() {
			z.picked = []int{z.cursor}
		}
		if len(z.picked) != len(q.Answers) {
			// "Choose 2" is not answered by one pick.
			z.short = len(z.picked) > 0
			return nil
		}
		return z.submit()
	}
	return nil
}

func (z *quiz) toggle(i int) {
	if j := slices.Index(z.picked, i); j >= 0 {
		z.picked = slices.Delete(z.picked, j, j+1)
		return
	}
	z.picked = append(z.picked, i)
}

// submit marks the answer here and sends it to the root to keep.
func (z *quiz) submit() tea.Cmd {
	q := z.question()
	z.correct = q.Correct(z.picked)
	if z.correct {
		z.right++
	}
	z.answered, z.follow = true, true
	return send(answeredMsg{q: q, picked: slices.Clone(z.picked)})
}

func (z *quiz) next() {
	z.q++
	z.cursor, z.picked, z.answered, z.scroll = 0, nil, false, 0
	if z.q >= len(z.qs) {
		z.finished = true
	}
}

// choiceIndent is the width before a choice's text: the marker column
// ("> ", "✓ ", "✗ "), the box and the letter, e.g. "> [x] b) ".
const choiceIndent = 9

// layout lays the page out for the width (at most readingWidth) and
// scrolls it: to keep the cursor's choice on screen while answering, as
// the learner moves after.
func (z *quiz) layout() {
	if z.lesson == nil && !z.review {
		return
	}
	var top, bottom int
	z.lines, top, bottom = z.page(max(min(z.width, readingWidth)-2, 20))
	if z.follow {
		if bottom >= z.scroll+z.height {
			z.scroll = bottom - z.height + 1
		}
		if top < z.scroll {
			z.scroll = top
		}
		z.follow = false
	}
	z.scroll = max(min(z.scroll, len(z.lines)-z.height), 0)
}

// page is the quiz's text as lines w wide, and the first and last line
// to keep in view: the choice under the cursor, or after an answer the
// verdict.
func (z *quiz) page(w int) (lines []string, top, bottom int) {
	st := z.ctx.styles
	add := func(s string) { lines = append(lines, strings.Split(s, "\n")...) }
	title := st.Title.Render(z.title)
	if z.finished {
		add(title)
		add(z.summary(w))
		return lines, 0, 0
	}
	q := z.question()
	add(title + st.Subtle.Render(fmt.Sprintf("  question %d of %d", z.q+1, len(z.qs))))
	if z.review {
		add(st.Subtle.Render(wrapWhole(z.from(q), w)))
	}
	add("\n" + wrapWhole(q.Prompt, w))
	if q.Multi() {
		add(st.Subtle.Render(wrapWhole(fmt.Sprintf("Choose %d: space or the letter to pick, enter to answer.", len(q.Answers)), w)))
	}
	add("")
	for i, c := range q.Choices {
		if i == z.cursor {
			top = len(lines)
		}
		add(z.choice(q, i, c, w))
		if i == z.cursor {
			bottom = len(lines) - 1
		}
	}
	if z.short {
		add("\n" + st.Wrong.Render(wrapWhole(fmt.Sprintf("This question asks for %d choices; you picked %d.", len(q.Answers), len(z.picked)), w)))
	}
	if z.answered {
		verdict := st.Right.Render("✓ Right.")
		if !z.correct {
			letters := make([]string, len(q.Answers))
			for i, a := range q.Answers {
				letters[i] = lessons.Letter(a)
			}
			verdict = st.Wrong.Render("✗ Not quite.") + " The answer is " + strings.Join(letters, " and ") + "."
		}
		add("")
		top = len(lines)
		add(wrapWhole(verdict, w))
		bottom = len(lines) - 1
		add("\n" + wrapWhole(q.Explanation, w))
	}
	return lines, top, bottom
}

// from says which lesson a reviewed question is from and, for a missed
// one, its box.
func (z *quiz) from(q *lessons.Question) string {
	where := "from lesson " + q.LessonID
	if l, _ := z.lessonOf(q); l != nil {
		where = fmt.Sprintf("from %d. %s", l.Order, l.Title)
	}
	if z.boxes != nil {
		where = fmt.Sprintf("box %d of %d, %s", z.boxes[z.q], lessons.LeitnerBoxes, where)
	}
	return where
}

// summary is the page once every question is answered.
func (z *quiz) summary(w int) string {
	st := z.ctx.styles
	switch {
	case z.lesson != nil:
		right, total := z.ctx.progress.Score(z.lesson)
		return fmt.Sprintf("\nYou answered %d of %d right this time.\nAcross all your tries: %d of %d.\n\n", z.right, len(z.qs), right, total) +
			st.Subtle.Render("Press enter to return to the course, q to the lesson.")
	case z.boxes == nil && len(z.qs) > 0:
		return "\n" + st.Subtle.Render("Press enter to return to the course.")
	}
	due, later := z.ctx.progress.Missed(z.ctx.course, z.ctx.now())
	var b strings.Builder
	if len(z.qs) == 0 {
		b.WriteString("\nNothing is due for review.\n")
	} else {
		fmt.Fprintf(&b, "\nYou answered %d of %d right this time.\n", z.right, len(z.qs))
	}
	switch {
	case len(due) > 0:
		fmt.Fprintf(&b, "%d still due now: r on the course map asks them.\n", len(due))
	case len(later) > 0:
		b.WriteString(wrapWhole(fmt.Sprintf("The next question is due %s (box %d).", later[0].Due.Local().Format("Mon 2 Jan 15:04"), later[0].Box), w) + "\n")
	}
	b.WriteString("\n" + wrapWhole("A question you miss, in a quiz or an exam, goes to box 1 and comes back here at once; each right answer moves it up a box, to come back later (boxes 2 to 5: 1, 3, 7 and 21 days), and a miss puts it back in box 1.", w) + "\n")
	return b.String() + "\n" + st.Subtle.Render("Press enter to return to the course.")
}

// choice is one choice, wrapped under its own text's start. Once
// answered, the right choices carry ✓ and a wrong pick ✗, in colour too.
func (z *quiz) choice(q *lessons.Question, i int, text string, w int) string {
	st := z.ctx.styles
	box := "( )"
	if q.Multi() {
		box = "[ ]"
	}
	if slices.Contains(z.picked, i) {
		box = box[:1] + "x" + box[2:]
	}
	mark, style := "  ", st.Subtle.UnsetForeground()
	switch {
	case z.answered && slices.Contains(q.Answers, i):
		mark, style = "✓ ", st.Right
	case z.answered && slices.Contains(z.picked, i):
		mark, style = "✗ ", st.Wrong
	case i == z.cursor && !z.answered:
		mark = "> "
	}
	body := wrapWhole(text, max(w-choiceIndent, 10))
	body = strings.ReplaceAll(body, "\n", "\n"+strings.Repeat(" ", choiceIndent))
	line := fmt.Sprintf("%s%s %s) %s", mark, box, lessons.Letter(i), body)
	if i == z.cursor && !z.answered {
		return st.Selected.Render(line)
	}
	return style.Render(line)
}

func (z *quiz) view() string {
	if z.lesson == nil && !z.review {
		return ""
	}
	end := min(z.scroll+z.height, len(z.lines))
	return truncate(strings.Join(z.lines[z.scroll:end], "\n"), z.width)
}
