//go:build linux

package roster

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

// Student is one row of the class, as the dashboard and /api/class show it.
type Student struct {
	Name      string    `json:"name"`
	Connected bool      `json:"connected"`
	Sessions  int       `json:"sessions"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	// Lesson (its id), Order and Screen are where the student is now;
	// ScreenSince is when they got there.
	Lesson      string    `json:"lesson,omitempty"`
	Order       int       `json:"order,omitempty"`
	Screen      string    `json:"screen,omitempty"`
	ScreenSince time.Time `json:"screen_since,omitzero"`
	LessonsRead int       `json:"lessons_read"`
	LessonsDone int       `json:"lessons_done"`
	// QuizRight of QuizAnswered questions are right now, of QuizTotal.
	QuizRight    int `json:"quiz_right"`
	QuizAnswered int `json:"quiz_answered"`
	QuizTotal    int `json:"quiz_total"`
	Challenges   int `json:"challenges_passed"`
	// Hints shown and Solutions revealed before a pass, in all.
	Hints        int                `json:"hints"`
	Solutions    int                `json:"solutions"`
	FailedInARow int                `json:"failed_in_a_row"`
	FailedOn     string             `json:"failed_on,omitempty"`
	Checks       []lessons.CheckRun `json:"checks,omitempty"`
	// Lab is false while the student has no lab running; then Memory and
	// Sandboxes are empty.
	Lab         bool              `json:"lab"`
	MemoryBytes int64             `json:"memory_bytes"`
	Sandboxes   []labhost.Sandbox `json:"sandboxes"`
	Stuck       bool              `json:"stuck"`
	StuckWhy    string            `json:"stuck_why,omitempty"`
}

// row works out a student's row; r.mu is held.
func (r *Roster) row(st *student, now time.Time) Student {
	p := st.progress
	s := Student{Name: st.name, Connected: st.sessions > 0, Sessions: st.sessions, LastSeen: st.lastSeen,
		Screen: st.activity.Screen, ScreenSince: st.activity.Since, Lesson: st.activity.Lesson,
		Hints: 0, Solutions: len(st.activity.Solutions), Checks: st.activity.Checks,
		Lab: st.usageSeen, MemoryBytes: st.usage.MemoryBytes, Sandboxes: st.usage.Sandboxes}
	if s.Connected {
		s.LastSeen = now
	}
	if s.Lesson == "" && p.Place != nil {
		s.Lesson = p.Place.Lesson
	}
	for _, n := range st.activity.Hints {
		s.Hints += n
	}
	for _, l := range r.course.Lessons {
		if l.ID == s.Lesson {
			s.Order = l.Order
		}
		lp := p.Lessons[l.ID]
		s.QuizTotal += len(l.Quiz)
		if lp == nil {
			continue
		}
		if !lp.ReadAt.IsZero() {
			s.LessonsRead++
		}
		if p.Status(l) == lessons.Done {
			s.LessonsDone++
		}
		for _, q := range l.Quiz {
			if a, ok := lp.Answers[q.ID]; ok {
				s.QuizAnswered++
				if a.Correct {
					s.QuizRight++
				}
			}
		}
		for _, c := range l.Challenges {
			if _, ok := lp.Challenges[c.ID]; ok {
				s.Challenges++
			}
		}
	}
	s.FailedInARow, s.FailedOn = st.activity.FailedInARow()
	s.Stuck, s.StuckWhy = r.stuck(st, s, now)
	return s
}

// stuck says whether the instructor should walk over, and why: the same
// challenge failed FailedChecks times running, or a connected student
// who has neither moved nor made progress for StuckAfter on a lesson's
// text or quiz.
func (r *Roster) stuck(st *student, s Student, now time.Time) (bool, string) {
	if s.FailedOn != "" && s.FailedInARow >= r.opts.FailedChecks {
		return true, fmt.Sprintf("%d failed checks in a row on %s", s.FailedInARow, s.FailedOn)
	}
	// Only a lesson's text or quiz: the map is between lessons, and a
	// mock exam is meant to take an hour.
	if !s.Connected || (s.Screen != "reader" && s.Screen != "quiz") {
		return false, ""
	}
	last := st.activity.Since
	if st.changed.After(last) {
		last = st.changed
	}
	if since := now.Sub(last); !last.IsZero() && since >= r.opts.StuckAfter {
		where := s.Screen
		if s.Lesson != "" {
			where = s.Lesson + " (" + s.Screen + ")"
		}
		return true, fmt.Sprintf("no progress for %s on %s", since.Truncate(time.Minute), where)
	}
	return false, ""
}

// loadProgress reads a student's progress file (rel/progress.json in
// root), with when it last changed; a missing or unreadable one is no
// progress yet. The file is the student's: it is read in their root,
// bounded (labhost.ReadInRootLimit, MaxProgressFile), and parsed as the course parses it.
func loadProgress(root, rel string) (*lessons.Progress, time.Time) {
	path := filepath.Join(rel, "progress.json")
	f, err := labhost.ReadInRootLimit(root, path, MaxProgressFile)
	if err != nil {
		return lessons.NewProgress(), time.Time{}
	}
	// The change time of the file read, from its fstat: a path looked up
	// again could have been pointed elsewhere meanwhile.
	changed := f.ModTime
	p := lessons.NewProgress()
	if err := json.Unmarshal(f.Data, p); err != nil {
		return lessons.NewProgress(), changed
	}
	if p.Lessons == nil {
		p.Lessons = map[string]*lessons.LessonProgress{}
	}
	return p, changed
}
