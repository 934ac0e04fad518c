package lessons

import (
	"maps"
	"slices"
	"time"
)

// Progress is everything a learner has done, as saved on disk.
type Progress struct {
	// Version lets a later kcna-lab migrate an older file instead of
	// discarding it.
	Version int                        `json:"version"`
	Lessons map[string]*LessonProgress `json:"lessons"`
	Exams   []ExamResult               `json:"exams,omitempty"`
	// Place is where the learner last read, so the course reopens there.
	// Files written before it existed lack it, and read as no place.
	Place *Place `json:"place,omitempty"`
}

// Place is a position in the course: a lesson and how far down it.
type Place struct {
	Lesson string `json:"lesson"`
	// Scroll is the fraction of the lesson above the screen's top, from
	// 0 to 1, so the place survives a change of terminal width.
	Scroll float64 `json:"scroll"`
	// At is when the place last changed, so that Merge keeps the newer of
	// two (saves run in the background and may finish out of order).
	// Files written before it existed lack it: such a place is older than
	// any with a time.
	At time.Time `json:"at,omitzero"`
}

// SetPlace records where the learner is at now and reports whether it
// changed.
func (p *Progress) SetPlace(lessonID string, scroll float64, now time.Time) bool {
	scroll = min(max(scroll, 0), 1)
	if p.Place != nil && p.Place.Lesson == lessonID && p.Place.Scroll == scroll {
		return false
	}
	p.Place = &Place{Lesson: lessonID, Scroll: scroll, At: now}
	return true
}

// progressVersion is the format this build writes.
const progressVersion = 1

// NewProgress is an empty record.
func NewProgress() *Progress {
	return &Progress{Version: progressVersion, Lessons: map[string]*LessonProgress{}}
}

// LessonProgress is what a learner did in one lesson.
type LessonProgress struct {
	// ReadAt is when the learner first opened the lesson.
	ReadAt time.Time `json:"read_at,omitzero"`
	// Answers holds the latest answer to each question, by question id.
	Answers map[string]Answer `json:"answers,omitempty"`
	// Challenges holds when each challenge was first passed, by id.
	Challenges map[string]time.Time `json:"challenges,omitempty"`
	// DemoRuns counts live demo runs.
	DemoRuns int `json:"demo_runs,omitempty"`
	// Boxes holds each missed question's Leitner box (review.go), moved
	// by quiz and exam answers alike, by question id. Files from before
	// it lack it; the box is then derived from Answers and Exams.
	Boxes map[string]LeitnerBox `json:"boxes,omitempty"`
}

// Answer is a learner's answer to one question.
type Answer struct {
	Picked  []int     `json:"picked"`
	Correct bool      `json:"correct"`
	At      time.Time `json:"at"`
	// Box is the question's Leitner box after this answer (review.go):
	// 1 to LeitnerBoxes once it has been missed, 0 if it never was.
	Box int `json:"box,omitempty"`
}

// ExamResult is one mock exam taken.
type ExamResult struct {
	// At is when the exam started.
	At    time.Time `json:"at"`
	Score int       `json:"score"`
	Total int       `json:"total"`
	// Seconds is the time taken, LimitSeconds the time allowed.
	Seconds      int  `json:"seconds"`
	LimitSeconds int  `json:"limit_seconds,omitempty"`
	PassPercent  int  `json:"pass_percent,omitempty"`
	Passed       bool `json:"passed"`
	// TimedOut is set when the deadline ended the exam.
	TimedOut bool `json:"timed_out,omitempty"`
	// Seed draws the same exam again (kcna-lab exam --seed).
	Seed      int64         `json:"seed"`
	Domains   []DomainScore `json:"domains,omitempty"`
	Questions []ExamAnswer  `json:"questions,omitempty"`
}

// DomainScore is an exam's score in one KCNA domain.
type DomainScore struct {
	Domain string `json:"domain"`
	Right  int    `json:"right"`
	Total  int    `json:"total"`
}

// ExamAnswer is one question of an exam taken. Choice indexes refer to the
// choices as the lesson lists them (0 = a); Order, when the exam showed them
// shuffled, maps each shown position to such an index.
type ExamAnswer struct {
	// ID is the question's Key: "lesson/question".
	ID      string `json:"id"`
	Domain  string `json:"domain"`
	Order   []int  `json:"order,omitempty"`
	Given   []int  `json:"given"`
	Correct []int  `json:"correct"`
	Right   bool   `json:"right"`
}

