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

// TestMergeKeepsTheNewerPlace: saves run in the background, so an older
// snapshot may be saved after a newer one; the place on disk must not go
// backwards. A place with no time (an older file) loses to one with a
// time, and two without keep the one being saved.
func TestMergeKeepsTheNewerPlace(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	newer, older := NewProgress(), NewProgress()
	older.SetPlace("chroot", 0.1, t0)
	newer.SetPlace("cgroups", 0.7, t0.Add(time.Minute))
	older.Merge(newer) // the older snapshot saved last, over the newer file
	if pl := older.Place; pl == nil || pl.Lesson != "cgroups" || pl.Scroll != 0.7 {
		t.Fatalf("the older snapshot's place won: %+v", pl)
	}
	mine := NewProgress()
	mine.SetPlace("chroot", 0.2, t0)
	mine.Merge(&Progress{Place: &Place{Lesson: "cgroups"}})
	if mine.Place.Lesson != "chroot" {
		t.Fatalf("a place with no time should lose to one with a time: %+v", mine.Place)
	}
	old := &Progress{Place: &Place{Lesson: "chroot"}}
	old.Merge(&Progress{Place: &Place{Lesson: "cgroups"}})
	if old.Place.Lesson != "chroot" {
		t.Fatalf("with no times, the place being saved should stay: %+v", old.Place)
	}
	none := NewProgress()
	none.Merge(newer)
	if none.Place == nil || none.Place == newer.Place {
		t.Fatalf("a place should be taken, as a copy, when there is none: %+v", none.Place)
	}
}
