package lessons

import "strings"

// GlossaryFile is the optional file, beside the lessons, that lists the
// course's terms: a YAML list of {term, lesson, means}.
const GlossaryFile = "glossary.yaml"

// Term is one glossary entry: what a word means and which lesson teaches it.
type Term struct {
	Term   string
	Lesson string // the id of the lesson that teaches it
	Means  string
	Line   int // where it is in GlossaryFile, for problems
}

// LookupTerm finds the terms matching q: the one whose name is q (any
// case), or else every term whose name contains q.
func (c *Course) LookupTerm(q string) []Term {
	q = strings.ToLower(strings.TrimSpace(q))
	for _, t := range c.Glossary {
		if strings.ToLower(t.Term) == q {
			return []Term{t}
		}
	}
	var out []Term
	for _, t := range c.Glossary {
		if strings.Contains(strings.ToLower(t.Term), q) {
			out = append(out, t)
		}
	}
	return out
}
