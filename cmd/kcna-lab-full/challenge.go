package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
)

func newChallengeCmd(a *app) *cobra.Command {
	var hints int
	var check, solution, setup, asJSON bool
	cmd := &cobra.Command{
		Use:   "challenge [ID]",
		Short: "The lessons' hands-on challenges: read one, get hints, check it",
		Long: `Every lesson ends in a hands-on challenge: a task you do on your own kernel,
in a sandbox or with kcna-lab's commands. --check then verifies it from live
state — a running sandbox's hostname, cgroup files, upper layer or process
capabilities — never from what you typed. A pass is kept in your progress.

Without an ID, the challenges are listed. Hints come one at a time: --hint 1,
then --hint 2 if you need it. --solution shows the answer; try first.

A challenge whose lesson file writes its own checks: runs the commands the
file gives, in a sandbox or on this machine; they are listed here and
printed before --check runs them. Reading a challenge never runs them.

A troubleshooting challenge starts from something broken: --setup builds it
(sandboxes left running for you to diagnose) and says where to look. Run it
again to start over.`,
		Example: `  kcna-lab challenge
  kcna-lab challenge set-hostname
  kcna-lab challenge set-hostname --hint 1
  sudo kcna-lab challenge set-hostname --check
  kcna-lab challenge set-hostname --solution
  sudo kcna-lab challenge fix-oom --setup`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			c, err := a.course()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var ids []string
			for _, l := range c.Lessons {
				for _, ch := range l.Challenges {
					ids = append(ids, ch.ID)
				}
			}
			return ids, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			course, err := a.course()
			if err != nil {
				return err
			}
			store, p, err := a.progress()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				if asJSON {
					return a.printJSON(challengeRows(course, p))
				}
				return listChallenges(a, course, p)
			}
			l, ch, err := findChallenge(course, args[0])
			if err != nil {
				return err
			}
			switch {
			case setup:
				return runSetup(cmd, a, ch.ID)
			case check:
				c, ok := demos.Builtin().ChallengeCheck(ch)
				if !ok {
					return fmt.Errorf("challenge %s has no check in this build of kcna-lab", ch.ID)
				}
				showPlan(a.stderr, l, ch)
				v, err := c.Verify(cmd.Context())
				if err != nil {
					return fmt.Errorf("check %s: %w", ch.ID, err)
				}
				if asJSON {
					return a.checkJSON(store, p, l, ch, v.Passed, v.Detail)
				}
				if !v.Passed {
					fmt.Fprintf(a.stdout, "Not yet: %s\n", v.Detail)
					return cli.ExitError{Code: 1}
				}
				fmt.Fprintf(a.stdout, "Passed: %s\n", v.Detail)
				p.RecordChallenge(l.ID, ch.ID, time.Now())
				if err := store.Save(p); err != nil {
					return fmt.Errorf("the challenge passed, but saving your progress failed: %w", err)
				}
				return nil
			case solution:
				fmt.Fprintf(a.stdout, "Solution to %q:\n\n%s\n", ch.Title, ch.Solution)
				return nil
			case hints > 0:
				if len(ch.Hints) == 0 {
					fmt.Fprintln(a.stdout, "This challenge has no hints; --solution shows the answer.")
					return nil
				}
				for i, h := range ch.Hints[:min(hints, len(ch.Hints))] {
					fmt.Fprintf(a.stdout, "Hint %d of %d: %s\n\n", i+1, len(ch.Hints), h)
				}
				if hints < len(ch.Hints) {
					fmt.Fprintf(a.stdout, "More: --hint %d\n", hints+1)
				}
				return nil
			}
			if asJSON {
				return a.printJSON(challengeDetail(l, ch, p))
			}
			fmt.Fprintf(a.stdout, "%s (lesson %d, %s)\n\n%s\n\n", ch.Title, l.Order, l.Title, ch.Task)
			if plan := ch.Plan(); len(plan) > 0 {
				fmt.Fprintf(a.stdout, "The check, from %s, runs:\n  %s\n\n", l.File, strings.Join(plan, "\n  "))
			}
			if c, ok := demos.Builtin().ChallengeCheck(ch); ok && c.Setup != nil {
				fmt.Fprintf(a.stdout, "Start here:        sudo kcna-lab challenge %s --setup   (builds the broken scenario)\n", ch.ID)
			}
			fmt.Fprintf(a.stdout, "When it is done:  kcna-lab challenge %s --check\n", ch.ID)
			if len(ch.Hints) > 0 {
				fmt.Fprintf(a.stdout, "Stuck?            kcna-lab challenge %s --hint 1   (%d hints)\n", ch.ID, len(ch.Hints))
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&hints, "hint", 0, "show hints 1 to `N`")
	fl.BoolVar(&check, "check", false, "check the challenge against live state and record a pass")
	fl.BoolVar(&solution, "solution", false, "show the solution")
	fl.BoolVar(&setup, "setup", false, "build the broken scenario a troubleshooting challenge starts from")
	fl.BoolVar(&asJSON, "json", false, "print the list, the challenge, or the check's verdict as JSON")
	cmd.MarkFlagsMutuallyExclusive("hint", "check", "solution", "setup")
	cmd.MarkFlagsMutuallyExclusive("json", "hint")
	cmd.MarkFlagsMutuallyExclusive("json", "solution")
	cmd.MarkFlagsMutuallyExclusive("json", "setup")
	return cmd
}

