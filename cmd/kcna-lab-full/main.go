// Command kcna-lab-full is all of kcna-lab: the course's full-screen app,
// show, quiz, exam, serve, build, doctor and every other command. A
// learner types kcna-lab, the slim front (cmd/kcna-lab), which runs the
// commands that must start at kernel speed itself and hands every other
// command line to this program, beside it, with argv[0] still "kcna-lab".
// Run on its own, it behaves exactly as kcna-lab does. See README.md.
package main

import (
	"context"
	"os"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

func main() {
	// A re-executed kcna-lab may be a sandbox's init; then this never returns.
	sandbox.Init()
	// A kcna-lab started by `serve` may be a student's lab; then neither returns.
	labhost.Init()
	cli.ShortLived()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
