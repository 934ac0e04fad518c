package main

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// newRootCmd is kcna-lab with only this front's commands, built by the
// same constructors as kcna-lab-full's. A flag or argument it cannot
// take, or a command that finds only kcna-lab-full can answer
// (cli.ErrHandOver), hands the command line over there and then, so that
// kcna-lab-full says what is wrong (with its help at hand) exactly as it
// always has. Then, not after cobra returns: the front would print the
// error first (on a terminal, by running kcna-lab-full's fang, which asks
// the terminal for its background colour, a round trip: seconds, on a
// terminal that does not answer).
func newRootCmd(a *cli.App, handOver func()) *cobra.Command {
	now := func() error { handOver(); return cli.ErrHandOver }
	root := &cobra.Command{
		Use:  "kcna-lab",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return now() }, // the TUI
	}
	root.PersistentFlags().StringVar(&a.ContentDir, "content", "", "load lessons from this `DIR` instead of the built-in course")
	src := cli.Course{Load: func() (*lessons.Course, error) { return courseIndex(a) }, HostCannotRun: needsDoctor, Progress: func() (*lessons.Progress, error) {
		_, p, err := a.Progress()
		return p, err
	}}
	root.AddCommand(
		cli.NewLessonsCmd(a, src),
		cli.NewProgressCmd(a, src),
		cli.NewGlossaryCmd(a, src),
		cli.NewLayersCmd(a),
		cli.NewAppArmorCmd(a),
		cli.NewRunCmd(a),
		cli.NewShellCmd(a),
		cli.NewExecCmd(a),
		cli.NewPsCmd(a),
		cli.NewLogsCmd(a),
		cli.NewStopCmd(a),
		cli.NewCleanCmd(a),
	)
	cli.Walk(root, func(c *cobra.Command) {
		c.SetFlagErrorFunc(func(*cobra.Command, error) error { return now() })
		if valid := c.Args; valid != nil {
			c.Args = func(c *cobra.Command, args []string) error {
				if valid(c, args) != nil {
					return now()
				}
				return nil
			}
		}
		if run := c.RunE; run != nil {
			c.RunE = func(c *cobra.Command, args []string) error {
				err := run(c, args)
				if errors.Is(err, cli.ErrHandOver) {
					return now()
				}
				return err
			}
		}
	})
	return root
}

// courseIndex is the built-in course's index (lessons.LoadIndex), kept
// beside the course's cache for kcna-lab-full, which parsed it. Another
// course (--content, a workshop's), no index yet or a stale one: only
// kcna-lab-full can parse, and it writes the index for the next time.
func courseIndex(a *cli.App) (*lessons.Course, error) {
	if a.ContentDir != "" || os.Getenv("KCNA_LAB_WORKSHOP") != "" {
		return nil, cli.ErrHandOver
	}
	dir, err := sandbox.CacheDir()
	if err != nil {
		return nil, cli.ErrHandOver
	}
	full, err := sandbox.FullProgramPath()
	if err != nil {
		return nil, cli.ErrHandOver // which says what is missing
	}
	if real, err := filepath.EvalSymlinks(full); err == nil {
		full = real // as kcna-lab-full's os.Executable names itself
	}
	program, err := cli.ProgramIdentity(full)
	if err != nil {
		return nil, cli.ErrHandOver
	}
	c, ok := lessons.LoadIndex(content.FS, dir, program)
	if !ok {
		return nil, cli.ErrHandOver
	}
	return c, nil
}

// needsDoctor: a status that only doctor can decide (a lesson whose
// challenges alone are left) is for kcna-lab-full, which links the demos
// doctor tries.
func needsDoctor(*lessons.Course) (map[string]string, error) {
	return nil, cli.ErrHandOver
}
