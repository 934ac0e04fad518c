package lessons

import (
	"cmp"
	"slices"
	"time"
)

// Review of missed questions by Leitner boxes: a question enters box 1
// when it is answered wrong, moves up one box each time it is answered
// right, and falls back to box 1 whenever it is missed again. Each box
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

// nextBox is the box after an answer: box 1 when wrong, one up when right
// (a question never missed, in box 0, stays out of review).
func nextBox(box int, right bool) int {
	switch {
	case !right:
		return 1
	case box == 0:
		return 0
	default:
		return min(box+1, LeitnerBoxes)
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

// reviewCard replays q's stored answers into its box; ok is false for a
// question never missed (or never answered).
func (p *Progress) reviewCard(q *Question) (ReviewCard, bool) {
	card := ReviewCard{Q: q}
	if a, ok := p.Answer(q); ok {
		card.Box, card.Last = a.box(), a.At
	}
	for _, r := range p.Exams {
		if !r.At.After(card.Last) {
			continue // the quiz answer is newer, and its box already counts it
		}
		for _, ea := range r.Questions {
			if ea.ID == q.Key() {
				card.Box, card.Last = nextBox(card.Box, ea.Right), r.At
			}
		}
	}
	if card.Box == 0 {
		return ReviewCard{}, false
	}
	card.Due = card.Last.Add(LeitnerWait(card.Box))
	return card, true
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
