package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

func NewCleanCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "clean",
		Short: "Remove anything a killed kcna-lab left behind",
		Long: `Every object a sandbox creates (processes, cgroup directories, mounts,
network links, directories) is written to a journal before it is created and
removed when the sandbox ends. If kcna-lab was killed with SIGKILL or the
machine crashed, clean reads the journals whose kcna-lab is gone and removes
what they list, newest first. It never touches a running sandbox, nor
anything a journal does not name. kcna-lab also does this quietly when it
starts a sandbox. clean also deletes the logs (` + "`kcna-lab logs`" + `) of background
sandboxes that have ended.`,
		Example: `  sudo kcna-lab clean`,
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			swept, err := sandbox.Clean()
			for _, e := range swept {
				fmt.Fprintf(a.Stdout, "removed %s\n", e)
			}
			if err != nil {
				return err
			}
			logs, err := sandbox.RemoveLogs()
			for _, l := range logs {
				fmt.Fprintf(a.Stdout, "removed the log %s\n", l)
			}
			if err != nil {
				return fmt.Errorf("remove the logs of ended sandboxes: %w", err)
			}
			if len(swept) == 0 && len(logs) == 0 {
				fmt.Fprintln(a.Stdout, "Nothing to clean: no run of kcna-lab left anything behind.")
			}
			return nil
		},
	}
}
