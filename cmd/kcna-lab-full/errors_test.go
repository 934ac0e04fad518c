package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"charm.land/fang/v2"
	"github.com/creack/pty"
	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
)

// The error handler prints the message as written: no capital, no full
// stop, no wrapping at a hyphen (TestErrorsPrintAsWritten runs it
// through a whole command).
func TestHandleErrorPrintsAsWritten(t *testing.T) {
	var b strings.Builder
	handleError(&b, fang.Styles{}, errors.New("open /home/ana/kcna: permission denied"))
	if !strings.Contains(b.String(), "open /home/ana/kcna: permission denied\n") {
		t.Errorf("handleError printed %q", b.String())
	}
}

// A hand-over prints nothing: the full program will say it all.
func TestHandleErrorSilentOnHandOver(t *testing.T) {
	var b strings.Builder
	handleError(&b, fang.Styles{}, cli.WithCode(cli.ErrHandOver, cli.RunFailed))
	if b.Len() != 0 {
		t.Errorf("handleError printed %q for a hand-over", b.String())
	}
	if cli.ExitStatus(cli.ExitError{Code: 3}) != 3 || cli.ExitStatus(cli.WithCode(errors.New("x"), cli.RunFailed)) != cli.RunFailed {
		t.Error("ExitStatus lost an exit status")
	}
}

// TestExitStatusAsksTheTerminalNothing: a command that exits with its own
// status (run's command exiting 1) goes around fang's error path, which
// would first ask the terminal for its background colour (OSC 11) to
// style an error nobody prints: seconds, on a terminal that never
// answers, as this one does not.
func TestExitStatusAsksTheTerminalNothing(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	stdin, stdout := os.Stdin, os.Stdout
	os.Stdin, os.Stdout = tty, tty // what fang asks about
	defer func() { os.Stdin, os.Stdout = stdin, stdout }()
	root := &cobra.Command{Use: "kcna-lab", RunE: func(*cobra.Command, []string) error { return cli.ExitError{Code: 3} }}
	a := &cli.App{Stdin: tty, Stdout: tty, Stderr: tty}
	done := make(chan int, 1)
	go func() {
		code, _ := cli.Execute(context.Background(), root, nil, a, runFang)
		done <- code
	}()
	select {
	case code := <-done:
		if code != 3 {
			t.Errorf("exit status %d, want the command's 3", code)
		}
	case <-time.After(time.Second):
		t.Error("Execute is still waiting after a second: on the terminal's answer to a colour query?")
	}
	// With the terminal's other end closed, the read returns what was
	// written to it, then EIO.
	os.Stdin, os.Stdout = stdin, stdout
	tty.Close()
	b, _ := io.ReadAll(ptmx)
	if strings.Contains(string(b), "\x1b]11;?") {
		t.Errorf("the terminal was asked for its colours: %q", b)
	}
}
