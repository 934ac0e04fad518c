package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
)

func newLintContentCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "lint-content DIR",
		Short: "Check a directory of lessons and report every problem as file:line:col",
		Long: `Check an instructor's lessons before using them with --content DIR. Every
problem is reported as file:line:column with a hint, all at once: unknown or
missing fields, duplicate ids, quiz answers out of range, questions with no
explanation, domains not in the current KCNA blueprint, demo or challenge
ids that kcna-lab does not implement, and glossary.yaml terms that name a
lesson that does not exist or does not use them.
Exits 1 when there are problems, so it fits in CI.`,
		Example: `  kcna-lab lint-content ./my-lessons
  kcna-lab lint-content --json ./my-lessons | jq -r '.problems[] | "\(.file):\(.line): \(.message)"'
  kcna-lab --content ./my-lessons`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			course, probs := lessons.LoadDir(args[0], demos.Builtin())
			if asJSON {
				return writeLintJSON(a, args[0], course, probs)
			}
			for _, p := range probs {
				fmt.Fprintln(a.stdout, p)
			}
			if len(probs) > 0 {
				fmt.Fprintf(a.stdout, "\n%d problem(s) in %s\n", len(probs), args[0])
				return exitError{code: 1}
			}
			terms := ""
			if n := len(course.Glossary); n > 0 {
				terms = fmt.Sprintf(" and %d glossary term(s)", n)
			}
			fmt.Fprintf(a.stdout, "%d lesson(s)%s in %s, no problems\n", len(course.Lessons), terms, args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the problems as JSON (exit status as without it)")
	return cmd
}

// problemJSON is one problem as lint-content --json prints it; line and
// column are 0 when the whole file or line is meant.
type problemJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"column"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
}

func writeLintJSON(a *app, dir string, c *lessons.Course, probs lessons.Problems) error {
	out := struct {
		Dir      string        `json:"dir"`
		Lessons  int           `json:"lessons"`
		Problems []problemJSON `json:"problems"`
	}{Dir: dir, Lessons: len(c.Lessons), Problems: []problemJSON{}}
	for _, p := range probs {
		out.Problems = append(out.Problems, problemJSON{File: p.File, Line: p.Line, Col: p.Col, Message: p.Msg, Hint: p.Hint})
	}
	if err := a.printJSON(out); err != nil {
		return err
	}
	if len(probs) > 0 {
		return exitError{code: 1}
	}
	return nil
}