// challengeJSON is a challenge as challenge --json prints it.
type challengeJSON struct {
	Lesson      string     `json:"lesson"`
	LessonOrder int        `json:"lesson_order"`
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Passed      bool       `json:"passed"`
	PassedAt    *time.Time `json:"passed_at,omitempty"`
	// Task, Hints and Checks only for one challenge: the list is an index.
	Task  string `json:"task,omitempty"`
	Hints int    `json:"hints,omitempty"`
	// Checks are what the lesson file's checks run, when it writes them.
	Checks []checkPlanJSON `json:"checks,omitempty"`
}

// checkPlanJSON is one of a challenge's own checks: where it runs and
// what it runs or looks at.
type checkPlanJSON struct {
	In   string   `json:"in"`
	Run  []string `json:"run,omitempty"`
	File string   `json:"file,omitempty"`
}

// showPlan says, before a lesson file's checks run, what they run and
// where: they are the instructor's commands, some maybe on this host.
func showPlan(w io.Writer, l *lessons.Lesson, ch lessons.Challenge) {
	plan := ch.Plan()
	if len(plan) == 0 {
		return
	}
	fmt.Fprintf(w, "Checking with the checks in %s:\n  %s\n", l.File, strings.Join(plan, "\n  "))
}

func challengeRows(c *lessons.Course, p *lessons.Progress) []challengeJSON {
	out := []challengeJSON{}
	for _, l := range c.Lessons {
		for _, ch := range l.Challenges {
			row := challengeDetail(l, ch, p)
			row.Task, row.Hints, row.Checks = "", 0, nil
			out = append(out, row)
		}
	}
	return out
}

func challengeDetail(l *lessons.Lesson, ch lessons.Challenge, p *lessons.Progress) challengeJSON {
	out := challengeJSON{Lesson: l.ID, LessonOrder: l.Order, ID: ch.ID, Title: ch.Title, Task: ch.Task, Hints: len(ch.Hints)}
	for _, k := range ch.Checks {
		out.Checks = append(out.Checks, checkPlanJSON{In: k.In, Run: k.Run, File: k.File})
	}
	if lp := p.Lessons[l.ID]; lp != nil {
		if at, ok := lp.Challenges[ch.ID]; ok {
			out.Passed, out.PassedAt = true, &at
		}
	}
	return out
}

// checkJSON prints a check's verdict as JSON and records a pass, with the
// exit status of the plain check: 1 when not passed.
func (a *app) checkJSON(store *lessons.Store, p *lessons.Progress, l *lessons.Lesson, ch lessons.Challenge, passed bool, detail string) error {
	var saveErr error
	if passed {
		p.RecordChallenge(l.ID, ch.ID, time.Now())
		saveErr = store.Save(p)
	}
	err := a.printJSON(struct {
		ID     string `json:"id"`
		Passed bool   `json:"passed"`
		Detail string `json:"detail"`
		Saved  bool   `json:"saved"`
	}{ch.ID, passed, detail, passed && saveErr == nil})
	switch {
	case err != nil:
		return err
	case saveErr != nil:
		return fmt.Errorf("the challenge passed, but saving your progress failed: %w", saveErr)
	case !passed:
		return cli.ExitError{Code: 1}
	}
	return nil
}

// runSetup builds a challenge's broken scenario, printing each step as
// --trace does, and says what is broken.
func runSetup(cmd *cobra.Command, a *app, id string) error {
	c, ok := demos.Builtin().Check(id) // only built-in checks set up a scenario
	if !ok || c.Setup == nil {
		return fmt.Errorf("challenge %s has nothing to set up: do its task as written (kcna-lab challenge %s)", id, id)
	}
	msg, err := c.Setup(cmd.Context(), cli.NewTraceSink(a.stderr))
	if err != nil {
		return fmt.Errorf("set up challenge %s: %w", id, err)
	}
	fmt.Fprintf(a.stdout, "%s\n\nWhen it is fixed:  kcna-lab challenge %s --check\n", msg, id)
	return nil
}

func listChallenges(a *app, c *lessons.Course, p *lessons.Progress) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LESSON\tID\tTITLE\tSTATUS")
	for _, l := range c.Lessons {
		for _, ch := range l.Challenges {
			status := "to do"
			if p.Passed(l.ID, ch.ID) {
				status = "passed"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", l.Order, ch.ID, ch.Title, status)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "\nkcna-lab challenge ID shows one.")
	return nil
}

func findChallenge(c *lessons.Course, id string) (*lessons.Lesson, lessons.Challenge, error) {
	var ids []string
	for _, l := range c.Lessons {
		for _, ch := range l.Challenges {
			if ch.ID == id {
				return l, ch, nil
			}
			ids = append(ids, ch.ID)
		}
	}
	return nil, lessons.Challenge{}, errors.New("no challenge called " + id + "; the challenges are: " + strings.Join(ids, ", "))
}