// Percent is the score as a whole percentage, rounded down so that a
// result just under the pass mark never shows as on it.
func (r ExamResult) Percent() int {
	if r.Total == 0 {
		return 0
	}
	return r.Score * 100 / r.Total
}

// MaxExamHistory is how many exam results progress keeps; older ones are
// dropped.
const MaxExamHistory = 20

// RecordExam keeps an exam's result, dropping the oldest beyond
// MaxExamHistory.
func (p *Progress) RecordExam(r ExamResult) {
	p.foldExam(r)
	p.Exams = append(p.Exams, cloneExam(r))
	if n := len(p.Exams); n > MaxExamHistory {
		p.Exams = slices.Clone(p.Exams[n-MaxExamHistory:])
	}
}

// LastExam is the most recent exam result, if any.
func (p *Progress) LastExam() (ExamResult, bool) {
	if len(p.Exams) == 0 {
		return ExamResult{}, false
	}
	return p.Exams[len(p.Exams)-1], true
}

func cloneExam(r ExamResult) ExamResult {
	r.Domains = slices.Clone(r.Domains)
	qs := make([]ExamAnswer, len(r.Questions))
	for i, a := range r.Questions {
		a.Order, a.Given, a.Correct = slices.Clone(a.Order), slices.Clone(a.Given), slices.Clone(a.Correct)
		qs[i] = a
	}
	if r.Questions != nil {
		r.Questions = qs
	}
	return r
}

// Status is where a learner stands in a lesson.
type Status string

// The statuses, in the order a learner moves through them.
const (
	NotStarted Status = "not started"
	InProgress Status = "in progress"
	Done       Status = "done"
	// DoneHere is done as far as this host allows: the lesson read and
	// every question answered right, while its challenges, which this host
	// cannot run (StatusHere), stay unpassed. It is never Done: a
	// challenge counts as passed only when its check saw it.
	DoneHere Status = "done here"
)

// lesson returns the record for id, creating it.
func (p *Progress) lesson(id string) *LessonProgress {
	if p.Lessons == nil {
		p.Lessons = map[string]*LessonProgress{}
	}
	lp := p.Lessons[id]
	if lp == nil {
		lp = &LessonProgress{}
		p.Lessons[id] = lp
	}
	return lp
}

// MarkRead records that the learner opened a lesson. It reports whether
// this changed anything, so callers save only when needed.
func (p *Progress) MarkRead(l *Lesson, now time.Time) bool {
	lp := p.lesson(l.ID)
	if !lp.ReadAt.IsZero() {
		return false
	}
	lp.ReadAt = now
	return true
}

// RecordAnswer keeps a learner's answer to q and reports whether it was right.
func (p *Progress) RecordAnswer(q *Question, picked []int, now time.Time) bool {
	lp := p.lesson(q.LessonID)
	if lp.Answers == nil {
		lp.Answers = map[string]Answer{}
	}
	ok := q.Correct(picked)
	// The box moves on from where the stored answers left the question.
	b := p.leitner(q.LessonID, q.ID).after(ok, now)
	lp.Answers[q.ID] = Answer{Picked: slices.Clone(picked), Correct: ok, At: now, Box: b.N}
	if b.N > 0 {
		lp.setBox(q.ID, b)
	}
	return ok
}

// RecordChallenge keeps the first time a challenge was passed.
func (p *Progress) RecordChallenge(lessonID, challengeID string, now time.Time) {
	lp := p.lesson(lessonID)
	if lp.Challenges == nil {
		lp.Challenges = map[string]time.Time{}
	}
	if _, done := lp.Challenges[challengeID]; !done {
		lp.Challenges[challengeID] = now
	}
}

// Passed reports whether the challenge has been passed.
func (p *Progress) Passed(lessonID, challengeID string) bool {
	lp, ok := p.Lessons[lessonID]
	if !ok {
		return false
	}
	_, done := lp.Challenges[challengeID]
	return done
}

// RecordDemoRun counts a run of a lesson's live demo.
func (p *Progress) RecordDemoRun(lessonID string) {
	p.lesson(lessonID).DemoRuns++
}

