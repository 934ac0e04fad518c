package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/workshop"
	"github.com/kcna-lab/kcna-lab/workshop/roster"
)

func newClassCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "class",
		Short: "A workshop class's results, for the instructor's records",
	}
	var state, format string
	export := &cobra.Command{
		Use:   "export",
		Short: "Write every student's results as CSV or JSON",
		Long: `export reads a workshop server's class directory (serve --state) and writes
every student's results: lessons read and done, quiz scores in all and per
KCNA domain, challenges passed, and mock exams with their scores and dates.

CSV has a header and one row per student, the name first; the columns are
name, lessons_read, lessons_done, quiz_right, quiz_total, challenges_passed,
challenges_total, then DOMAIN_right and DOMAIN_total for each domain in the
course's order, then exams_taken, exam_best_percent, exam_last_percent and
exam_last_at (RFC 3339, UTC). JSON has the same and each lesson and exam.
The format is stable: later versions only add columns at the end.

On the server itself the instructor has the same over SSH:
ssh -p PORT instructor@HOST -- class --json (or --csv).`,
		Example: `  sudo kcna-lab class export --state /var/lib/kcna-lab/class --format csv > results.csv`,
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if format != "csv" && format != "json" {
				return fmt.Errorf("--format %q: give csv or json", format)
			}
			course, err := a.course()
			if err != nil {
				return err
			}
			results, err := classResults(course, state)
			if err != nil {
				return err
			}
			return roster.WriteResults(a.stdout, results, format)
		},
	}
	export.Flags().StringVar(&state, "state", "/var/lib/kcna-lab/class", "the class directory, as given to serve --state")
	export.Flags().StringVar(&format, "format", "csv", "csv or json")
	cmd.AddCommand(export)
	return cmd
}

// classResults reads each student on the roll's progress from the class
// directory.
func classResults(course *lessons.Course, state string) ([]roster.Result, error) {
	if _, err := os.Stat(filepath.Join(state, "class.json")); err != nil {
		return nil, fmt.Errorf("--state %s holds no class (%w): give the directory serve --state used", state, err)
	}
	class, err := workshop.OpenClass(state)
	if err != nil {
		return nil, err
	}
	students, err := class.Students()
	if err != nil {
		return nil, err
	}
	progress := map[string]*lessons.Progress{}
	var names []string
	for _, st := range students {
		p := lessons.NewProgress()
		b, err := workshop.ReadStudentFile(state, st.Name, "progress.json")
		switch {
		case errors.Is(err, fs.ErrNotExist):
			// Never saved anything: no progress.
		case err != nil:
			return nil, fmt.Errorf("the progress of %s: %w", st.Name, err)
		default:
			if err := json.Unmarshal(b, p); err != nil {
				return nil, fmt.Errorf("the progress of %s is damaged (%w); the export leaves nothing out silently: fix or move it", st.Name, err)
			}
		}
		progress[st.Name] = p
		names = append(names, st.Name)
	}
	return roster.Results(course, progress, names), nil
}
