package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestLessonsAndProgressSayDoneHere: a lesson read with its quiz all
// right, whose challenge this host cannot run, is "done here" in
// `lessons`, `lessons --json` and `progress`, with the reason; the
// challenge stays unpassed in the saved progress.
func TestLessonsAndProgressSayDoneHere(t *testing.T) {
	state := privateState(t)
	code, _, errOut := kcna(t, "lessons")
	if code != 0 {
		t.Fatal(errOut)
	}
	course, err := (&app{}).course()
	if err != nil {
		t.Fatal(err)
	}
	var l *lessons.Lesson
	for _, cl := range course.Lessons {
		if len(cl.Challenges) > 0 {
			l = cl
			break
		}
	}
	p := lessons.NewProgress()
	now := time.Now()
	p.MarkRead(l, now)
	for i := range l.Quiz {
		p.RecordAnswer(&l.Quiz[i], l.Quiz[i].Answers, now)
	}
	store := &lessons.Store{Path: filepath.Join(state, "kcna-lab", "progress.json"), UID: -1, GID: -1}
	if err := store.Save(p); err != nil {
		t.Fatal(err)
	}
	const why = "this host has no bridge network"
	asked := 0
	old := hostCannotRun
	hostCannotRun = func(*lessons.Course) map[string]string { asked++; return map[string]string{l.ID: why} }
	t.Cleanup(func() { hostCannotRun = old })

	for _, cmd := range []string{"lessons", "progress"} {
		code, out, errOut := kcna(t, cmd)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", cmd, code, errOut)
		}
		row := ""
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, " "+l.ID+" ") {
				row = line
			}
		}
		if !strings.Contains(row, "done here") || !strings.Contains(out, "not possible here ("+why+")") {
			t.Fatalf("%s should say %s is done here and why:\n%s", cmd, l.ID, out)
		}
	}
	code, out, _ := kcna(t, "lessons", "--json")
	var rows []cli.LessonRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil {
		t.Fatalf("lessons --json: exit %d\n%s", code, out)
	}
	for _, r := range rows {
		if r.ID == l.ID && (r.Status != lessons.DoneHere || r.NotPossibleHere != why) {
			t.Fatalf("json row: %+v", r)
		}
	}
	if asked != 3 {
		t.Errorf("doctor was asked %d times, want once a command", asked)
	}
	if loadProgress(t, state).Passed(l.ID, l.Challenges[0].ID) {
		t.Fatal("the challenge must not be marked passed")
	}
}

// TestLessonsDoNotAskDoctorWhenNoStatusDependsOnIt: with nothing left but
// a challenge nowhere, doctor (which starts sandboxes) is not run.
func TestLessonsDoNotAskDoctorWhenNoStatusDependsOnIt(t *testing.T) {
	privateState(t)
	old := hostCannotRun
	hostCannotRun = func(*lessons.Course) map[string]string { t.Fatal("doctor was asked"); return nil }
	t.Cleanup(func() { hostCannotRun = old })
	if code, _, errOut := kcna(t, "lessons"); code != 0 {
		t.Fatal(errOut)
	}
}

// TestCannotRunFollowsTheLessonsDemo: a lesson with challenges whose demo
// is blocked cannot run them, for the demo's reason; a lesson without
// challenges, or whose demo can run, is not listed.
func TestCannotRunFollowsTheLessonsDemo(t *testing.T) {
	course, err := (&app{}).course()
	if err != nil {
		t.Fatal(err)
	}
	noop := func(context.Context, event.Sink) error { return nil }
	var ds []demos.Demo
	for _, l := range course.Lessons {
		for _, id := range l.Demos {
			ds = append(ds, demos.Demo{ID: id, Run: noop, Blocked: func(sandbox.Report) string { return "blocked: " + id }})
		}
	}
	why := cannotRun(course, demos.NewRegistry(ds, nil), sandbox.Report{})
	for _, l := range course.Lessons {
		got, listed := why[l.ID]
		switch {
		case len(l.Challenges) == 0 || len(l.Demos) == 0:
			if listed {
				t.Errorf("%s has no challenge or no demo, yet is listed: %q", l.ID, got)
			}
		case got != "blocked: "+l.Demos[0]:
			t.Errorf("%s: %q, want the first blocked demo's reason", l.ID, got)
		}
	}
	if len(why) == 0 {
		t.Fatal("no lesson listed")
	}
}
