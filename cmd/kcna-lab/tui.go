package main

import (
	"context"
	"fmt"

	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/tui"
)

// noTerminal is printed, instead of Bubble Tea's raw TTY error, when the
// course is started without a terminal (in a pipe, cron, CI).
const noTerminal = "kcna-lab: the course needs a terminal; without one, try `kcna-lab lessons`, `kcna-lab show LESSON`, `kcna-lab progress` or `kcna-lab --help`"

func (a *app) runTUI(ctx context.Context) error {
	_, inOK := terminal(a.stdin)
	_, outOK := terminal(a.stdout)
	if !inOK || !outOK {
		fmt.Fprintln(a.stderr, noTerminal)
		return exitError{code: 2}
	}
	course, err := a.course()
	if err != nil {
		return err
	}
	store, p, notice, err := a.progress()
	if err != nil {
		return err
	}
	return tui.Run(ctx, tui.Options{
		Course:   course,
		Progress: p,
		Saver:    store,
		Notice:   notice,
		Registry: demos.Builtin(),
		Version:  buildVersion(),
	})
}
