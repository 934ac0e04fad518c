package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

func NewExecCmd(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "exec NAME -- CMD [ARG...]",
		Short: "Run a command inside a running sandbox",
		Long: `Run CMD inside the running sandbox NAME: in all of its namespaces, its root
filesystem and its cgroup. The sandbox's init (its PID 1) starts CMD for you,
the way the containers of a Kubernetes pod join the namespaces that the pod's
pause container holds.`,
		Example: `  sudo kcna-lab run --detach --name web -- sleep 600
  sudo kcna-lab exec web -- ps
  sudo kcna-lab exec web -- sh`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, out, errf, err := a.files()
			if err != nil {
				return err
			}
			_, tty := Terminal(a.Stdin)
			res, err := sandbox.Exec(cmd.Context(), args[0], args[1:], in, out, errf, tty)
			if err != nil {
				return err
			}
			if res.ExitCode != 0 {
				return ExitError{Code: res.ExitCode}
			}
			return nil
		},
	}
}

// files are the CLI's stdin, stdout and stderr as files, which exec
// passes to the sandbox.
func (a *App) files() (in, out, errf *os.File, err error) {
	in, inOK := a.Stdin.(*os.File)
	out, outOK := a.Stdout.(*os.File)
	errf, errOK := a.Stderr.(*os.File)
	if !inOK || !outOK || !errOK {
		return nil, nil, nil, errors.New("exec passes its own stdin, stdout and stderr to the sandbox; run it from a shell")
	}
	return in, out, errf, nil
}

func NewPsCmd(a *App) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List the running sandboxes",
		Example: `  sudo kcna-lab ps
  sudo kcna-lab ps --json | jq -r '.[].name'`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			list, err := sandbox.List()
			if err != nil {
				return err
			}
			if asJSON {
				if list == nil {
					list = []sandbox.State{}
				}
				return a.PrintJSON(list)
			}
			if len(list) == 0 {
				fmt.Fprintln(a.Stdout, "No sandboxes are running. Start one with `kcna-lab run --detach --name NAME -- CMD`.")
				return nil
			}
			tw := tabwriter.NewWriter(a.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tINIT PID\tUP\tNAMESPACES\tNETWORK\tCOMMAND")
			for _, s := range list {
				ns := make([]string, len(s.Isolate))
				for i, n := range s.Isolate {
					ns[i] = string(n)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", s.Name, s.InitPID, time.Since(s.Created).Round(time.Second), strings.Join(ns, ","), describeNet(s), strings.Join(s.Args, " "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each sandbox's state as JSON, as kcna-lab keeps it")
	return cmd
}

// describeNet is ps's NETWORK column: the address on the bridge and the
// published ports, as `docker ps` shows them.
func describeNet(s sandbox.State) string {
	if s.Net == nil {
		if slices.Contains(s.Isolate, sandbox.NSNet) {
			return "lo only"
		}
		return "host"
	}
	out := s.Net.IP.String()
	for _, m := range s.Net.Publish {
		out += fmt.Sprintf(" 127.0.0.1:%d->%d", m.HostPort, m.ContainerPort)
	}
	return out
}

func NewStopCmd(a *App) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "stop NAME",
		Short: "Stop a running sandbox",
		Long: `Stop the sandbox NAME: SIGTERM to its command (through its init), and
SIGKILL if it has not ended after --timeout. When the init ends, the kernel
ends every other process in the sandbox's PID namespace, and kcna-lab
removes everything it created for it.`,
		Example: `  sudo kcna-lab stop web`,
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			st, err := sandbox.Find(args[0])
			if err != nil {
				return err
			}
			if err := syscall.Kill(st.InitPID, syscall.SIGTERM); err != nil {
				return fmt.Errorf("signal sandbox %s (PID %d): %w", st.Name, st.InitPID, err)
			}
			deadline := time.Now().Add(timeout)
			for st.Running() && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if st.Running() {
				_ = syscall.Kill(st.InitPID, syscall.SIGKILL)
				fmt.Fprintf(a.Stdout, "sandbox %s did not stop within %s; killed it\n", st.Name, timeout)
			} else {
				fmt.Fprintf(a.Stdout, "sandbox %s stopped\n", st.Name)
			}
			// Its owner removes the rest; wait for that so that a `run`
			// with the same name right after does not collide.
			for range 100 {
				if _, err := os.Stat(st.ExecSocket); errors.Is(err, os.ErrNotExist) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait after SIGTERM before SIGKILL")
	return cmd
}
