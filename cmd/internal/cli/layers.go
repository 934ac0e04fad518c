package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/kernel/overlay"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// NewLayersCmd is `kcna-lab layers`.
func NewLayersCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "layers NAME",
		Short: "What a running sandbox's writable layer holds: added, copied up, deleted",
		Long: `List the changes in the writable (upper) layer of the running sandbox NAME,
started with --overlay or --layer, read from the upper directory itself:

  added      a file that exists only in the upper layer
  copied-up  a file from a lower layer that was changed, so overlayfs copied
             it up whole before the change
  whiteout   a file from a lower layer that was deleted: the upper layer
             holds a 0/0 character device that hides it
  opaque     a directory whose lower contents are hidden (deleted and made
             again)

Then where each file of the merged view comes from. Run it as the user who
started the sandbox (root for sudo kcna-lab).`,
		Example: `  sudo kcna-lab run --overlay --detach --name img -- sleep 600
  sudo kcna-lab exec img -- sh -c 'echo hi > /hello; rm /etc/group'
  sudo kcna-lab layers img`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			st, err := sandbox.Find(args[0])
			if err != nil {
				return err
			}
			if st.Layers == nil {
				return errors.New("sandbox " + st.Name + " has no layers: start it with --overlay or --layer DIR")
			}
			fs := overlay.Open(st.Layers.Dir, st.Layers.Lower)
			changes, err := fs.Changes()
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "upper layer: %s\n", fs.Upper)
			for i, l := range fs.Lower {
				fmt.Fprintf(a.Stdout, "lower %d:     %s (read-only)\n", i, l)
			}
			if len(changes) == 0 {
				fmt.Fprintln(a.Stdout, "\nThe upper layer is empty: nothing was written yet.")
				return nil
			}
			fmt.Fprintln(a.Stdout)
			tw := tabwriter.NewWriter(a.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CHANGE\tPATH\tHIDES")
			for _, c := range changes {
				hides := "-"
				if c.Layer >= 0 {
					hides = fmt.Sprintf("lower %d", c.Layer)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Kind, c.Path, hides)
			}
			return tw.Flush()
		},
	}
}
