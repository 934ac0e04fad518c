package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// search is the course map's `/`: one query across lesson titles and
// text, quiz questions and the glossary (lessons.Course.Search), results
// listed as the learner types. Enter opens a result: a lesson at its top
// or at the section the text was found in, a question asked on its own
// (the answer recorded as in the lesson's quiz), or a glossary entry,
// shown here with the lesson that teaches it one enter away.
type search struct {
	ctx   *common
	input textinput.Model
	query string // the query hits were found for
	hits  []lessons.Hit
	// cursor is the hit selected; term, when set, is the glossary entry
	// shown in place of the list.
	cursor int
	term   *lessons.Hit

	width, height int
	// lines is the page laid out by update and setSize; view slices it
	// from scroll.
	lines  []string
	scroll int
}

func newSearch(ctx *common) *search {
	in := textinput.New()
	in.Prompt = "/ "
	in.Placeholder = "a word from a lesson, a question or the glossary"
	// A steady cursor: a blinking one redraws the screen twice a second,
	// for nothing, over a slow SSH link too.
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	return &search{ctx: ctx, input: in}
}

// open starts a new search, the last query kept to edit or clear.
func (s *search) open() {
	s.term = nil
	s.input.Focus()
	s.input.CursorEnd()
	s.layout()
}

// typing is always true: every key that is not the search's own is the
// query's, `?` and `q` too.
func (s *search) typing() bool { return true }

func (s *search) ShortHelp() []key.Binding {
	k := searchKeys
	if s.term != nil && s.term.Lesson != nil {
		return []key.Binding{bindingHelp(k.Open, "enter", "open the lesson"), bindingHelp(k.Back, "esc", "back to the results")}
	}
	if s.term != nil {
		return []key.Binding{bindingHelp(k.Back, "esc", "back to the results")}
	}
	return []key.Binding{k.Open, k.Up, bindingHelp(k.Back, "esc", "back to the course")}
}

func (s *search) FullHelp() [][]key.Binding { return [][]key.Binding{s.ShortHelp()} }

func (s *search) setSize(w, h int) {
	s.width, s.height = w, h
	s.input.SetWidth(max(w-4, 10))
	s.layout()
}

func (s *search) update(msg tea.Msg) tea.Cmd {
	cmd := s.handle(msg)
	s.layout()
	return cmd
}

func (s *search) handle(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := searchKeys
	switch {
	case key.Matches(km, k.Interrupt):
		return send(quitNowMsg{})
	case key.Matches(km, k.Back) && s.term != nil:
		s.term = nil
		return nil
	case key.Matches(km, k.Back):
		s.input.Blur()
		return send(backMsg{})
	case s.term != nil:
		if key.Matches(km, k.Open) && s.term.Lesson != nil {
			return send(openLessonMsg{index: s.lessonIndex(s.term.Lesson)})
		}
		return nil
	case key.Matches(km, k.Up):
		s.cursor = max(s.cursor-1, 0)
		return nil
	case key.Matches(km, k.Down):
		s.cursor = min(s.cursor+1, max(len(s.hits)-1, 0))
		return nil
	case key.Matches(km, k.Open):
		return s.openHit()
	}
	var cmd tea.Cmd
	s.input, cmd = s.input.Update(msg)
	if q := s.input.Value(); q != s.query {
		s.query, s.hits, s.cursor, s.scroll = q, s.ctx.course.Search(q), 0, 0
	}
	return cmd
}

// openHit opens the selected hit where it points.
func (s *search) openHit() tea.Cmd {
	if s.cursor >= len(s.hits) {
		return nil
	}
	h := s.hits[s.cursor]
	switch h.Kind {
	case lessons.HitTerm:
		s.term = &h
		return nil
	case lessons.HitQuestion:
		return send(openQuestionMsg{q: h.Question})
	case lessons.HitText:
		return send(openSectionMsg{index: s.lessonIndex(h.Lesson), section: h.Section})
	}
	return send(openLessonMsg{index: s.lessonIndex(h.Lesson)})
}

func (s *search) lessonIndex(l *lessons.Lesson) int {
	for i, cl := range s.ctx.course.Lessons {
		if cl == l {
			return i
		}
	}
	return 0
}

// label names a hit: what it is and where.
func label(h lessons.Hit) string {
	l := h.Lesson
	switch h.Kind {
	case lessons.HitTerm:
		return "Glossary: " + h.Term.Term
	case lessons.HitQuestion:
		return fmt.Sprintf("Question in %d. %s", l.Order, l.Title)
	case lessons.HitText:
		if h.Section != "" {
			return fmt.Sprintf("%d. %s › %s", l.Order, l.Title, h.Section)
		}
		return fmt.Sprintf("%d. %s", l.Order, l.Title)
	}
	return fmt.Sprintf("Lesson %d. %s", l.Order, l.Title)
}

// layout lays the page out: the query, then either the glossary entry
// shown or the hits, two lines each, scrolled to keep the cursor's hit
// in view.
func (s *search) layout() {
	st := s.ctx.styles
	w := max(min(s.width, readingWidth)-2, 20)
	s.lines = []string{s.input.View()}
	if s.term != nil {
		t := s.term.Term
		s.lines = append(s.lines, "", st.Title.Render(t.Term))
		s.lines = append(s.lines, strings.Split(wrapWhole(t.Means, w), "\n")...)
		if s.term.Lesson != nil {
			s.lines = append(s.lines, "", st.Subtle.Render(wrapWhole(fmt.Sprintf("Taught in lesson %d, %s: enter opens it.", s.term.Lesson.Order, s.term.Lesson.Title), w)))
		}
		s.scroll = 0
		return
	}
	switch n := len(s.hits); {
	case len([]rune(strings.TrimSpace(s.query))) < lessons.MinQuery:
		s.lines = append(s.lines, st.Subtle.Render("Type two letters or more: lesson titles and text, questions and the glossary are searched."))
	case n == 0:
		s.lines = append(s.lines, st.Subtle.Render(fmt.Sprintf("Nothing in the course matches %q.", s.query)))
	case n == lessons.MaxHits:
		s.lines = append(s.lines, st.Subtle.Render(fmt.Sprintf("the first %d results; type more to narrow them", n)))
	default:
		s.lines = append(s.lines, st.Subtle.Render(fmt.Sprintf("%d result(s), ↑/↓ and enter", n)))
	}
	const head = 2 // the query and the count stay at the top
	for i, h := range s.hits {
		cursor, name := "  ", label(h)
		if i == s.cursor {
			cursor, name = st.Selected.Render("> "), st.Selected.Render(name)
		}
		s.lines = append(s.lines, cursor+name, "    "+st.Subtle.Render(h.Snippet))
	}
	rows := max(s.height-head, 2)
	top := head + 2*s.cursor
	if top+1 >= head+s.scroll+rows {
		s.scroll = top + 2 - head - rows
	}
	if top < head+s.scroll {
		s.scroll = top - head
	}
	s.scroll = max(min(s.scroll, len(s.lines)-head-rows), 0)
}

func (s *search) view() string {
	if s.term != nil || len(s.lines) <= 2 {
		return truncate(strings.Join(s.lines[:min(len(s.lines), max(s.height, 1))], "\n"), s.width)
	}
	rows := max(s.height-2, 2)
	body := s.lines[2+s.scroll : min(2+s.scroll+rows, len(s.lines))]
	return truncate(strings.Join(append(s.lines[:2:2], body...), "\n"), s.width)
}
