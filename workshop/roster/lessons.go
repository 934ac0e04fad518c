//go:build linux

package roster

import (
	"sort"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// LessonStats is how the class stands in one lesson: what the
// per-lesson view and /api/lessons show.
type LessonStats struct {
	ID    string `json:"id"`
	Order int    `json:"order"`
	Title string `json:"title"`
	// Read students opened it; QuizPassed answered every question right.
	Read       int             `json:"read"`
	QuizPassed int             `json:"quiz_passed"`
	Challenges []ChallengeStat `json:"challenges"`
	// Missed are its questions by how many students got them wrong (at
	// least once), most first: what the instructor explains next.
	Missed []MissedQuestion `json:"missed"`
}

// ChallengeStat counts the students who passed a challenge.
type ChallengeStat struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Passed int    `json:"passed"`
}

// MissedQuestion is a question and how the class answered it.
type MissedQuestion struct {
	ID       string `json:"id"`
	Prompt   string `json:"prompt"`
	Wrong    int    `json:"wrong"`
	Answered int    `json:"answered"`
}

// Lessons is the class's standing in every lesson, in course order.
func (r *Roster) Lessons() []LessonStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]LessonStats, 0, len(r.course.Lessons))
	for _, l := range r.course.Lessons {
		out = append(out, r.lessonStats(l))
	}
	return out
}

// lessonStats counts one lesson; r.mu is held.
func (r *Roster) lessonStats(l *lessons.Lesson) LessonStats {
	ls := LessonStats{ID: l.ID, Order: l.Order, Title: l.Title}
	for _, c := range l.Challenges {
		ls.Challenges = append(ls.Challenges, ChallengeStat{ID: c.ID, Title: c.Title})
	}
	missed := make([]MissedQuestion, len(l.Quiz))
	for i, q := range l.Quiz {
		missed[i] = MissedQuestion{ID: q.ID, Prompt: q.Prompt}
	}
	for _, st := range r.students {
		lp := st.progress.Lessons[l.ID]
		if lp == nil {
			continue
		}
		if !lp.ReadAt.IsZero() {
			ls.Read++
		}
		allRight := len(l.Quiz) > 0
		for i, q := range l.Quiz {
			a, ok := lp.Answers[q.ID]
			if !ok {
				allRight = false
				continue
			}
			missed[i].Answered++
			// Box > 0: missed at some time, even if right since.
			if !a.Correct || a.Box > 0 {
				missed[i].Wrong++
			}
			allRight = allRight && a.Correct
		}
		if allRight {
			ls.QuizPassed++
		}
		for i, c := range l.Challenges {
			if _, ok := lp.Challenges[c.ID]; ok {
				ls.Challenges[i].Passed++
			}
		}
	}
	for _, m := range missed {
		if m.Wrong > 0 {
			ls.Missed = append(ls.Missed, m)
		}
	}
	sort.SliceStable(ls.Missed, func(i, j int) bool { return ls.Missed[i].Wrong > ls.Missed[j].Wrong })
	return ls
}
