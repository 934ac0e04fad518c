package lessons

import (
	"path/filepath"
	"testing"
	"time"
)

// TestTwoSessionsDoNotClobber is two sessions of one learner (two SSH
// sessions on a workshop server, or two terminals): each loaded the same
// file, each answered something else and saved. Both answers, the earlier
// read time, the challenge and both exams must be on disk.
func TestTwoSessionsDoNotClobber(t *testing.T) {
	path := filepath.Join(t.TempDir(), "progress.json")
	a, b := &Store{Path: path, UID: -1, GID: -1}, &Store{Path: path, UID: -1, GID: -1}
	pa, _, err := a.Load()
	if err != nil {
		t.Fatal(err)
	}
	pb, _, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	pa.Lessons["chroot"] = &LessonProgress{ReadAt: t0.Add(time.Minute), Answers: map[string]Answer{"q1": {Picked: []int{1}, Correct: true, At: t0.Add(2 * time.Minute)}}}
	pa.RecordExam(ExamResult{At: t0, Seed: 1, Score: 40, Total: 60})
	pb.Lessons["chroot"] = &LessonProgress{ReadAt: t0, Answers: map[string]Answer{
		"q1": {Picked: []int{0}, At: t0.Add(time.Minute)}, // older than a's: a's stays
		"q2": {Picked: []int{2}, Correct: true, At: t0.Add(3 * time.Minute)},
	}, Challenges: map[string]time.Time{"escape": t0.Add(4 * time.Minute)}}
	pb.RecordExam(ExamResult{At: t0.Add(time.Hour), Seed: 2, Score: 50, Total: 60})
	if err := a.Save(pa); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(pb); err != nil {
		t.Fatal(err)
	}
	got, _, err := a.Load()
	if err != nil {
		t.Fatal(err)
	}
	l := got.Lessons["chroot"]
	if l == nil {
		t.Fatal("lesson chroot lost")
	}
	if !l.ReadAt.Equal(t0) {
		t.Errorf("ReadAt = %v, want the earlier %v", l.ReadAt, t0)
	}
	if q1 := l.Answers["q1"]; !q1.Correct || len(q1.Picked) != 1 || q1.Picked[0] != 1 {
		t.Errorf("q1 = %+v, want session a's later answer", q1)
	}
	if _, ok := l.Answers["q2"]; !ok {
		t.Error("session b's answer to q2 is lost")
	}
	if _, ok := l.Challenges["escape"]; !ok {
		t.Error("session b's challenge is lost")
	}
	if len(got.Exams) != 2 || got.Exams[0].Seed != 1 || got.Exams[1].Seed != 2 {
		t.Errorf("exams = %+v, want both, oldest first", got.Exams)
	}
}
