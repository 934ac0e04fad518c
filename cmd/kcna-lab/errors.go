package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// run is the front's cli.Runner: root as kcna-lab-full's fang runs it
// (cli's version, the signals that end a command, no usage or error
// printed by cobra), then the error printed as kcna-lab-full prints it.
// Help, completions and command lines that do not parse never get here
// (takes, newRootCmd), so fang's part is only that error: linking fang
// for it would cost every front process fang's and lipgloss's package
// initialisation.
func run(ctx context.Context, root *cobra.Command) error {
	root.Version = cli.BuildVersion()
	root.SilenceUsage, root.SilenceErrors = true, true
	ctx, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	err := root.ExecuteContext(ctx)
	if cli.Printed(err) {
		printError(root.ErrOrStderr(), err)
	}
	return err
}

// printError prints err to w byte for byte as kcna-lab-full's fang does
// (its handleError). Where fang's writer strips the styling (w is no
// terminal, and no colour is forced) and the message is plain text whose
// layout is known, the front prints it; else kcna-lab-full prints it
// (__error), styled for this terminal, and exits with err's status: an
// error on a terminal costs a start of kcna-lab-full, as a hand-over does,
// instead of every start of the front costing the styling's set-up.
func printError(w io.Writer, err error) {
	if text, ok := plainError(err); ok && !styled(w) {
		_, _ = io.WriteString(w, text)
		return
	}
	if full, ferr := sandbox.FullProgramPath(); ferr == nil {
		// After --, a message that starts with a dash is no flag.
		argv := []string{os.Args[0], cli.PrintErrorCommand, "--", strconv.Itoa(cli.ExitStatus(err)), err.Error()}
		_ = syscall.Exec(full, argv, os.Environ())
	}
	// No kcna-lab-full to style it: the message still, plainly.
	_, _ = fmt.Fprintln(w, err.Error())
}

// styled reports whether fang's writer might keep colours and styles on
// w (colorprofile.Detect): when w is a terminal, or colour or a terminal
// is forced. Where it cannot tell (TERM=dumb on a terminal, a variable
// set to false), kcna-lab-full prints, which is never wrong.
func styled(w io.Writer) bool {
	if _, tty := cli.Terminal(w); tty {
		return true
	}
	for _, v := range []string{"CLICOLOR_FORCE", "TTY_FORCE"} {
		if os.Getenv(v) != "" {
			return true
		}
	}
	return false
}

// errorHeader is fang's error header (ERROR, with its padding and
// margins) as its writer leaves it off a terminal.
const errorHeader = "          \n   ERROR  \n          \n"

// plainError is err as kcna-lab-full prints it off a terminal: the
// header, then the message with lipgloss's left margin of two, every line
// padded to the longest, a blank line, and "Try --help for usage." after
// a complaint about the command line. ok is false for a message with
// characters whose width or handling lipgloss decides (tabs, control
// characters, anything not ASCII): kcna-lab-full prints those.
func plainError(err error) (text string, ok bool) {
	msg := err.Error()
	if msg == "" {
		return "", false
	}
	for i := 0; i < len(msg); i++ {
		if c := msg[i]; c != '\n' && (c < ' ' || c > '~') {
			return "", false
		}
	}
	var b strings.Builder
	b.WriteString(errorHeader)
	block(&b, msg)
	b.WriteString("\n")
	if cli.UsageError(err) {
		block(&b, "Try --help for usage.")
		b.WriteString("\n")
	}
	return b.String(), true
}

// block writes s as lipgloss renders it with a left margin of two: every
// line indented and padded with spaces to the longest.
func block(b *strings.Builder, s string) {
	lines := strings.Split(s, "\n")
	width := 0
	for _, l := range lines {
		width = max(width, len(l))
	}
	for _, l := range lines {
		b.WriteString("  ")
		b.WriteString(l)
		b.WriteString(strings.Repeat(" ", width-len(l)))
		b.WriteString("\n")
	}
}
