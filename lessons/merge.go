package lessons

import (
	"slices"
	"time"
)

// Merge folds other (what another session of the same learner saved) into
// p, so that two sessions at once never undo each other's work: a lesson
// read, an answer, a challenge passed or an exam taken in either is kept.
// Where both answered the same question, the later answer wins, and of two
// places the later one. Nothing is ever removed; only Reset starts over.
func (p *Progress) Merge(other *Progress) {
	if other == nil {
		return
	}
	if p.Lessons == nil {
		p.Lessons = map[string]*LessonProgress{}
	}
	for id, theirs := range other.Lessons {
		if theirs == nil {
			continue
		}
		mine, ok := p.Lessons[id]
		if !ok || mine == nil {
			mine = &LessonProgress{}
			p.Lessons[id] = mine
		}
		mine.merge(theirs)
	}
	p.mergeExams(other.Exams)
	// The newer place wins; with no time to tell (files from before
	// Place.At), p's own stays.
	if o := other.Place; o != nil && (p.Place == nil || o.At.After(p.Place.At)) {
		pl := *o
		p.Place = &pl
	}
}

func (l *LessonProgress) merge(o *LessonProgress) {
	l.ReadAt = earliest(l.ReadAt, o.ReadAt)
	for q, a := range o.Answers {
		if l.Answers == nil {
			l.Answers = map[string]Answer{}
		}
		if mine, ok := l.Answers[q]; !ok || a.At.After(mine.At) {
			a.Picked = slices.Clone(a.Picked)
			l.Answers[q] = a
		}
	}
	for c, at := range o.Challenges {
		if l.Challenges == nil {
			l.Challenges = map[string]time.Time{}
		}
		l.Challenges[c] = earliest(l.Challenges[c], at)
	}
	for q, b := range o.Boxes {
		if mine, ok := l.Boxes[q]; !ok || b.At.After(mine.At) {
			l.setBox(q, b)
		}
	}
	l.DemoRuns = max(l.DemoRuns, o.DemoRuns)
}

// mergeExams keeps every exam either side took (an exam is its start time
// and seed), oldest first, within MaxExamHistory.
func (p *Progress) mergeExams(theirs []ExamResult) {
	for _, r := range theirs {
		if !slices.ContainsFunc(p.Exams, func(m ExamResult) bool { return m.At.Equal(r.At) && m.Seed == r.Seed }) {
			p.Exams = append(p.Exams, cloneExam(r))
		}
	}
	slices.SortStableFunc(p.Exams, func(a, b ExamResult) int { return a.At.Compare(b.At) })
	if n := len(p.Exams); n > MaxExamHistory {
		p.Exams = slices.Clone(p.Exams[n-MaxExamHistory:])
	}
}

func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
