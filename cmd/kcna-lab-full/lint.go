package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
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
ids that kcna-lab does not implement, glossary.yaml terms that name a
lesson that does not exist or does not use them, and mistakes in a
challenge's checks: (keys, regular expressions, sandbox names, commands).

A challenge's checks: run commands when a learner checks it, in a sandbox or
on the learner's own machine, as a Makefile's do: lint-content lists every
one, with where it runs, so that you can read what a course will run.
Exits 1 when there are problems, so it fits in CI.`,
		Example: `  kcna-lab lint-content ./my-lessons
  kcna-lab lint-content --json ./my-lessons | jq -r '.problems[] | "\(.file):\(.line): \(.message)"'
  kcna-lab --content ./my-lessons`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			course, probs := parse.LoadDir(args[0], demos.Builtin())
			if asJSON {
				return writeLintJSON(a, args[0], course, probs)
			}
			for _, p := range probs {
				fmt.Fprintln(a.stdout, p)
			}
			writeCheckPlan(a.stdout, course)
			if len(probs) > 0 {
				fmt.Fprintf(a.stdout, "\n%d problem(s) in %s\n", len(probs), args[0])
				return cli.ExitError{Code: 1}
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

// writeCheckPlan lists what the course's own checks run and look at,
// each at its place in its file, the host's marked as such.
func writeCheckPlan(w io.Writer, c *lessons.Course) {
	var lines []string
	for _, l := range c.Lessons {
		for _, ch := range l.Challenges {
			for _, k := range ch.Checks {
				lines = append(lines, fmt.Sprintf("  %s:%d:%d: %s: %s", l.File, k.Line, k.Col, ch.ID, k))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "When a learner checks a challenge, its checks: run (\"on this host\" is the learner's machine):\n%s\n", strings.Join(lines, "\n"))
}

// checkPlanLintJSON is one of the course's own checks as lint-content --json
// lists it.
type checkPlanLintJSON struct {
	File      string   `json:"file"`
	Line      int      `json:"line"`
	Col       int      `json:"column"`
	Challenge string   `json:"challenge"`
	In        string   `json:"in"`
	Run       []string `json:"run,omitempty"`
	Path      string   `json:"path,omitempty"`
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

func writeLintJSON(a *app, dir string, c *lessons.Course, probs parse.Problems) error {
	out := struct {
		Dir      string              `json:"dir"`
		Lessons  int                 `json:"lessons"`
		Problems []problemJSON       `json:"problems"`
		Checks   []checkPlanLintJSON `json:"checks"`
	}{Dir: dir, Lessons: len(c.Lessons), Problems: []problemJSON{}, Checks: []checkPlanLintJSON{}}
	for _, l := range c.Lessons {
		for _, ch := range l.Challenges {
			for _, k := range ch.Checks {
				out.Checks = append(out.Checks, checkPlanLintJSON{File: l.File, Line: k.Line, Col: k.Col, Challenge: ch.ID, In: k.In, Run: k.Run, Path: k.File})
			}
		}
	}
	for _, p := range probs {
		out.Problems = append(out.Problems, problemJSON{File: p.File, Line: p.Line, Col: p.Col, Message: p.Msg, Hint: p.Hint})
	}
	if err := a.printJSON(out); err != nil {
		return err
	}
	if len(probs) > 0 {
		return cli.ExitError{Code: 1}
	}
	return nil
}
