package tui

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

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
	*z = quiz{ctx: z.ctx, width: z.width, height: z.height, index: i, lesson: z.ctx.course.Lessons[i]}
	z.finished = len(z.lesson.Quiz) == 0
	z.layout()
}

func (z *quiz) question() *lessons.Question { return &z.lesson.Quiz[z.q] }

func (z *quiz) ShortHelp() []key.Binding {
	k := quizKeys
	switch {
	case z.lesson == nil:
		return []key.Binding{k.Back}
	case z.finished:
		return []key.Binding{k.Done, k.Back}
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
	if !ok || z.lesson == nil {
		return nil
	}
	cmd := z.key(km)
	z.layout()
	return cmd
}

func (z *quiz) key(km tea.KeyPressMsg) tea.Cmd {
	k := quizKeys
	switch {
	case key.Matches(km, k.Back):
		return send(resumeLessonMsg{})
	case z.finished:
		if key.Matches(km, k.Done) {
			return send(backMsg{})
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
	if z.q >= len(z.lesson.Quiz) {
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
	if z.lesson == nil {
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
	title := st.Title.Render(fmt.Sprintf("Quiz: %s", z.lesson.Title))
	if z.finished {
		add(title)
		right, total := z.ctx.progress.Score(z.lesson)
		add(fmt.Sprintf("\nYou answered %d of %d right this time.\nAcross all your tries: %d of %d.\n", z.right, len(z.lesson.Quiz), right, total))
		add(st.Subtle.Render("Press enter to return to the course, q to the lesson."))
		return lines, 0, 0
	}
	q := z.question()
	add(title + st.Subtle.Render(fmt.Sprintf("  question %d of %d", z.q+1, len(z.lesson.Quiz))))
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
	if z.lesson == nil {
		return ""
	}
	end := min(z.scroll+z.height, len(z.lines))
	return truncate(strings.Join(z.lines[z.scroll:end], "\n"), z.width)
}
