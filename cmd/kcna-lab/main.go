// Command kcna-lab is an interactive terminal lab for the Container
// Orchestration part of the CNCF KCNA exam. See README.md.
package main

import (
	"context"
	"os"
	"runtime/debug"

	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

func main() {
	// A re-executed kcna-lab may be a sandbox's init; then this never returns.
	sandbox.Init()
	// A kcna-lab started by `serve` may be a student's lab; then neither returns.
	labhost.Init()
	shortLived()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// shortLived lets the garbage collector wait until the heap reaches 16 MB
// rather than 4 MB: a command that lives for milliseconds otherwise
// spends a collection on the package initialisation and set-up it is
// about to exit from (`kcna-lab run -- /bin/true` ran one, GODEBUG=gctrace=1,
// and starting its mark workers' threads: 2-3 ms of CPU in all). Commands
// that stay up for hours go back to the default pace with longLived: the
// TUI, serve, registry, orchestrate, mesh up and its sidecars, and the
// background half of run --detach. The others keep a few MB live, so 5x
// that stays small. A GOGC the user set is left alone.
func shortLived() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

// longLived restores the garbage collector's default pace (unless the
// user set GOGC) for a command that runs until the learner quits.
func longLived() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(100)
	}
}
