package lessons

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Review of missed questions by Leitner boxes: a question enters box 1
// when it is answered wrong, moves up one box each time it is answered
// right once due, and falls back to box 1 whenever it is missed again. Each box
// waits longer before the question is due again, so what is known comes
// back rarely and what is not comes back soon.

// LeitnerBoxes is how many boxes there are; a right answer in the last
// keeps the question there.
const LeitnerBoxes = 5

// leitnerWait is how long a question waits in each box (index 1 to 5)
// after its last answer before it is due again.
var leitnerWait = [LeitnerBoxes + 1]time.Duration{0, 0, 24 * time.Hour, 3 * 24 * time.Hour, 7 * 24 * time.Hour, 21 * 24 * time.Hour}

// LeitnerWait is how long a question waits in box before it is due.
func LeitnerWait(box int) time.Duration {
	return leitnerWait[min(max(box, 1), LeitnerBoxes)]
}

// LeitnerBox is a question's box and when it last moved there. A right
// answer moves a question up only once it is due: answering a just-missed
// question right again and again in one sitting climbs one box, not all.
type LeitnerBox struct {
	N  int       `json:"box"`
	At time.Time `json:"at"`
}

// after is the box after an answer at: box 1 when wrong, one up when right
// and due, unchanged when right early (a question never missed, in box 0,
// stays out of review).
func (b LeitnerBox) after(right bool, at time.Time) LeitnerBox {
	switch {
	case !right:
		return LeitnerBox{N: 1, At: at}
	case b.N == 0 || at.Before(b.At.Add(LeitnerWait(b.N))):
		return b
	default:
		return LeitnerBox{N: min(b.N+1, LeitnerBoxes), At: at}
	}
}

// ReviewCard is a missed question's place in the Leitner boxes.
type ReviewCard struct {
	Q    *Question
	Box  int
	Last time.Time // its last answer
	Due  time.Time
}

// Missed places every question of c that the learner has ever missed, in a
// quiz or in a kept exam, in its Leitner box, and splits them into those
// due at now (lowest box first, then the longest waiting) and those not yet
// due (soonest first). A quiz answer carries its box; exam answers taken
// after it move the question on from there.
func (p *Progress) Missed(c *Course, now time.Time) (due, later []ReviewCard) {
	for _, q := range c.Questions() {
		card, ok := p.reviewCard(q)
		if !ok {
			continue
		}
		if card.Due.After(now) {
			later = append(later, card)
		} else {
			due = append(due, card)
		}
	}
	slices.SortStableFunc(due, func(a, b ReviewCard) int {
		return cmp.Or(cmp.Compare(a.Box, b.Box), a.Last.Compare(b.Last))
	})
	slices.SortStableFunc(later, func(a, b ReviewCard) int { return a.Due.Compare(b.Due) })
	return due, later
}

// reviewCard is q's place in the boxes; ok is false for a question never
// missed (or never answered).
func (p *Progress) reviewCard(q *Question) (ReviewCard, bool) {
	b := p.leitner(q.LessonID, q.ID)
	if b.N == 0 {
		return ReviewCard{}, false
	}
	return ReviewCard{Q: q, Box: b.N, Last: b.At, Due: b.At.Add(LeitnerWait(b.N))}, true
}

// leitner is a question's box. Each answer, in a quiz or an exam, stores
// it as it moves (LessonProgress.Boxes), so that it does not depend on
// which exams are still kept; for a question with none stored (a file
// from before) it is derived from the stored answer and the exams kept
// after it.
func (p *Progress) leitner(lessonID, questionID string) LeitnerBox {
	lp := p.Lessons[lessonID]
	if lp == nil {
		lp = &LessonProgress{}
	}
	if b, ok := lp.Boxes[questionID]; ok {
		return b
	}
	var b LeitnerBox
	if a, ok := lp.Answers[questionID]; ok {
		b = LeitnerBox{N: a.box(), At: a.At}
	}
	key := lessonID + "/" + questionID
	for _, r := range p.Exams {
		if !r.At.After(b.At) {
			continue // the quiz answer is newer, and its box already counts it
		}
		for _, ea := range r.Questions {
			if ea.ID == key && len(ea.Given) > 0 {
				b = b.after(ea.Right, r.At)
			}
		}
	}
	return b
}

// foldExam moves the box of each question answered in r (one left
// unanswered when the time ran out says nothing of what the learner
// knows). It runs before r is kept, so that r is not counted twice.
func (p *Progress) foldExam(r ExamResult) {
	for _, ea := range r.Questions {
		lessonID, questionID, ok := strings.Cut(ea.ID, "/")
		if !ok || len(ea.Given) == 0 {
			continue
		}
		if b := p.leitner(lessonID, questionID).after(ea.Right, r.At); b.N > 0 {
			p.lesson(lessonID).setBox(questionID, b)
		}
	}
}

func (l *LessonProgress) setBox(questionID string, b LeitnerBox) {
	if l.Boxes == nil {
		l.Boxes = map[string]LeitnerBox{}
	}
	l.Boxes[questionID] = b
}

// box is the answer's Leitner box. Answers saved before boxes were kept
// have none: a wrong one is box 1, a right one never missed as far as
// anyone knows.
func (a Answer) box() int {
	if a.Box > 0 {
		return a.Box
	}
	if !a.Correct {
		return 1
	}
	return 0
}
