package lessons

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kcna-lab/kcna-lab/internal/atomicfile"
)

// On a workshop server two small files pass between a student's course
// and the instructor's dashboard, beside the progress they complement:
//
//   - Activity, written by the student's course: what they are doing now
//     (screen, the checks they ran, hints and solutions shown), which
//     progress does not keep because it is not an achievement;
//   - Classroom, written by the server: the instructor's notice and the
//     pace of the class, which every student's course shows.

// ActivityFile is the activity's file name, in progress's directory.
const ActivityFile = "activity.json"

// Activity is what a learner is doing in the course now.
type Activity struct {
	// Lesson and Screen are where the learner is ("map", "reader",
	// "quiz", "exam"...); Since is when they got there.
	Lesson string    `json:"lesson,omitempty"`
	Screen string    `json:"screen"`
	Since  time.Time `json:"since"`
	// Checks are the latest challenge checks, oldest first (at most
	// MaxActivityChecks).
	Checks []CheckRun `json:"checks,omitempty"`
	// Hints counts the hints shown, by "lesson/challenge"; Solutions
	// lists the challenges whose solution was shown before a pass.
	Hints     map[string]int `json:"hints,omitempty"`
	Solutions []string       `json:"solutions,omitempty"`
}

// CheckRun is one challenge check and its verdict.
type CheckRun struct {
	Lesson    string    `json:"lesson"`
	Challenge string    `json:"challenge"`
	Passed    bool      `json:"passed"`
	Detail    string    `json:"detail,omitempty"`
	At        time.Time `json:"at"`
}

// MaxActivityChecks bounds the checks an activity keeps.
const MaxActivityChecks = 20

// AddCheck keeps a check's verdict, dropping the oldest beyond the bound.
func (a *Activity) AddCheck(c CheckRun) {
	a.Checks = append(a.Checks, c)
	if n := len(a.Checks); n > MaxActivityChecks {
		a.Checks = append([]CheckRun(nil), a.Checks[n-MaxActivityChecks:]...)
	}
}

// FailedInARow counts the failed checks since the last pass, and names
// the challenge ("lesson/challenge") of the latest when all were of it.
func (a *Activity) FailedInARow() (n int, same string) {
	for i := len(a.Checks) - 1; i >= 0; i-- {
		c := a.Checks[i]
		if c.Passed {
			break
		}
		key := c.Lesson + "/" + c.Challenge
		if n == 0 {
			same = key
		} else if key != same {
			same = ""
		}
		n++
	}
	return n, same
}

// ClassroomFile is the classroom's file name, in the directory the
// workshop server shares read-only with every lab.
const ClassroomFile = "classroom.json"

// Classroom is what the instructor tells the whole class.
type Classroom struct {
	// Notice is a message every student sees until they dismiss it;
	// NoticeID changes with each new one, so a dismissed one stays so.
	Notice   string    `json:"notice,omitempty"`
	NoticeID int64     `json:"notice_id,omitempty"`
	NoticeAt time.Time `json:"notice_at,omitzero"`
	// PaceThrough, when above 0, is the last lesson (by number, from 1)
	// the class may open: later ones are marked "wait for the
	// instructor".
	PaceThrough int `json:"pace_through,omitempty"`
}

// Paced reports whether lesson index i (from 0) waits for the instructor.
func (c Classroom) Paced(i int) bool { return c.PaceThrough > 0 && i >= c.PaceThrough }

// ReadJSON reads a small JSON file into v; a missing file leaves v as it
// is and reports false.
func ReadJSON(path string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return true, nil
}

// WriteJSON writes v to path atomically (temp file, fsync, rename), with
// mode perm, making the directory if needed.
func WriteJSON(path string, v any, perm os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'), perm)
}
