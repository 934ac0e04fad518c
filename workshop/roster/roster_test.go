//go:build linux

package roster

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

func testCourse(t testing.TB) *lessons.Course {
	t.Helper()
	src := "---\nid: first\ntitle: First\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\nquiz:\n" +
		"  - id: q1\n    prompt: Which is right?\n    choices: [wrong, right]\n    answer: b\n    explanation: The second is right, the first is not.\n" +
		"  - id: q2\n    prompt: And now?\n    choices: [right, wrong]\n    answer: a\n    explanation: The first is right, the second is not.\n" +
		"challenges:\n  - id: make-it\n    title: Make it\n    task: Make the thing.\n    solution: Do it.\n" +
		"---\n# First\n\nText.\n"
	src2 := strings.NewReplacer("id: first", "id: second", "title: First", "title: Second", "order: 1", "order: 2").Replace(src)
	c, probs := parse.Load(fstest.MapFS{"01-first.md": {Data: []byte(src)}, "02-second.md": {Data: []byte(src2)}}, nil)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return c
}

// waitFor waits for the roster to tell of a change after which ok holds.
func waitFor(t *testing.T, r *Roster, ch <-chan struct{}, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.After(within)
	for !ok() {
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("within %s: %s", within, what)
		}
	}
}

// TestRosterFollowsProgressAndActivityByInotify: a student whose course
// has not yet made its progress directory is followed from its parent;
// a saved answer and a check show in the class within a second.
func TestRosterFollowsProgressAndActivityByInotify(t *testing.T) {
	c := testCourse(t)
	home := t.TempDir()
	dir := filepath.Join(home, ".local", "state", "kcna-lab")
	r := New(c, Options{})
	r.Add("alice", dir)
	r.Add("bob", filepath.Join(t.TempDir(), "state"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Watch(ctx) }()
	ch, stop := r.Subscribe()
	defer stop()
	time.Sleep(50 * time.Millisecond) // the watches are armed

	store := &lessons.Store{Path: filepath.Join(dir, "progress.json"), UID: -1, GID: -1}
	p := lessons.NewProgress()
	p.MarkRead(c.Lessons[0], time.Now())
	p.RecordAnswer(&c.Lessons[0].Quiz[0], []int{0}, time.Now()) // wrong
	p.RecordAnswer(&c.Lessons[0].Quiz[1], []int{0}, time.Now()) // right
	if err := store.Save(p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, ch, time.Second, "alice's answers shown", func() bool {
		s, _ := r.Student("alice")
		return s.QuizAnswered == 2 && s.QuizRight == 1 && s.LessonsRead == 1
	})
	a := lessons.Activity{Screen: "reader", Lesson: "first", Since: time.Now()}
	for range 3 {
		a.AddCheck(lessons.CheckRun{Lesson: "first", Challenge: "make-it", At: time.Now()})
	}
	if err := lessons.WriteJSON(filepath.Join(dir, lessons.ActivityFile), a, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, r, ch, time.Second, "alice stuck after 3 failed checks", func() bool {
		s, _ := r.Student("alice")
		return s.Stuck && strings.Contains(s.StuckWhy, "3 failed checks in a row on first/make-it")
	})
	ls := r.Lessons()
	if ls[0].Read != 1 || ls[0].QuizPassed != 0 || len(ls[0].Missed) != 1 || ls[0].Missed[0].ID != "q1" {
		t.Fatalf("lesson stats %+v, want 1 read, none passed, q1 missed", ls[0])
	}
	if s, _ := r.Student("bob"); s.QuizAnswered != 0 || s.Stuck {
		t.Fatalf("bob has done nothing: %+v", s)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Watch did not end with its context")
	}
}

// TestRosterStuckWithoutProgress: a connected student on one lesson
// screen with no progress for StuckAfter is stuck; on the map is not.
func TestRosterStuckWithoutProgress(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	r := New(testCourse(t), Options{StuckAfter: 10 * time.Minute, Now: func() time.Time { return now }})
	if err := lessons.WriteJSON(filepath.Join(dir, lessons.ActivityFile), lessons.Activity{Screen: "reader", Lesson: "second", Since: now}, 0o644); err != nil {
		t.Fatal(err)
	}
	r.Add("carol", dir)
	r.Sessions("carol", 1)
	now = now.Add(9 * time.Minute)
	if s, _ := r.Student("carol"); s.Stuck {
		t.Fatalf("stuck after 9 minutes: %s", s.StuckWhy)
	}
	now = now.Add(2 * time.Minute)
	s, _ := r.Student("carol")
	if !s.Stuck || s.StuckWhy != "no progress for 11m0s on second (reader)" || s.Order != 2 {
		t.Fatalf("want stuck 11m on second (reader), lesson 2: %+v", s)
	}
	if err := lessons.WriteJSON(filepath.Join(dir, lessons.ActivityFile), lessons.Activity{Screen: "exam", Since: now.Add(-time.Hour)}, 0o644); err != nil {
		t.Fatal(err)
	}
	r.Reload("carol")
	if s, _ := r.Student("carol"); s.Stuck {
		t.Fatalf("an hour in the mock exam is not stuck: %s", s.StuckWhy)
	}
	r.Sessions("carol", -1)
	if s, _ := r.Student("carol"); s.Stuck || s.Connected {
		t.Fatalf("a student who left is neither connected nor stuck: %+v", s)
	}
}

// TestRosterStudentsSharingAParent: students whose directories do not
// exist yet wait on one shared parent (the class's students/ directory);
// each is followed once made, even made in one go (os.MkdirAll races the
// watches going deeper).
func TestRosterStudentsSharingAParent(t *testing.T) {
	c := testCourse(t)
	base := t.TempDir()
	r := New(c, Options{})
	names := []string{"ann", "ben", "cat", "dan"}
	for _, n := range names {
		r.Add(n, filepath.Join(base, n, "home", "kcna-lab"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Watch(ctx) }()
	ch, stop := r.Subscribe()
	defer stop()
	time.Sleep(50 * time.Millisecond)
	for _, n := range names {
		p := lessons.NewProgress()
		p.MarkRead(c.Lessons[0], time.Now())
		if err := (&lessons.Store{Path: filepath.Join(base, n, "home", "kcna-lab", "progress.json"), UID: -1, GID: -1}).Save(p); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, r, ch, time.Second, "every student's read lesson shown", func() bool {
		for _, s := range r.Class() {
			if s.LessonsRead != 1 {
				return false
			}
		}
		return true
	})
}

// TestRosterCleansWhatAStudentWrites: only the course's screens, lessons
// and challenges are kept, free text loses escapes and control
// characters and is cut, checks are at most lessons.MaxActivityChecks.
func TestRosterCleansWhatAStudentWrites(t *testing.T) {
	c := testCourse(t)
	dir := t.TempDir()
	a := lessons.Activity{Screen: "map\nbob  now", Lesson: "nope", Since: time.Now(),
		Hints: map[string]int{"first/make-it": 1 << 40, "x/y": 3}, Solutions: []string{"first/make-it", "first/make-it", "evil\x1b[2J"}}
	for i := range 50 {
		a.Checks = append(a.Checks, lessons.CheckRun{Lesson: "first", Challenge: "make-it", Detail: "line\nbob \x1b[31mred\x1b[0m\u202e" + strings.Repeat("x", 500), At: time.Now().Add(time.Duration(i))})
	}
	a.Checks = append(a.Checks, lessons.CheckRun{Lesson: "first", Challenge: "forged"})
	if err := lessons.WriteJSON(filepath.Join(dir, lessons.ActivityFile), a, 0o644); err != nil {
		t.Fatal(err)
	}
	r := New(c, Options{})
	r.Add("alice", dir)
	r.SetUsage("alice", labhost.Usage{Sandboxes: []labhost.Sandbox{{Name: "web\nbob", Command: "sh -c \x1b]0;title\x07x"}}}, true)
	s, _ := r.Student("alice")
	if s.Screen != "" || s.Lesson != "" {
		t.Errorf("screen %q lesson %q, want both dropped (not the course's)", s.Screen, s.Lesson)
	}
	if len(s.Checks) != lessons.MaxActivityChecks-1 {
		t.Errorf("%d checks, want the last %d less the unknown challenge", len(s.Checks), lessons.MaxActivityChecks)
	}
	for _, ch := range s.Checks {
		if strings.ContainsAny(ch.Detail, "\n\x1b\u202e") || len([]rune(ch.Detail)) > 201 || !strings.HasPrefix(ch.Detail, "line bob red") {
			t.Fatalf("detail %q: want plain, one line, cut", ch.Detail)
		}
	}
	if s.Hints != 1000 || s.Solutions != 1 {
		t.Errorf("hints %d solutions %d, want 1000 (capped, known only) and 1 (deduped, known only)", s.Hints, s.Solutions)
	}
	if sb := s.Sandboxes[0]; sb.Name != "web bob" || sb.Command != "sh -c x" {
		t.Errorf("sandbox %q %q, want cleaned", sb.Name, sb.Command)
	}
}
