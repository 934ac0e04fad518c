// Command kcna-lab is an interactive terminal lab for the Container
// Orchestration part of the CNCF KCNA exam. See README.md.
package main

import (
	"context"
	"os"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

func main() {
	// A re-executed kcna-lab may be a sandbox's init; then this never returns.
	sandbox.Init()
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
