// Command kcna-lab is an interactive terminal lab for the Container
// Orchestration part of the CNCF KCNA exam. See README.md.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
