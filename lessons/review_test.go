package lessons

import (
	"path/filepath"
	"testing"
	"time"
)

func TestLeitnerBoxesFromStoredAnswers(t *testing.T) {
	c := bigCourse(map[string]int{"container-orchestration": 4})
	qs := c.Questions()
	day := 24 * time.Hour
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	p := NewProgress()
	wrong := []int{1}
	// q0: missed, then right twice: box 3, due three days after.
	p.RecordAnswer(qs[0], wrong, t0)
	p.RecordAnswer(qs[0], qs[0].Answers, t0.Add(time.Hour))
	p.RecordAnswer(qs[0], qs[0].Answers, t0.Add(2*day))
	// q1: right at once: never missed, never reviewed.
	p.RecordAnswer(qs[1], qs[1].Answers, t0)
	// q2: right in a quiz, then missed in a later exam: box 1, due now.
	p.RecordAnswer(qs[2], qs[2].Answers, t0)
	p.RecordExam(ExamResult{At: t0.Add(3 * day), Questions: []ExamAnswer{{ID: qs[2].Key(), Given: wrong, Right: false}}})
	// q3: missed in a quiz, right in an earlier exam: the quiz is newer.
	p.RecordExam(ExamResult{At: t0, Questions: []ExamAnswer{{ID: qs[3].Key(), Given: qs[3].Answers, Right: true}}})
	p.RecordAnswer(qs[3], wrong, t0.Add(day))

	if a, _ := p.Answer(qs[0]); a.Box != 3 {
		t.Errorf("missed then right twice: box %d, want 3", a.Box)
	}
	if a, _ := p.Answer(qs[1]); a.Box != 0 {
		t.Errorf("right at once: box %d, want 0", a.Box)
	}
	now := t0.Add(3*day + time.Hour)
	due, later := p.Missed(c, now)
	keys := func(cs []ReviewCard) (out []string) {
		for _, c := range cs {
			out = append(out, c.Q.Key())
		}
		return out
	}
	// Due: q3 (box 1, since day 1) before q2 (box 1, since day 3); q0 in
	// box 3 waits until day 5.
	if got := keys(due); len(got) != 2 || got[0] != qs[3].Key() || got[1] != qs[2].Key() {
		t.Errorf("due = %v, want %s then %s", got, qs[3].Key(), qs[2].Key())
	}
	if len(later) != 1 || later[0].Q != qs[0] || later[0].Box != 3 || !later[0].Due.Equal(t0.Add(5*day)) {
		t.Errorf("later = %+v, want %s in box 3 due on day 5", later, qs[0].Key())
	}
	// Answering q2 right in review moves it to box 2, out of today's queue;
	// missing it again sends it back to box 1.
	p.RecordAnswer(qs[2], qs[2].Answers, now)
	if a, _ := p.Answer(qs[2]); a.Box != 2 {
		t.Errorf("after the exam miss and a right answer: box %d, want 2", a.Box)
	}
	p.RecordAnswer(qs[2], wrong, now.Add(time.Minute))
	if a, _ := p.Answer(qs[2]); a.Box != 1 {
		t.Errorf("missed again: box %d, want 1", a.Box)
	}
	// The last box keeps a question that is answered right again, each
	// time once it is due.
	for range 6 {
		card, _ := p.reviewCard(qs[0])
		p.RecordAnswer(qs[0], qs[0].Answers, card.Due)
	}
	if a, _ := p.Answer(qs[0]); a.Box != LeitnerBoxes {
		t.Errorf("right many times: box %d, want %d", a.Box, LeitnerBoxes)
	}
}

func TestLeitnerReadsAnswersSavedBeforeBoxes(t *testing.T) {
	// A progress file from before boxes: a wrong answer is box 1.
	c := bigCourse(map[string]int{"container-orchestration": 2})
	qs := c.Questions()
	at := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	p := NewProgress()
	p.lesson(qs[0].LessonID).Answers = map[string]Answer{
		qs[0].ID: {Picked: []int{1}, Correct: false, At: at},
		qs[1].ID: {Picked: qs[1].Answers, Correct: true, At: at},
	}
	due, later := p.Missed(c, at)
	if len(due) != 1 || due[0].Q != qs[0] || due[0].Box != 1 || len(later) != 0 {
		t.Fatalf("due %+v, later %+v", due, later)
	}
}

// TestLeitnerRightEarlyKeepsTheBox: repeating a quiz minutes after a miss
// moves the question up once (box 1 is due at once), not to the last box.
func TestLeitnerRightEarlyKeepsTheBox(t *testing.T) {
	c := bigCourse(map[string]int{"container-orchestration": 1})
	q := c.Questions()[0]
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	p := NewProgress()
	p.RecordAnswer(q, []int{1}, t0)
	for i := 1; i <= 5; i++ {
		p.RecordAnswer(q, q.Answers, t0.Add(time.Duration(i)*time.Minute))
	}
	_, later := p.Missed(c, t0.Add(time.Hour))
	if len(later) != 1 || later[0].Box != 2 || !later[0].Due.Equal(t0.Add(time.Minute+24*time.Hour)) {
		t.Fatalf("a miss then five right answers in minutes: %+v, want box 2 due a day after the first", later)
	}
}

// TestLeitnerExamAnswersOutliveTheExamHistory: a question moved on by
// exams keeps its box when those exams age out of the kept history, and a
// question left unanswered when an exam timed out is not a miss.
func TestLeitnerExamAnswersOutliveTheExamHistory(t *testing.T) {
	c := bigCourse(map[string]int{"container-orchestration": 3})
	qs := c.Questions()
	day := 24 * time.Hour
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	p := NewProgress()
	p.RecordAnswer(qs[0], []int{1}, t0) // box 1
	p.RecordExam(ExamResult{At: t0.Add(day), Seed: 1, Questions: []ExamAnswer{{ID: qs[0].Key(), Given: qs[0].Answers, Right: true}}})
	p.RecordExam(ExamResult{At: t0.Add(2 * day), Seed: 2, Questions: []ExamAnswer{{ID: qs[0].Key(), Given: qs[0].Answers, Right: true}}})
	// qs[1] right in a quiz, then left unanswered in a timed-out exam.
	p.RecordAnswer(qs[1], qs[1].Answers, t0)
	p.RecordExam(ExamResult{At: t0.Add(2 * day), Seed: 3, TimedOut: true, Questions: []ExamAnswer{{ID: qs[1].Key(), Right: false}}})
	for i := range MaxExamHistory {
		p.RecordExam(ExamResult{At: t0.Add(3*day + time.Duration(i)*time.Hour), Seed: int64(10 + i),
			Questions: []ExamAnswer{{ID: qs[2].Key(), Given: qs[2].Answers, Right: true}}})
	}
	for _, r := range p.Exams {
		if r.Seed < 10 {
			t.Fatalf("the first exams should have aged out: %+v", p.Exams)
		}
	}
	now := t0.Add(3 * day)
	due, later := p.Missed(c, now)
	if len(due) != 0 || len(later) != 1 || later[0].Q != qs[0] || later[0].Box != 3 {
		t.Fatalf("due %+v, later %+v: want only %s, in box 3", due, later, qs[0].Key())
	}
	// The boxes are saved: a round trip through the store keeps them.
	s := &Store{Path: filepath.Join(t.TempDir(), "progress.json"), UID: -1, GID: -1}
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if _, later := got.Missed(c, now); len(later) != 1 || later[0].Box != 3 {
		t.Fatalf("after a save and a load: %+v", later)
	}
}
