// Package cli is what both of kcna-lab's command-line programs run: the
// commands that must start at kernel speed (run, shell, exec, ps, stop,
// logs, clean and lessons, which serve every lesson's sandboxes and the
// course list) and the conventions every command keeps (exit statuses,
// --version, errors printed as written). kcna-lab, the slim front a
// learner types, links only this and the runtime; kcna-lab-full, beside
// it, adds the course's renderer, the TUI, fang's help and styled errors
// and the rest, and takes over every other command line. Neither copies
// the other: a fast command's flags, help and errors are defined here
// once. Nothing here styles text for a terminal (fang, lipgloss), so that
// the front never initialises it.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// App is what every command shares: the global flags and the process's
// standard streams.
type App struct {
	// ContentDir is --content: a course of the instructor's instead of
	// the built-in one.
	ContentDir string
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	// Pull fetches a registry's image for `run --image`; nil in the slim
	// front, which then hands such a run to kcna-lab-full.
	Pull Puller
}

// ExitError carries a process's exit status through cobra without being
// printed as an error: `kcna-lab run` exits with its command's status.
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ErrHandOver is what a command of the slim front returns when only the
// full program can answer (a course it has no index of, a status only
// doctor decides): the front then executes kcna-lab-full with the same
// arguments, having printed nothing.
var ErrHandOver = errors.New("kcna-lab: this needs kcna-lab-full")

// Runner runs root on the command line cobra was given. kcna-lab-full's
// runs it through fang (help, completions, errors styled on a terminal);
// the slim front's prints errors the same way without linking fang.
// Either prints the error root returns, if any, and returns it.
type Runner func(ctx context.Context, root *cobra.Command) error

// Execute runs root with run as both programs do and returns the process
// exit status. A command line that root cannot take returns ErrHandOver
// when root says so (the slim front's flag and argument errors); nothing
// is printed then.
func Execute(ctx context.Context, root *cobra.Command, args []string, a *App, run Runner) (int, error) {
	// A command that exits with its own status has said what happened:
	// it skips the error path, whose styling (fang's, on a terminal)
	// asks the terminal for its background colour first (a round trip;
	// seconds, on a terminal that never answers) to style an error
	// nobody prints.
	var exit *ExitError
	Walk(root, func(c *cobra.Command) {
		if run := c.RunE; run != nil {
			c.RunE = func(c *cobra.Command, args []string) error {
				err := run(c, args)
				var ee ExitError
				if errors.As(err, &ee) {
					exit = &ee
					return nil
				}
				return err
			}
		}
	})
	root.SetArgs(args)
	root.SetIn(a.Stdin)
	root.SetOut(a.Stdout)
	root.SetErr(a.Stderr)
	err := run(ctx, root)
	if errors.Is(err, ErrHandOver) {
		return 0, ErrHandOver
	}
	if err == nil && exit != nil {
		return exit.Code, nil
	}
	return ExitStatus(err), nil
}

// ExitStatus is the process exit status for a command's error.
func ExitStatus(err error) int {
	var ee ExitError
	var ce codedError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ce):
		return ce.code
	default:
		return 1
	}
}

// Printed reports whether err is an error to print: neither a command's
// own exit status (the command already said what happened) nor a
// hand-over (the full program will say it all).
func Printed(err error) bool {
	var ee ExitError
	return err != nil && !errors.As(err, &ee) && !errors.Is(err, ErrHandOver)
}

// PrintErrorCommand is kcna-lab-full's hidden command that prints an
// error as it prints its own: `kcna-lab-full __error -- STATUS MESSAGE`
// prints MESSAGE and exits with STATUS. The slim front, which links no
// styling, has its errors printed so on a terminal.
const PrintErrorCommand = "__error"

// UsageError reports whether err is cobra's or pflag's complaint about
// the command line, which fang recognises by its words as well: such an
// error ends with "Try --help for usage.".
func UsageError(err error) bool {
	s := err.Error()
	for _, prefix := range []string{"flag needs an argument:", "unknown flag:", "unknown shorthand flag:", "unknown command", "invalid argument"} {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// PrintJSON is every command's --json: v, indented, on stdout.
func (a *App) PrintJSON(v any) error {
	enc := json.NewEncoder(a.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// RunFailed is the exit status of run's own failures (a bad flag, a
// sandbox that could not start), as docker run's 125: a script can tell
// them from the command's own exit status, which run passes through.
const RunFailed = 125

// codedError is an error printed as any other, with its own exit status.
type codedError struct {
	code int
	err  error
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

// OwnFailures makes every error of cmd's RunE and of its flags exit with
// code, and leaves ExitError (the command's own status) as it is.
func OwnFailures(cmd *cobra.Command, code int) {
	runE := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		return WithCode(runE(c, args), code)
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return WithCode(err, code)
	})
}

// WithCode gives err the exit status code, unless it has one.
func WithCode(err error, code int) error {
	var ee ExitError
	var ce codedError
	if err == nil || errors.As(err, &ee) || errors.As(err, &ce) || errors.Is(err, ErrHandOver) {
		return err
	}
	return codedError{code: code, err: err}
}

// FollowFlag is --follow, long only (-f is --file). Given -f out of habit
// (docker logs -f), cmd says what to type instead of "unknown shorthand".
func FollowFlag(cmd *cobra.Command, p *bool, usage string) {
	cmd.Flags().BoolVar(p, "follow", false, usage)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		if strings.HasPrefix(err.Error(), "unknown shorthand flag: 'f'") {
			return fmt.Errorf("%s: -f is not --follow here: in kcna-lab -f always names a file (build -f, mesh apply -f); type --follow", c.CommandPath())
		}
		return err
	})
}

// PlainFlagHelp takes the backticks out of every flag's help. pflag reads
// `NAME` as the value's name for its own usage line, but fang prints the
// help as written, backticks and all.
func PlainFlagHelp(root *cobra.Command) {
	Walk(root, func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) { f.Usage = strings.ReplaceAll(f.Usage, "`", "") })
		}
	})
}

// Walk calls fn on c and every command under it.
func Walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		Walk(sub, fn)
	}
}

// ShortLived lets the garbage collector wait until the heap reaches 16 MB
// rather than 4 MB: a command that lives for milliseconds otherwise
// spends a collection on the package initialisation and set-up it is
// about to exit from (`kcna-lab run -- /bin/true` ran one, GODEBUG=gctrace=1,
// and starting its mark workers' threads: 2-3 ms of CPU in all). Commands
// that stay up for hours go back to the default pace with LongLived: the
// TUI, serve, registry, orchestrate, mesh up and its sidecars, and the
// background half of run --detach. The others keep a few MB live, so 5x
// that stays small. A GOGC the user set is left alone.
func ShortLived() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// LongLived restores the garbage collector's default pace (unless the
// user set GOGC) for a command that runs until the learner quits.
func LongLived() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(100)
	}
}
