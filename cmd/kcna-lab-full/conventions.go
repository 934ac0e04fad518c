package main

// The conventions every subcommand keeps, in one place: the exit status of
// run's own failures, what -n and -f mean, flag help as plain text, finding a
// lesson (with a suggestion when the id is mistyped) and the man page.

import (
	"fmt"
	"strings"

	mcobra "github.com/muesli/mango-cobra"
	"github.com/muesli/roff"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// countFlag is -n everywhere: --count, how many (questions, requests). old
// is a long name the flag had before, still read, hidden and deprecated.
func countFlag(fl *pflag.FlagSet, p *int, def int, usage, old string) {
	fl.IntVarP(p, "count", "n", def, usage)
	if old != "" {
		fl.IntVar(p, old, def, usage)
		_ = fl.MarkDeprecated(old, "use --count (-n)")
	}
}

// fileFlag is -f everywhere: --file, a file to read (build's Dockerfile,
// mesh apply's rules), as docker build -f and kubectl apply -f. Nothing
// else may take -f: `logs` follows with --follow alone.
func fileFlag(fl *pflag.FlagSet, p *string, usage string) {
	fl.StringVarP(p, "file", "f", "", usage)
}

// lesson finds ref (an id, number or slug) in c, or says which lesson was
// probably meant.
func lesson(c *lessons.Course, ref string) (*lessons.Lesson, error) {
	if l, ok := c.Lesson(ref); ok {
		return l, nil
	}
	msg := fmt.Sprintf("no lesson %q.", ref)
	if s := suggestLesson(c, ref); s != "" {
		msg = fmt.Sprintf("no lesson %q: did you mean %s?", ref, s)
	}
	return nil, fmt.Errorf("%s The lessons are: %s (see `kcna-lab lessons`)", msg, strings.Join(c.IDs(), ", "))
}

// suggestLesson is the lesson id nearest to ref, by its id or slug; ""
// when none is near.
func suggestLesson(c *lessons.Course, ref string) string {
	ref = strings.TrimSuffix(strings.TrimSpace(ref), ".md")
	var names []string
	idOf := map[string]string{}
	for _, l := range c.Lessons {
		for _, name := range []string{l.ID, l.Slug()} {
			names = append(names, name)
			idOf[name] = l.ID
		}
	}
	return idOf[nearest(ref, names)]
}

// nearest is the name nearest to ref, by edit distance, or one that ref
// is the start of; "" when none is near enough to suggest.
func nearest(ref string, names []string) string {
	ref = strings.ToLower(ref)
	best, bestD := "", 0
	for _, name := range names {
		d := parse.EditDistance(ref, name)
		if len(ref) >= 3 && strings.HasPrefix(name, ref) {
			d = min(d, 1)
		}
		if best == "" || d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" || bestD > max(2, len(ref)/3) {
		return ""
	}
	return best
}

// newManCmd replaces fang's man command: the same page (mango), with the
// description's paragraphs as paragraphs. roff starts a paragraph at every
// line break it is given, and the help text is wrapped for a terminal.
func newManCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:    "man",
		Short:  "Print the man page (roff), as make install installs it",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root := cmd.Root()
			page, err := mcobra.NewManPage(1, root)
			if err != nil {
				return fmt.Errorf("man page: %w", err)
			}
			page = page.WithLongDescription(paragraphs(root.Long)).
				WithSection("Exit status", paragraphs(exitStatusText)).
				WithSection("Files", paragraphs(filesText))
			_, err = fmt.Fprint(a.stdout, page.Build(roff.NewDocument()))
			return err
		},
	}
}

const exitStatusText = `0 when the command did what it was asked; 1 when it could not (an error is
printed), and for a check or lint that found problems; 2 when kcna-lab needs
a terminal it does not have.

run passes its command's exit status through unchanged: the command's exit
code, 128+N when signal N ended it, 137 for the OOM killer. Its own failures
exit 125, as docker run's do; 126 when the command cannot be run and 127
when it is not found in the sandbox's root filesystem.`

const filesText = `$XDG_STATE_HOME/kcna-lab/progress.json (else
~/.local/state/kcna-lab/progress.json; under sudo, the invoking user's): your
progress. A file written by a newer kcna-lab is never changed.

/run/kcna-lab (as root): the running sandboxes' state; /var/cache/kcna-lab:
the busybox root filesystem and images.`

// paragraphs joins each paragraph's lines into one line, which roff makes
// one paragraph; indented lines (examples, tables) stay lines of their own.
func paragraphs(s string) string {
	var out, para []string
	flush := func() {
		if len(para) > 0 {
			out = append(out, strings.Join(para, " "))
			para = nil
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, " "), strings.HasPrefix(line, "\t"):
			flush()
			out = append(out, line)
		default:
			para = append(para, strings.TrimSpace(line))
		}
	}
	flush()
	return strings.Join(out, "\n")
}
