package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

func newDemoCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "demo [ID]",
		Short: "Run a lesson's live demo without the full-screen app",
		Long: `Run one of the lessons' live demos in the terminal: each kernel-level step
is printed beside the shell command that would do the same, with the output
of the processes inside and a few sentences of narration. --json prints the
same stream as one JSON object per line, for scripts and instructors' tools.

Demos create real namespaces and mounts, so most need root (sudo) or a host
that allows user namespaces: ` + "`kcna-lab doctor`" + ` says which can run here.
Without an ID, demo lists the demos there are.`,
		Example: `  kcna-lab demo
  sudo kcna-lab demo chroot-escape
  sudo kcna-lab demo namespaces-tour --json`,
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return demos.Builtin().DemoIDs(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := demos.Builtin()
			if len(args) == 0 {
				return listDemos(a, reg, asJSON)
			}
			d, ok := reg.Demo(args[0])
			if !ok {
				if near := nearest(args[0], reg.DemoIDs()); near != "" {
					return fmt.Errorf("no demo called %q: did you mean %s? (`kcna-lab demo` lists them)", args[0], near)
				}
				return fmt.Errorf("no demo called %q; the demos are: %s", args[0], strings.Join(reg.DemoIDs(), ", "))
			}
			var sink event.Sink
			if asJSON {
				sink = cli.NewJSONSink(a.stdout)
			} else {
				fmt.Fprintf(a.stdout, "%s\n", d.Title)
				sink = cli.NewDemoSink(a.stdout)
			}
			if err := d.Run(cmd.Context(), sink); err != nil {
				// Interrupted, it failed for that: no need to ask doctor.
				if cmd.Context().Err() == nil {
					if why := blockedHere(d); why != "" {
						return fmt.Errorf("demo %s cannot run here: %s (it failed with: %w)", d.ID, why, err)
					}
				}
				return fmt.Errorf("demo %s: %w", d.ID, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the event stream as JSON lines")
	return cmd
}

// listDemos: every demo's ID and title, and how to run one; with
// asJSON, a JSON array of {id, title}.
func listDemos(a *app, reg *demos.Registry, asJSON bool) error {
	ids := reg.DemoIDs()
	if asJSON {
		type entry struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		}
		list := make([]entry, 0, len(ids))
		for _, id := range ids {
			d, _ := reg.Demo(id)
			list = append(list, entry{id, d.Title})
		}
		return a.printJSON(list)
	}
	width := 0
	for _, id := range ids {
		width = max(width, len(id))
	}
	for _, id := range ids {
		d, _ := reg.Demo(id)
		fmt.Fprintf(a.stdout, "%-*s  %s\n", width, id, d.Title)
	}
	fmt.Fprintf(a.stdout, "\nRun one with: sudo kcna-lab demo ID (kcna-lab doctor says which can run here)\n")
	return nil
}

// blockedHere asks doctor, once a demo has failed, whether this host can
// run it at all: the reason a learner can act on (or pass to their
// instructor) beats the system call that failed.
func blockedHere(d demos.Demo) string {
	if d.Blocked == nil {
		return ""
	}
	rep := doctorReport{Report: sandbox.Doctor()}
	rep.workshopLab()
	return d.Blocked(rep.Report)
}
