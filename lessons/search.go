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
	if utf8.RuneCountInString(q) < 2 {
		return nil
	}
	var byKind [HitText + 1][]Hit
	add := func(h Hit) { byKind[h.Kind] = append(byKind[h.Kind], h) }
	for _, l := range c.Lessons {
		if strings.Contains(strings.ToLower(l.Title), q) {
			add(Hit{Kind: HitLesson, Lesson: l, Snippet: l.Title})
		}
		for i := range l.Quiz {
			qn := &l.Quiz[i]
			if s, ok := snippet(questionText(qn), q); ok {
				add(Hit{Kind: HitQuestion, Lesson: l, Question: qn, Snippet: s})
			}
		}
		for _, sec := range sections(l.Body) {
			if s, ok := snippet(sec.text, q); ok {
				add(Hit{Kind: HitText, Lesson: l, Section: sec.heading, Snippet: s})
			}
		}
	}
	for i := range c.Glossary {
		t := &c.Glossary[i]
		if s, ok := snippet(t.Term+": "+t.Means, q); ok {
			l, _ := c.Lesson(t.Lesson)
			add(Hit{Kind: HitTerm, Lesson: l, Term: t, Snippet: s})
		}
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

// snippet finds q (lower case) in text and returns the match with some
// text either side, on one line.
func snippet(text, q string) (string, bool) {
	flat := strings.Join(strings.Fields(markup.Replace(text)), " ")
	i := strings.Index(strings.ToLower(flat), q)
	if i < 0 {
		return "", false
	}
	start := max(i-snippetWidth/3, 0)
	for start > 0 && !utf8.RuneStart(flat[start]) {
		start--
	}
	end := min(i+len(q)+snippetWidth, len(flat))
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
	return s, true
}
