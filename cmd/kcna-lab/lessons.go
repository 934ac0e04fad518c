package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/lessons"
)

func newLessonsCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lessons",
		Short: "List the course: each lesson's number, id, title and your status",
		Example: `  kcna-lab lessons
  kcna-lab lessons --json | jq '.[] | select(.status != "done") | .id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			course, err := a.course()
			if err != nil {
				return err
			}
			_, p, err := a.progress()
			if err != nil {
				return err
			}
			if asJSON {
				return writeLessonsJSON(a, course, p)
			}
			return writeLessonsTable(a, course, p)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return cmd
}

// lessonRow is one lesson as `lessons --json` prints it.
type lessonRow struct {
	Order     int            `json:"order"`
	ID        string         `json:"id"`
	Title     string         `json:"title"`
	Domain    string         `json:"domain"`
	Status    lessons.Status `json:"status"`
	Correct   int            `json:"quiz_correct"`
	Questions int            `json:"quiz_questions"`
}

func rows(course *lessons.Course, p *lessons.Progress) []lessonRow {
	out := make([]lessonRow, 0, len(course.Lessons))
	for _, l := range course.Lessons {
		right, total := p.Score(l)
		out = append(out, lessonRow{Order: l.Order, ID: l.ID, Title: l.Title, Domain: l.Domain,
			Status: p.Status(l), Correct: right, Questions: total})
	}
	return out
}

func writeLessonsJSON(a *app, course *lessons.Course, p *lessons.Progress) error {
	return a.printJSON(rows(course, p))
}

func writeLessonsTable(a *app, course *lessons.Course, p *lessons.Progress) error {
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "#\tID\tTITLE\tSTATUS\tQUIZ")
	for _, r := range rows(course, p) {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%d/%d\n", r.Order, r.ID, r.Title, r.Status, r.Correct, r.Questions)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\n%.0f%% of the course done. Open one with `kcna-lab show ID` or run `kcna-lab` for the full course.\n",
		100*p.Completion(course))
	return nil
}
