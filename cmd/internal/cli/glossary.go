package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// NewGlossaryCmd is `kcna-lab glossary`; src is where the course comes
// from, as for NewLessonsCmd.
func NewGlossaryCmd(a *App, src Course) *cobra.Command {
	return &cobra.Command{
		Use:   "glossary [TERM]",
		Short: "The course's terms, what each means and which lesson teaches it",
		Long: `Look up the course's vocabulary: each term, what it means, and the lesson
that teaches it (open it with ` + "`kcna-lab show N`" + `). The KCNA asks a lot of
vocabulary, so this is a quick way to check a word.

Without TERM, every term is listed. With it, the term of that name is
shown (any case), or every term whose name contains it.`,
		Example: `  # every term
  kcna-lab glossary

  # one term, and where it is taught
  kcna-lab glossary cgroup

  # all terms containing "namespace"
  kcna-lab glossary namespace`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			course, err := src.Load()
			if err != nil {
				return err
			}
			if len(course.Glossary) == 0 {
				return fmt.Errorf("this course has no glossary (%s beside its lessons)", lessons.GlossaryFile)
			}
			terms := course.Glossary
			var also []string
			if len(args) == 1 {
				if terms = course.LookupTerm(args[0]); len(terms) == 0 {
					return fmt.Errorf("no term %q in the glossary; `kcna-lab glossary` lists all %d", args[0], len(course.Glossary))
				}
				// An exact match hides the longer terms that contain it.
				for _, t := range course.Glossary {
					if t != terms[0] && strings.Contains(strings.ToLower(t.Term), strings.ToLower(args[0])) && len(terms) == 1 {
						also = append(also, t.Term)
					}
				}
			}
			for i, t := range terms {
				if i > 0 {
					fmt.Fprintln(a.Stdout)
				}
				writeTerm(a.Stdout, course, t)
			}
			if len(also) > 0 {
				fmt.Fprintf(a.Stdout, "\nSee also: %s.\n", strings.Join(also, ", "))
			}
			return nil
		},
	}
}

// writeTerm prints a term, the lesson that teaches it, and its meaning.
func writeTerm(w io.Writer, c *lessons.Course, t lessons.Term) {
	where := t.Lesson
	if l, ok := c.Lesson(t.Lesson); ok {
		where = fmt.Sprintf("lesson %d, %s (kcna-lab show %d)", l.Order, l.Title, l.Order)
	}
	fmt.Fprintf(w, "%s: %s\n", t.Term, where)
	fmt.Fprintln(w, WrapIndent(strings.TrimSpace(t.Means), 2))
}
