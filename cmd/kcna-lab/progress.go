package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newProgressCmd(a *app) *cobra.Command {
	var reset bool
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
  kcna-lab progress --reset`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, p, err := a.progress()
			if err != nil {
				return err
			}
			if reset {
				bak, err := store.Reset()
				if err != nil {
					return fmt.Errorf("reset progress: %w", err)
				}
				if bak == "" {
					fmt.Fprintln(a.stdout, "Nothing to reset: no progress saved yet.")
					return nil
				}
				fmt.Fprintf(a.stdout, "Progress reset. The old record is kept as %s\n", bak)
				return nil
			}
			course, err := a.course()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "Progress file: %s\n\n", store.Path)
			return writeLessonsTable(a, course, p)
		},
	}
	cmd.Flags().BoolVar(&reset, "reset", false, "start over (the old file is kept as .bak)")
	return cmd
}
