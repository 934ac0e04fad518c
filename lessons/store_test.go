package lessons

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testLesson is lessons/parse's test lesson (chroot) as the parser gives
// it: a question with one answer, one with two, and a challenge.
func testLesson() *Lesson {
	const domain = "container-orchestration"
	return &Lesson{ID: "chroot", Title: "chroot", Order: 3, Domain: domain, File: "03-chroot.md",
		Objectives: []string{"Build a jail"}, Demos: []string{"chroot-jail"},
		Quiz: []Question{
			{ID: "year", LessonID: "chroot", Domain: domain, Prompt: "When did chroot appear?",
				Choices: []string{"1969", "1979", "2013"}, Answers: []int{1}, Explanation: "Version 7 Unix, 1979."},
			{ID: "hides", LessonID: "chroot", Domain: domain, Prompt: "What does chroot hide? Choose two.",
				Choices: []string{"files outside the new root", "other processes", "the host's paths", "the network"},
				Answers: []int{0, 2}, Explanation: "It changes only the root directory."},
		},
		Challenges: []Challenge{{ID: "build-jail", Title: "Build a jail", Task: "Make a jail.",
			Hints: []string{"use chroot"}, Solution: "chroot /tmp/jail /bin/sh"}},
		Body: "# chroot\n\nBody text.\n"}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "a", "b", "progress.json"), UID: -1, GID: -1}
	l := testLesson()
	p := NewProgress()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	p.MarkRead(l, now)
	if !p.RecordAnswer(&l.Quiz[0], []int{1}, now) {
		t.Fatal("right answer recorded as wrong")
	}
	if p.RecordAnswer(&l.Quiz[1], []int{0}, now) {
		t.Fatal("half an answer recorded as right")
	}
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	got, notice, err := s.Load()
	if err != nil || notice != "" {
		t.Fatalf("Load: %v %q", err, notice)
	}
	if a, ok := got.Answer(&l.Quiz[0]); !ok || !a.Correct || a.Picked[0] != 1 {
		t.Fatalf("answer lost: %+v", a)
	}
	if got.Status(l) != InProgress {
		t.Fatalf("status = %s, want in progress", got.Status(l))
	}
	if right, total := got.Score(l); right != 1 || total != 2 {
		t.Fatalf("score %d/%d, want 1/2", right, total)
	}
	// No temp files left next to the progress file.
	entries, _ := os.ReadDir(filepath.Dir(s.Path))
	if len(entries) != 1 {
		t.Fatalf("files next to progress: %v", entries)
	}
}

func TestStatusDoneNeedsQuizAndChallenges(t *testing.T) {
	l := testLesson()
	p := NewProgress()
	now := time.Now()
	if p.Status(l) != NotStarted {
		t.Fatal("a fresh lesson is not 'not started'")
	}
	p.MarkRead(l, now)
	p.RecordAnswer(&l.Quiz[0], []int{1}, now)
	p.RecordAnswer(&l.Quiz[1], []int{2, 0}, now)
	if p.Status(l) != InProgress {
		t.Fatal("done before the challenge was passed")
	}
	p.RecordChallenge(l.ID, "build-jail", now)
	if p.Status(l) != Done {
		t.Fatalf("status = %s after everything, want done", p.Status(l))
	}
	c := &Course{Lessons: []*Lesson{l}}
	if got := p.Completion(c); got != 1 {
		t.Fatalf("completion = %v, want 1", got)
	}
}

func TestMissingFileIsAFreshStart(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "progress.json"), UID: -1, GID: -1}
	p, notice, err := s.Load()
	if err != nil || notice != "" || len(p.Lessons) != 0 {
		t.Fatalf("Load of a missing file: %v %q %+v", err, notice, p)
	}
}

func TestCorruptFileIsKeptAsBak(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Path: filepath.Join(dir, "progress.json"), UID: -1, GID: -1}
	corrupt := []byte(`{"version": 1, "lessons": {"x": `)
	for round := 0; round < 2; round++ {
		if err := os.WriteFile(s.Path, corrupt, 0o600); err != nil {
			t.Fatal(err)
		}
		p, notice, err := s.Load()
		if err != nil {
			t.Fatal(err)
		}
		if p == nil || len(p.Lessons) != 0 {
			t.Fatal("corrupt file did not give fresh progress")
		}
		want := s.Path + ".bak"
		if round == 1 {
			want = s.Path + ".bak.1" // the first .bak is never overwritten
		}
		if !strings.Contains(notice, want) {
			t.Fatalf("notice %q does not name %s", notice, want)
		}
		kept, err := os.ReadFile(want)
		if err != nil || string(kept) != string(corrupt) {
			t.Fatalf("corrupt file not kept byte for byte at %s: %v", want, err)
		}
	}
}

