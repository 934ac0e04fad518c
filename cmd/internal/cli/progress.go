package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// NewProgressCmd is `kcna-lab progress`; src is where the course comes
// from, as for NewLessonsCmd.
func NewProgressCmd(a *App, src Course) *cobra.Command {
	var reset, asJSON bool
	cmd := &cobra.Command{
		Use:   "progress",
		Short: "Show what you have done, or start over with --reset",
		Long: `Show your progress: lessons read, questions answered correctly, challenges
passed. A lesson is done when read, every question answered right and its
challenge passed; where this host cannot run its challenge (doctor says why),
it is "done here" once read with its quiz right, and the reason is listed. The
challenge is never marked passed then. Progress lives in $XDG_STATE_HOME/kcna-lab/progress.json (else
~/.local/state/kcna-lab/); under sudo, in the invoking user's home.

--reset starts over. The old file is kept next to it as a .bak file, so a
reset by mistake can be undone by renaming it back.`,
		Example: `  kcna-lab progress
  kcna-lab progress --json | jq '.exams[-1]'
  kcna-lab progress --reset`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, p, err := a.Progress()
			if err != nil {
				return err
			}
			if reset && asJSON {
				return fmt.Errorf("--reset and --json do not go together: --json only reads")
			}
			if reset {
				bak, err := store.Reset()
				if err != nil {
					return fmt.Errorf("reset progress: %w", err)
				}
				if bak == "" {
					fmt.Fprintln(a.Stdout, "Nothing to reset: no progress saved yet.")
					return nil
				}
				fmt.Fprintf(a.Stdout, "Progress reset. The old record is kept as %s\n", bak)
				return nil
			}
			course, err := src.Load()
			if err != nil {
				return err
			}
			rows, err := Rows(course, p, src.HostCannotRun)
			if err != nil {
				return err
			}
			if asJSON {
				return a.PrintJSON(progressReport(store, course, p, rows))
			}
			fmt.Fprintf(a.Stdout, "Progress file: %s\n\n", store.Path)
			return WriteLessonsTable(a, rows, course, p)
		},
	}
	cmd.Flags().BoolVar(&reset, "reset", false, "start over (the old file is kept as .bak)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print lessons, challenges and exam history as JSON")
	return cmd
}

// ProgressJSON is `progress --json`: every lesson with its challenges, and
// the exams taken (exam --review --json gives one exam's questions).
type ProgressJSON struct {
	File       string               `json:"file"`
	Completion float64              `json:"completion"`
	Lessons    []LessonProgressJSON `json:"lessons"`
	Exams      []ExamSummaryJSON    `json:"exams"`
}

type LessonProgressJSON struct {
	LessonRow
	ReadAt     *time.Time           `json:"read_at,omitempty"`
	Challenges []ChallengeStateJSON `json:"challenges"`
}

type ChallengeStateJSON struct {
	ID       string     `json:"id"`
	Title    string     `json:"title"`
	Passed   bool       `json:"passed"`
	PassedAt *time.Time `json:"passed_at,omitempty"`
}

type ExamSummaryJSON struct {
	At           time.Time             `json:"at"`
	Score        int                   `json:"score"`
	Total        int                   `json:"total"`
	Percent      int                   `json:"percent"`
	Passed       bool                  `json:"passed"`
	PassPercent  int                   `json:"pass_percent"`
	Seconds      int                   `json:"seconds"`
	LimitSeconds int                   `json:"limit_seconds"`
	TimedOut     bool                  `json:"timed_out"`
	Seed         int64                 `json:"seed"`
	Domains      []lessons.DomainScore `json:"domains,omitempty"`
}

func progressReport(store *lessons.Store, c *lessons.Course, p *lessons.Progress, rows []LessonRow) ProgressJSON {
	out := ProgressJSON{File: store.Path, Completion: p.Completion(c),
		Lessons: []LessonProgressJSON{}, Exams: []ExamSummaryJSON{}}
	for i, row := range rows {
		l := c.Lessons[i]
		lp := p.Lessons[l.ID]
		lj := LessonProgressJSON{LessonRow: row, Challenges: []ChallengeStateJSON{}}
		if lp != nil && !lp.ReadAt.IsZero() {
			lj.ReadAt = &lp.ReadAt
		}
		for _, ch := range l.Challenges {
			cj := ChallengeStateJSON{ID: ch.ID, Title: ch.Title}
			if lp != nil {
				if at, ok := lp.Challenges[ch.ID]; ok {
					cj.Passed, cj.PassedAt = true, &at
				}
			}
			lj.Challenges = append(lj.Challenges, cj)
		}
		out.Lessons = append(out.Lessons, lj)
	}
	for _, r := range p.Exams {
		out.Exams = append(out.Exams, ExamSummaryJSON{At: r.At, Score: r.Score, Total: r.Total, Percent: r.Percent(),
			Passed: r.Passed, PassPercent: r.PassPercent, Seconds: r.Seconds, LimitSeconds: r.LimitSeconds,
			TimedOut: r.TimedOut, Seed: r.Seed, Domains: r.Domains})
	}
	return out
}
