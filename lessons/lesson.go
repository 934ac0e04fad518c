package lessons

import (
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Course is the ordered set of lessons.
type Course struct {
	Lessons []*Lesson
	// Glossary is the course's terms (GlossaryFile), sorted by name.
	Glossary []Term

	// search is the course's text prepared once for Search (flattened,
	// lower-cased), so a keystroke only looks: see searchIndex.
	searchOnce sync.Once
	search     []searchable
}

// Lesson finds a lesson by id, by its number ("3"), or by its file's slug
// ("03-chroot"), so a learner can type what they see in `kcna-lab lessons`.
func (c *Course) Lesson(ref string) (*Lesson, bool) {
	ref = strings.TrimSuffix(strings.TrimSpace(ref), ".md")
	for _, l := range c.Lessons {
		if l.ID == ref || l.Slug() == ref || l.Number() == strings.TrimLeft(ref, "0") {
			return l, true
		}
	}
	return nil, false
}

// IDs lists the lesson ids in order, for error messages.
func (c *Course) IDs() []string {
	ids := make([]string, len(c.Lessons))
	for i, l := range c.Lessons {
		ids[i] = l.ID
	}
	return ids
}

// Questions is every question in the course, in lesson order.
func (c *Course) Questions() []*Question {
	var qs []*Question
	for _, l := range c.Lessons {
		for i := range l.Quiz {
			qs = append(qs, &l.Quiz[i])
		}
	}
	return qs
}

// Lesson is one file of the course.
type Lesson struct {
	ID         string
	Title      string
	Order      int
	Domain     string
	Objectives []string
	// Demos are ids of live demos registered in package lessons/demos.
	Demos      []string
	Quiz       []Question
	Challenges []Challenge
	// Body is the Markdown after the front matter.
	Body string
	// File is the path the lesson was loaded from, for error messages.
	File string
}

// Slug is the file name without its extension, e.g. "03-chroot".
func (l *Lesson) Slug() string {
	base := l.File[strings.LastIndexByte(l.File, '/')+1:]
	return strings.TrimSuffix(base, ".md")
}

// Number is the lesson's order as text, e.g. "3".
func (l *Lesson) Number() string {
	return strconv.Itoa(l.Order)
}

// Question is one KCNA-style multiple-choice question.
type Question struct {
	ID       string
	LessonID string
	Prompt   string
	Choices  []string
	// Answers are indexes into Choices, in ascending order.
	Answers     []int
	Explanation string
	// Domain is the KCNA exam domain the question is weighted under.
	Domain string
}

// Multi reports whether more than one choice is right.
func (q *Question) Multi() bool { return len(q.Answers) > 1 }

// Key is the question's id qualified by its lesson, unique in a course.
func (q *Question) Key() string { return q.LessonID + "/" + q.ID }

// Correct reports whether picked (indexes, any order) is exactly the answer.
func (q *Question) Correct(picked []int) bool {
	p := slices.Clone(picked)
	slices.Sort(p)
	return slices.Equal(slices.Compact(p), q.Answers)
}

// Letter is the label of choice i: "a", "b", ...
func Letter(i int) string { return string(rune('a' + i)) }

// Challenge is a hands-on task whose check inspects live state: either
// its own Checks, written in the lesson file, or a check registered in
// code (lessons/demos) under the same id.
type Challenge struct {
	ID       string
	Title    string
	Task     string
	Hints    []string
	Solution string
	// Checks, when given, are the challenge's check: all must hold.
	Checks []Check
}

// Registry tells validation which demo and challenge ids are implemented.
type Registry interface {
	HasDemo(id string) bool
	HasChallenge(id string) bool
}
