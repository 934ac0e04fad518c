package tui

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// quiz asks a lesson's questions one at a time with immediate feedback.
type quiz struct {
	ctx      *common
	lesson   *lessons.Lesson
	index    int // lesson index in the course
	q        int // question index
	cursor   int
	picked   []int
	answered bool
	correct  bool
	right    int // answered right in this sitting
	finished bool

	width, height int
	scroll        int
}

func newQuiz(ctx *common) *quiz { return &quiz{ctx: ctx} }

func (z *quiz) setSize(w, h int) { z.width, z.height = w, h }

// start begins lesson i's quiz from its first question.
func (z *quiz) start(i int) {
	*z = quiz{ctx: z.ctx, width: z.width, height: z.height, index: i, lesson: z.ctx.course.Lessons[i]}
	z.finished = len(z.lesson.Quiz) == 0
}

func (z *quiz) question() *lessons.Question { return &z.lesson.Quiz[z.q] }

func (z *quiz) keys() helpKeys {
	k := z.ctx.keys
	switch {
	case z.finished:
		return helpKeys{short: []key.Binding{k.Back}, full: []key.Binding{k.Back}}
	case z.answered:
		return helpKeys{short: []key.Binding{k.NextQ, k.Back}, full: []key.Binding{k.NextQ, k.Back}}
	case z.question().Multi():
		return helpKeys{short: []key.Binding{k.Up, k.Down, k.Toggle, k.Submit, k.Back},
			full: []key.Binding{k.Up, k.Down, k.Toggle, k.Submit, k.Back}}
	}
	return helpKeys{short: []key.Binding{k.Up, k.Down, k.Submit, k.Back},
		full: []key.Binding{k.Up, k.Down, k.Submit, k.Back}}
}

func (z *quiz) update(msg tea.Msg, now time.Time) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := z.ctx.keys
	if key.Matches(km, k.Back) {
		return func() tea.Msg { return backMsg{} }
	}
	if z.finished {
		if key.Matches(km, k.Open) {
			return func() tea.Msg { return backMsg{} }
		}
		return nil
	}
	if z.answered {
		switch {
		case key.Matches(km, k.NextQ):
			z.next()
		case km.String() == "down" || km.String() == "j":
			z.scroll++
		case km.String() == "up" || km.String() == "k":
			z.scroll = max(z.scroll-1, 0)
		}
		return nil
	}
	q := z.question()
	switch {
	case key.Matches(km, k.Up):
		z.cursor = (z.cursor - 1 + len(q.Choices)) % len(q.Choices)
	case key.Matches(km, k.Down):
		z.cursor = (z.cursor + 1) % len(q.Choices)
	case key.Matches(km, k.Toggle) && q.Multi():
		z.toggle(z.cursor)
	case key.Matches(km, k.Submit):
		if !q.Multi() {
			z.picked = []int{z.cursor}
		}
		if len(z.picked) == 0 {
			return nil
		}
		return z.submit(now)
	default:
		// A letter picks that choice, as printed before it.
		if s := km.String(); len(s) == 1 && s[0] >= 'a' && int(s[0]-'a') < len(q.Choices) {
			z.cursor = int(s[0] - 'a')
			if q.Multi() {
				z.toggle(z.cursor)
			}
		}
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

func (z *quiz) submit(now time.Time) tea.Cmd {
	z.correct = z.ctx.progress.RecordAnswer(z.question(), z.picked, now)
	if z.correct {
		z.right++
	}
	z.answered = true
	return func() tea.Msg { return saveMsg{} }
}

func (z *quiz) next() {
	z.q++
	z.cursor, z.picked, z.answered, z.scroll = 0, nil, false, 0
	if z.q >= len(z.lesson.Quiz) {
		z.finished = true
	}
}

func (z *quiz) view() string {
	st := z.ctx.styles
	w := max(z.width-2, 20)
	var b strings.Builder
	b.WriteString(st.Title.Render(fmt.Sprintf("Quiz: %s", z.lesson.Title)))
	if z.finished {
		fmt.Fprintf(&b, "\n\nYou answered %d of %d right this time.\n", z.right, len(z.lesson.Quiz))
		right, total := z.ctx.progress.Score(z.lesson)
		fmt.Fprintf(&b, "Across all your tries: %d of %d.\n\n", right, total)
		b.WriteString(st.Subtle.Render("Press enter to return to the course."))
		return truncate(b.String(), z.width)
	}
	q := z.question()
	b.WriteString(st.Subtle.Render(fmt.Sprintf("  question %d of %d", z.q+1, len(z.lesson.Quiz))))
	b.WriteString("\n\n" + ansi.Wrap(q.Prompt, w, " ") + "\n")
	if q.Multi() {
		b.WriteString(st.Subtle.Render(fmt.Sprintf("Choose %d: space or the letter to pick, enter to answer.", len(q.Answers))) + "\n")
	}
	b.WriteString("\n")
	for i, c := range q.Choices {
		b.WriteString(z.choice(q, i, c, w))
	}
	if z.answered {
		verdict := st.Right.Render("Right.")
		if !z.correct {
			letters := make([]string, len(q.Answers))
			for i, a := range q.Answers {
				letters[i] = lessons.Letter(a)
			}
			verdict = st.Wrong.Render("Not quite.") + " The answer is " + strings.Join(letters, " and ") + "."
		}
		b.WriteString("\n" + verdict + "\n\n" + ansi.Wrap(q.Explanation, w, " ") + "\n")
	}
	lines := strings.Split(b.String(), "\n")
	if z.answered && len(lines) > z.height {
		start := min(z.scroll, len(lines)-z.height)
		lines = lines[start:]
	}
	return truncate(strings.Join(lines, "\n"), z.width)
}

// choice is one line (or more, wrapped) of a question's choices.
func (z *quiz) choice(q *lessons.Question, i int, text string, w int) string {
	st := z.ctx.styles
	box := "( )"
	if q.Multi() {
		box = "[ ]"
	}
	if slices.Contains(z.picked, i) {
		box = box[:1] + "x" + box[2:]
	}
	cursor := "  "
	if i == z.cursor && !z.answered {
		cursor = st.Selected.Render("> ")
	}
	line := fmt.Sprintf("%s %s) %s", box, lessons.Letter(i), text)
	body := ansi.Wrap(line, w-2, " ")
	body = strings.ReplaceAll(body, "\n", "\n         ")
	if z.answered && slices.Contains(q.Answers, i) {
		body = st.Right.Render(body)
	} else if z.answered && slices.Contains(z.picked, i) {
		body = st.Wrong.Render(body)
	}
	return cursor + body + "\n"
}
