package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

// logLimit caps a background sandbox's log: it lives in /run, which is
// memory, and a fork bomb's complaints are not worth a gigabyte.
const logLimit = 4 << 20

func NewLogsCmd(a *App) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Show what a background sandbox's command printed",
		Long: `A sandbox started with --detach has no terminal: what its command prints to
stdout and stderr goes to a log file, ` + sandbox.LogPath("NAME") + `, like
` + "`docker logs`" + ` or ` + "`kubectl logs`" + `. The log stays after the sandbox ends, so
you can read why it stopped, until a sandbox of the same name starts again or
` + "`kcna-lab clean`" + ` runs. --follow keeps printing new output until the sandbox ends (docker's
logs -f: in kcna-lab -f always names a file).`,
		Example: `  sudo kcna-lab run --detach --name web -- sh -c 'while :; do date; sleep 1; done'
  sudo kcna-lab logs --follow web`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.logs(cmd.Context(), args[0], follow)
		},
	}
	FollowFlag(cmd, &follow, "keep printing new output until the sandbox ends (Ctrl-C to stop watching)")
	return cmd
}

func (a *App) logs(ctx context.Context, name string, follow bool) error {
	if err := sandbox.ValidateName(name); err != nil {
		return err
	}
	f, err := os.Open(sandbox.LogPath(name))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no log for a sandbox called %s: only sandboxes started with --detach keep one (a foreground sandbox prints to your terminal); `kcna-lab ps` lists the running ones", name)
	}
	if err != nil {
		return fmt.Errorf("read the log of %s: %w", name, err)
	}
	defer f.Close()
	for {
		if _, err := io.Copy(a.Stdout, f); err != nil {
			return fmt.Errorf("read the log of %s: %w", name, err)
		}
		if !follow {
			return nil
		}
		if st, err := sandbox.Find(name); err != nil || !st.Running() {
			_, err := io.Copy(a.Stdout, f) // what it printed last
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// openLog creates the log of a background sandbox, replacing the last
// one of that name.
func openLog(name string) (*os.File, error) {
	p := sandbox.LogPath(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, fmt.Errorf("create the log dir for %s: %w", name, err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create the log of %s: %w", name, err)
	}
	return f, nil
}

// cappedWriter writes up to n bytes, then drops the rest after one note.
type cappedWriter struct {
	w    io.Writer
	n    int64
	full bool
}

func (c *cappedWriter) Write(p []byte) (int, error) {
	if c.full {
		return len(p), nil
	}
	if int64(len(p)) > c.n {
		_, _ = c.w.Write(p[:c.n])
		_, _ = fmt.Fprintf(c.w, "\n[kcna-lab: log truncated at %d MiB]\n", logLimit>>20)
		c.full = true
		return len(p), nil
	}
	c.n -= int64(len(p))
	return c.w.Write(p)
}