// Answer returns the learner's latest answer to q, if any.
func (p *Progress) Answer(q *Question) (Answer, bool) {
	lp := p.Lessons[q.LessonID]
	if lp == nil {
		return Answer{}, false
	}
	a, ok := lp.Answers[q.ID]
	return a, ok
}

// Status is NotStarted until the lesson is opened, and Done once every
// question has been answered correctly and every challenge passed.
func (p *Progress) Status(l *Lesson) Status {
	lp := p.Lessons[l.ID]
	if lp == nil || (lp.ReadAt.IsZero() && len(lp.Answers) == 0) {
		return NotStarted
	}
	for _, q := range l.Quiz {
		if !lp.Answers[q.ID].Correct {
			return InProgress
		}
	}
	for _, c := range l.Challenges {
		if _, ok := lp.Challenges[c.ID]; !ok {
			return InProgress
		}
	}
	return Done
}

// StatusHere is Status on a host that cannot run the lesson's challenges,
// for the reason why ("" when it can, and then it is Status). There the
// lesson is DoneHere once it has been read and every question answered
// right, whether or not any challenge was passed.
func (p *Progress) StatusHere(l *Lesson, why string) Status {
	s := p.Status(l)
	if s != InProgress || why == "" || len(l.Challenges) == 0 || !p.OnlyChallengesLeft(l) {
		return s
	}
	return DoneHere
}

// OnlyChallengesLeft reports whether the lesson has been read and every
// question answered right, and a challenge is still to pass: the case in
// which whether this host can run the challenges decides the status.
func (p *Progress) OnlyChallengesLeft(l *Lesson) bool {
	lp := p.Lessons[l.ID]
	if lp == nil || lp.ReadAt.IsZero() {
		return false
	}
	for _, q := range l.Quiz {
		if !lp.Answers[q.ID].Correct {
			return false
		}
	}
	for _, c := range l.Challenges {
		if _, ok := lp.Challenges[c.ID]; !ok {
			return true
		}
	}
	return false
}

// Score counts a lesson's questions answered correctly.
func (p *Progress) Score(l *Lesson) (right, total int) {
	lp := p.Lessons[l.ID]
	for _, q := range l.Quiz {
		if lp != nil && lp.Answers[q.ID].Correct {
			right++
		}
	}
	return right, len(l.Quiz)
}

// Completion is the fraction of the course done, from 0 to 1, counting each
// question and challenge as one step so long lessons weigh more.
func (p *Progress) Completion(c *Course) float64 {
	var done, total int
	for _, l := range c.Lessons {
		lp := p.Lessons[l.ID]
		total += 1 + len(l.Quiz) + len(l.Challenges)
		if lp == nil {
			continue
		}
		if !lp.ReadAt.IsZero() {
			done++
		}
		for _, q := range l.Quiz {
			if lp.Answers[q.ID].Correct {
				done++
			}
		}
		for _, ch := range l.Challenges {
			if _, ok := lp.Challenges[ch.ID]; ok {
				done++
			}
		}
	}
	if total == 0 {
		return 0
	}
	return float64(done) / float64(total)
}

// Clone returns a deep copy, so a snapshot can be saved in the background
// while the original keeps changing.
func (p *Progress) Clone() *Progress {
	c := &Progress{Version: p.Version, Lessons: make(map[string]*LessonProgress, len(p.Lessons)),
		Exams: slices.Clone(p.Exams)}
	if p.Place != nil {
		place := *p.Place
		c.Place = &place
	}
	for i := range c.Exams {
		c.Exams[i] = cloneExam(c.Exams[i])
	}
	for id, lp := range p.Lessons {
		cp := &LessonProgress{ReadAt: lp.ReadAt, DemoRuns: lp.DemoRuns}
		if lp.Answers != nil {
			cp.Answers = make(map[string]Answer, len(lp.Answers))
			for q, a := range lp.Answers {
				a.Picked = slices.Clone(a.Picked)
				cp.Answers[q] = a
			}
		}
		if lp.Challenges != nil {
			cp.Challenges = maps.Clone(lp.Challenges)
		}
		if lp.Boxes != nil {
			cp.Boxes = maps.Clone(lp.Boxes)
		}
		c.Lessons[id] = cp
	}
	return c
}
