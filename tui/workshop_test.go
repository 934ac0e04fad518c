package tui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// TestWorkshopActivityRecordsScreenHintsAndChecks: on a workshop server
// the course writes what the learner does to the activity file the
// instructor's dashboard watches: the screen, the hints, every check.
func TestWorkshopActivityRecordsScreenHintsAndChecks(t *testing.T) {
	c, reg, _ := oneChallenge(t, "[Look left., Look right.]", "Do it.\n")
	path := filepath.Join(t.TempDir(), lessons.ActivityFile)
	var m tea.Model = New(Options{Course: c, Progress: lessons.NewProgress(), Lab: reg,
		Workshop: &Workshop{ActivityPath: path}})
	drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24}, press("enter"), press("c"), press("h"), press("enter"), press("enter"))
	var a lessons.Activity
	if ok, err := lessons.ReadJSON(path, &a); !ok || err != nil {
		t.Fatalf("no activity written: %v", err)
	}
	if a.Screen != "reader" || a.Lesson != "only" {
		t.Errorf("activity at %q/%q, want reader/only", a.Screen, a.Lesson)
	}
	if a.Hints["only/make-it"] != 1 {
		t.Errorf("hints %v, want 1 for only/make-it", a.Hints)
	}
	if n, same := a.FailedInARow(); n != 2 || same != "only/make-it" {
		t.Errorf("failed in a row %d on %q, want 2 on only/make-it (checks %+v)", n, same, a.Checks)
	}
}

// TestWorkshopNoticeAndPace: the instructor's notice covers the screen
// until dismissed, and a lesson past the pace does not open.
func TestWorkshopNoticeAndPace(t *testing.T) {
	m := New(Options{Course: testCourse(t), Progress: lessons.NewProgress(),
		Workshop: &Workshop{ClassroomPath: filepath.Join(t.TempDir(), "none.json")}})
	tm := drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24})
	tm, _ = tm.Update(classroomMsg{changed: true, c: lessons.Classroom{Notice: "Break until 11:00", NoticeID: 7, PaceThrough: 1}, modTime: time.Now()})
	if s := ansi.Strip(screenOf(tm)); !strings.Contains(s, "Break until 11:00") {
		t.Fatalf("the notice is not shown:\n%s", s)
	}
	tm = drive(t, tm, press("enter"))
	s := ansi.Strip(screenOf(tm))
	if strings.Contains(s, "Break until") || !strings.Contains(s, "wait for the instructor: Second lesson") {
		t.Fatalf("after enter the notice should be gone and lesson 2 marked:\n%s", s)
	}
	tm = drive(t, tm, press("down"), press("enter"))
	if s := ansi.Strip(screenOf(tm)); !strings.Contains(s, "waits for the instructor") {
		t.Fatalf("a paced lesson opened:\n%s", s)
	}
	tm = drive(t, tm, press("enter"))
	if got := tm.(Model).active; got != mapScreen {
		t.Fatalf("the paced lesson's notice left screen %d, want the map", got)
	}
}

// TestWorkshopPaceClosesAnOpenLesson: a learner in a lesson the pace
// then puts out of reach is taken back to the map, told why.
func TestWorkshopPaceClosesAnOpenLesson(t *testing.T) {
	m := New(Options{Course: testCourse(t), Progress: lessons.NewProgress(),
		Workshop: &Workshop{ClassroomPath: filepath.Join(t.TempDir(), "none.json")}})
	tm := drive(t, m, tea.WindowSizeMsg{Width: 80, Height: 24}, press("down"), press("enter"))
	if got := tm.(Model).active; got != readerScreen {
		t.Fatalf("lesson 2 did not open: screen %d", got)
	}
	tm, _ = tm.Update(classroomMsg{changed: true, c: lessons.Classroom{PaceThrough: 1}, modTime: time.Now()})
	if s := ansi.Strip(screenOf(tm)); tm.(Model).active != mapScreen || !strings.Contains(s, "waits for the instructor") {
		t.Fatalf("want the map and why, got screen %d:\n%s", tm.(Model).active, s)
	}
}
