// Command kcna-lab is an interactive terminal lab for the Container
// Orchestration part of the CNCF KCNA exam. See README.md.
package main

import (
	"context"
	"os"

	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

func main() {
	// A re-executed kcna-lab may be a sandbox's init; then this never returns.
	sandbox.Init()
	// A kcna-lab started by `serve` may be a student's lab; then neither returns.
	labhost.Init()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
