package lessons

import (
	"strings"
	"unicode/utf8"
)

// Search over the whole course for the TUI's `/`: lesson titles and text,
// quiz questions and the glossary. The exam is heavy on vocabulary, so a
// learner who half-remembers a word should find where it is taught, asked
// and defined in one place.

// HitKind is what a search hit points at.
type HitKind int

// The kinds of hit, in the order results list them.
const (
	HitLesson   HitKind = iota // a lesson's title
	HitTerm                    // a glossary entry
	HitQuestion                // a quiz question
	HitText                    // a lesson's text, under a section
)

// Hit is one search result.
type Hit struct {
	Kind   HitKind
	Lesson *Lesson
	// Section is the heading the text hit is under ("" above the first).
	Section string
	// Question is set for a question hit, Term for a glossary hit.
	Question *Question
	Term     *Term
	// Snippet is the matching text, cut around the match.
	Snippet string
}

// MaxHits caps the results: past this the query is too loose to read
// through, and narrowing it is the better move.
const MaxHits = 200

// Search finds q (any case, at least two characters) in the course. Hits
// come by kind (titles, terms, questions, then text), each kind in course
// order; the text of a section gives one hit, its first match.
func (c *Course) Search(q string) []Hit {
	q = strings.ToLower(strings.TrimSpace(q))
	if utf8.RuneCountInString(q) < MinQuery {
		return nil
	}
	var byKind [HitText + 1][]Hit
	for _, it := range c.searchIndex() {
		i := strings.Index(it.lower, q)
		if i < 0 {
			continue
		}
		h := it.hit
		if h.Kind == HitLesson {
			h.Snippet = h.Lesson.Title
		} else {
			h.Snippet = cut(it.flat, i, len(q))
		}
		byKind[h.Kind] = append(byKind[h.Kind], h)
	}
	var out []Hit
	for _, hs := range byKind {
		out = append(out, hs...)
	}
	if len(out) > MaxHits {
		out = out[:MaxHits]
	}
	return out
}

// MinQuery is the shortest query Search looks for, in characters.
const MinQuery = 2

// searchable is one place Search looks: its text, flattened to one line
// without markup, and that lower-cased (the same length for the ASCII the
// course is written in; cut checks rune boundaries all the same).
type searchable struct {
	hit         Hit
	flat, lower string
}

// searchIndex prepares every place Search looks in, once per course, in
// course order: titles, questions and sections of each lesson, then the
// glossary.
func (c *Course) searchIndex() []searchable {
	c.searchOnce.Do(func() {
		add := func(h Hit, text string) {
			flat := strings.Join(strings.Fields(markup.Replace(text)), " ")
			lower := strings.ToLower(flat)
			if len(lower) != len(flat) {
				lower = flat // a case change that changes length: search as written
			}
			c.search = append(c.search, searchable{hit: h, flat: flat, lower: lower})
		}
		for _, l := range c.Lessons {
			add(Hit{Kind: HitLesson, Lesson: l}, l.Title)
			for i := range l.Quiz {
				qn := &l.Quiz[i]
				add(Hit{Kind: HitQuestion, Lesson: l, Question: qn}, questionText(qn))
			}
			for _, sec := range sections(l.Body) {
				add(Hit{Kind: HitText, Lesson: l, Section: sec.heading}, sec.text)
			}
		}
		for i := range c.Glossary {
			t := &c.Glossary[i]
			l, _ := c.Lesson(t.Lesson)
			add(Hit{Kind: HitTerm, Lesson: l, Term: t}, t.Term+": "+t.Means)
		}
	})
	return c.search
}

// questionText is what a question search looks in: the prompt, the
// choices and the explanation.
func questionText(q *Question) string {
	return q.Prompt + "\n" + strings.Join(q.Choices, "\n") + "\n" + q.Explanation
}

type section struct{ heading, text string }

// sections splits Markdown at its headings ("#" lines outside code
// fences), each named by its heading and holding it, so that a search for
// a heading's words finds its section.
func sections(body string) []section {
	var out []section
	cur := section{}
	var b strings.Builder
	fenced := false
	for line := range strings.Lines(body) {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
		}
		if !fenced && strings.HasPrefix(t, "#") {
			cur.text = b.String()
			out = append(out, cur)
			cur, b = section{heading: strings.TrimSpace(strings.TrimLeft(t, "#"))}, strings.Builder{}
		}
		b.WriteString(line)
	}
	cur.text = b.String()
	return append(out, cur)
}

// markup is the Markdown a snippet leaves out: heading marks, code
// quotes and emphasis, which read as noise in one line of plain text.
var markup = strings.NewReplacer("### ", "", "## ", "", "# ", "", "`", "", "**", "")

// snippetWidth is about how much text a snippet shows around its match.
const snippetWidth = 60

// cut returns the match at flat[i:i+n] with some text either side.
func cut(flat string, i, n int) string {
	start := max(i-snippetWidth/3, 0)
	for start > 0 && !utf8.RuneStart(flat[start]) {
		start--
	}
	end := min(i+n+snippetWidth, len(flat))
	for end < len(flat) && !utf8.RuneStart(flat[end]) {
		end++
	}
	s := flat[start:end]
	if start > 0 {
		s = "…" + s
	}
	if end < len(flat) {
		s += "…"
	}
	return s
}
