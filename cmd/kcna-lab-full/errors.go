package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"

	"charm.land/fang/v2"
	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
)

// runFang is this program's cli.Runner: root through fang, with cli's
// version, the signals that end a command, the error handler below and
// this program's man command instead of fang's.
func runFang(ctx context.Context, root *cobra.Command) error {
	return fang.Execute(ctx, root,
		fang.WithVersion(cli.BuildVersion()),
		fang.WithNotifySignal(os.Interrupt, syscall.SIGTERM),
		fang.WithErrorHandler(handleError),
		fang.WithoutManpage(),
	)
}

// handleError is fang's error handler with the message printed as
// written: fang's own capitalises its first word, adds a full stop and
// wraps at the terminal's width, breaking a word at a hyphen, which turns
// "open /home/ana/x" into "Open /home/ana/x." and a lesson id into one
// that does not exist ("service-" and "mesh"). The terminal wraps instead.
// w is fang's colour-profile writer: off a terminal it strips the styling
// and leaves the layout, which the slim front prints itself (its
// plainError; TestFrontPrintsErrorsAsFull holds the two equal).
func handleError(w io.Writer, styles fang.Styles, err error) {
	if !cli.Printed(err) {
		return
	}
	_, _ = fmt.Fprintln(w, styles.ErrorHeader.String())
	text := styles.ErrorText.UnsetTransform().UnsetWidth()
	_, _ = fmt.Fprintln(w, text.Render(err.Error()))
	_, _ = fmt.Fprintln(w)
	if cli.UsageError(err) {
		_, _ = fmt.Fprintln(w, text.Render("Try --help for usage."))
		_, _ = fmt.Fprintln(w)
	}
}

// printErrorCmd is `kcna-lab-full __error -- STATUS MESSAGE`, hidden: it
// prints MESSAGE as this program prints a command's error and exits with
// STATUS. The slim front, which links no styling, has its own errors
// printed by it on a terminal, so that they look exactly as here.
func printErrorCmd() *cobra.Command {
	return &cobra.Command{
		Use:    cli.PrintErrorCommand + " STATUS MESSAGE",
		Hidden: true,
		Args:   cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			status, err := strconv.Atoi(args[0])
			if err != nil || status < 1 || status > 255 {
				return fmt.Errorf("%s: the exit status must be a number from 1 to 255, not %q", cli.PrintErrorCommand, args[0])
			}
			return cli.WithCode(errors.New(args[1]), status)
		},
	}
}
