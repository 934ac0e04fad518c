package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// Course is where `lessons` gets what it lists. The full program loads
// the course and asks doctor; the slim front reads the course's index
// and, lacking doctor, returns ErrHandOver from HostCannotRun.
type Course struct {
	// Load is the course, or its index (ids, titles, questions' and
	// challenges' ids: all that lessons prints and counts).
	Load func() (*lessons.Course, error)
	// HostCannotRun is why this host cannot run each lesson's
	// challenges (sandbox.Doctor's findings), asked only when it decides
	// a status.
	HostCannotRun func(*lessons.Course) (map[string]string, error)
	// Progress is the learner's progress, with its notice printed.
	Progress func() (*lessons.Progress, error)
}

// NewLessonsCmd is `kcna-lab lessons`.
func NewLessonsCmd(a *App, src Course) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lessons",
		Short: "List the course: each lesson's number, id, title and your status",
		Long: `List the course: each lesson's number, id, title, your status and quiz
score. The status is "not started", "in progress" or "done" (read, every
question right, the challenge passed), or "done here" where this host cannot run
the lesson's challenge: read with its quiz right, the challenge not possible here
for the reason listed below the table (as ` + "`kcna-lab doctor`" + ` finds it), and not
marked passed. Only then is doctor asked, which tries sandboxes for a second.`,
		Example: `  kcna-lab lessons
  kcna-lab lessons --json | jq '.[] | select(.status != "done") | .id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			course, err := src.Load()
			if err != nil {
				return err
			}
			p, err := src.Progress()
			if err != nil {
				return err
			}
			rs, err := Rows(course, p, src.HostCannotRun)
			if err != nil {
				return err
			}
			if asJSON {
				return a.PrintJSON(rs)
			}
			return WriteLessonsTable(a, rs, course, p)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return cmd
}

// LessonRow is one lesson as `lessons --json` prints it.
type LessonRow struct {
	Order     int            `json:"order"`
	ID        string         `json:"id"`
	Title     string         `json:"title"`
	Domain    string         `json:"domain"`
	Status    lessons.Status `json:"status"`
	Correct   int            `json:"quiz_correct"`
	Questions int            `json:"quiz_questions"`
	// NotPossibleHere says why this host cannot run the lesson's
	// challenges, for a lesson "done here" without them.
	NotPossibleHere string `json:"challenge_not_possible_here,omitempty"`
}

// Rows are the course's lessons as lessons and progress list them, each
// with the learner's status and score; hostCannotRun is asked only when
// a status needs it.
func Rows(course *lessons.Course, p *lessons.Progress, hostCannotRun func(*lessons.Course) (map[string]string, error)) ([]LessonRow, error) {
	why, err := hostLimits(course, p, hostCannotRun)
	if err != nil {
		return nil, err
	}
	out := make([]LessonRow, 0, len(course.Lessons))
	for _, l := range course.Lessons {
		right, total := p.Score(l)
		r := LessonRow{Order: l.Order, ID: l.ID, Title: l.Title, Domain: l.Domain,
			Status: p.StatusHere(l, why[l.ID]), Correct: right, Questions: total}
		if r.Status == lessons.DoneHere {
			r.NotPossibleHere = why[l.ID]
		}
		out = append(out, r)
	}
	return out, nil
}

// hostLimits is why this host cannot run each lesson's challenges, asked
// of doctor (which tries sandboxes, about a second) only when it decides
// a status: some lesson is read, its quiz all right, a challenge left.
func hostLimits(course *lessons.Course, p *lessons.Progress, hostCannotRun func(*lessons.Course) (map[string]string, error)) (map[string]string, error) {
	for _, l := range course.Lessons {
		if p.OnlyChallengesLeft(l) {
			return hostCannotRun(course)
		}
	}
	return nil, nil
}

// WriteLessonsTable prints rs as the lessons table, then why each lesson
// "done here" could not run its challenge, then how far the course is.
func WriteLessonsTable(a *App, rs []LessonRow, course *lessons.Course, p *lessons.Progress) error {
	w := tabwriter.NewWriter(a.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "#\tID\tTITLE\tSTATUS\tQUIZ")
	for _, r := range rs {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d/%d\n", r.Order, r.ID, r.Title, r.Status, r.Correct, r.Questions)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, r := range rs {
		if r.NotPossibleHere != "" {
			fmt.Fprintf(a.Stdout, "\n%s is %s: read, and every question answered right; its challenge is not possible here (%s), so it is not marked passed.\n",
				r.ID, lessons.DoneHere, r.NotPossibleHere)
		}
	}
	fmt.Fprintf(a.Stdout, "\n%.0f%% of the course done. Open one with `kcna-lab show ID` or run `kcna-lab` for the full course.\n",
		100*p.Completion(course))
	return nil
}