func TestNewerFormatIsRefusedAndLeftAlone(t *testing.T) {
	dir := t.TempDir()
	s := &Store{Path: filepath.Join(dir, "progress.json"), UID: -1, GID: -1}
	newer := []byte(`{"version": 99, "lessons": {"x": {}}, "from_the_future": true}`)
	if err := os.WriteFile(s.Path, newer, 0o600); err != nil {
		t.Fatal(err)
	}
	p, _, err := s.Load()
	if !errors.Is(err, ErrNewerFormat) || p != nil {
		t.Fatalf("Load = %v, %v; want ErrNewerFormat", p, err)
	}
	for _, want := range []string{s.Path, "format 99", "up to 1", "untouched", "XDG_STATE_HOME"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := s.Save(NewProgress()); !errors.Is(err, ErrNewerFormat) {
		t.Fatalf("Save over a newer file: %v, want ErrNewerFormat", err)
	}
	got, err := os.ReadFile(s.Path)
	if err != nil || string(got) != string(newer) {
		t.Fatalf("newer file changed: %q %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files beside the progress file: %v (nothing may be moved aside or left)", entries)
	}
}

func TestResetKeepsBak(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "progress.json"), UID: -1, GID: -1}
	if bak, err := s.Reset(); err != nil || bak != "" {
		t.Fatalf("reset with nothing saved: %q %v", bak, err)
	}
	_ = s.Save(NewProgress())
	bak, err := s.Reset()
	if err != nil || bak != s.Path+".bak" {
		t.Fatalf("reset: %q %v", bak, err)
	}
	if _, err := os.Stat(s.Path); !os.IsNotExist(err) {
		t.Fatal("progress still there after reset")
	}
}

func TestSaveUnderSudoIsOwnedByTheUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to another user")
	}
	dir := t.TempDir()
	s := &Store{Path: filepath.Join(dir, "state", "kcna-lab", "progress.json"), UID: 65534, GID: 65534}
	if err := s.Save(NewProgress()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "state"), filepath.Dir(s.Path), s.Path} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 65534 || st.Gid != 65534 {
			t.Errorf("%s owned by %d:%d, want 65534:65534", p, st.Uid, st.Gid)
		}
	}
}

func TestDefaultStorePaths(t *testing.T) {
	t.Setenv("SUDO_USER", "")
	t.Setenv("XDG_STATE_HOME", "/tmp/xdg-state")
	s, err := DefaultStore()
	if err != nil || s.Path != "/tmp/xdg-state/kcna-lab/progress.json" {
		t.Fatalf("with XDG_STATE_HOME: %v %v", s, err)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/learner")
	s, _ = DefaultStore()
	if s.Path != "/home/learner/.local/state/kcna-lab/progress.json" {
		t.Fatalf("default path = %s", s.Path)
	}
	if os.Geteuid() != 0 {
		return
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("no user nobody to stand for SUDO_USER")
	}
	t.Setenv("SUDO_USER", "nobody")
	t.Setenv("XDG_STATE_HOME", "/root/.local/state") // sudo may pass root's through
	s, err = DefaultStore()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(u.HomeDir, ".local/state/kcna-lab/progress.json"); s.Path != want || s.UID != 65534 {
		t.Fatalf("under sudo: %s uid %d, want %s uid 65534", s.Path, s.UID, want)
	}
}

// TestPlaceIsKeptAndOptional: the place the course reopens at survives a
// save and a load, and a file from before the field existed loads with no
// place rather than failing.
func TestPlaceIsKeptAndOptional(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "progress.json"), UID: -1, GID: -1}
	p := NewProgress()
	if !p.SetPlace("chroot", 0.4, time.Now()) || p.SetPlace("chroot", 0.4, time.Now()) {
		t.Fatal("SetPlace should report a change once, and no change the second time")
	}
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Load()
	if err != nil || got.Place == nil || got.Place.Lesson != "chroot" || got.Place.Scroll != 0.4 {
		t.Fatalf("place after a round trip: %+v, %v", got.Place, err)
	}
	if c := got.Clone(); c.Place == got.Place || *c.Place != *got.Place {
		t.Fatal("Clone should copy the place, not share it")
	}
	old := `{"version":1,"lessons":{"chroot":{"read_at":"2026-11-23T10:00:00Z"}}}`
	if err := os.WriteFile(s.Path, []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	got, notice, err := s.Load()
	if err != nil || notice != "" || got.Place != nil || got.Lessons["chroot"] == nil {
		t.Fatalf("an older file should load as it was, with no place: %+v %q %v", got, notice, err)
	}
}
