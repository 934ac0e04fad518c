// Command kcna-lab is an interactive terminal lab for the Container
// Orchestration part of the CNCF KCNA exam. See README.md.
//
// This is its slim front, git-style: it runs itself the commands that
// must start at kernel speed (run, shell, exec, ps, stop, logs, clean,
// layers, lessons, progress, glossary, apparmor, --version) and every
// role kcna-lab is re-executed in (a sandbox's init, run --detached-child,
// the rootless network holder, a workshop lab's init), linking only the
// runtime and cmd/internal/cli. Everything else (the course's full-screen
// app, show, quiz, exam, serve, build, any --help, a command line it
// cannot parse, shell completion) it hands to kcna-lab-full beside it
// with execve, argv[0] still "kcna-lab" and the environment untouched, so
// that help, completions and errors are that program's, byte for byte.
// kcna-lab-full carries the Markdown renderer and the TUI, whose package
// initialisation a `kcna-lab ps` need not pay.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

func main() {
	// A re-executed kcna-lab may be a sandbox's init; then this never
	// returns. (plugin/network's holder starts in its package init.)
	sandbox.Init()
	// A kcna-lab started by `serve` may be a student's lab; then neither returns.
	labhost.Init()
	cli.ShortLived()
	args := os.Args[1:]
	if takes(args) {
		a := &cli.App{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
		now := func() { os.Exit(handOver(os.Args)) }
		code, err := cli.Execute(context.Background(), newRootCmd(a, now), args, a, run)
		if !errors.Is(err, cli.ErrHandOver) {
			os.Exit(code)
		}
	}
	os.Exit(handOver(os.Args))
}

// commands are the subcommands this front runs itself.
var commands = []string{"run", "shell", "exec", "ps", "stop", "logs", "clean", "layers", "lessons", "progress", "glossary", "apparmor"}

// takes reports whether this front may try the command line args: one of
// its commands, or --version alone, and no help asked for. Anything else
// goes to kcna-lab-full at once; what is taken here may still be handed
// over if its flags or arguments do not parse (see newRootCmd).
func takes(args []string) bool {
	if len(args) == 1 && (args[0] == "--version" || args[0] == "-v") {
		return true
	}
	cmd := ""
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			return cmd != ""
		case arg == "-h" || arg == "--help" || strings.HasPrefix(arg, "--help="):
			return false
		case arg == "--content" && cmd == "":
			i++ // its value
		case cmd == "" && !strings.HasPrefix(arg, "-"):
			cmd = arg
			if !slices.Contains(commands, cmd) {
				return false
			}
		}
	}
	return cmd != ""
}

// handOver executes kcna-lab-full with argv (argv[0] as this program was
// called) and the environment as they are. It returns only when that
// cannot be done, with the exit status to leave with.
func handOver(argv []string) int {
	full, err := sandbox.FullProgramPath()
	if err == nil {
		err = syscall.Exec(full, argv, os.Environ())
		err = fmt.Errorf("run %s: %w", full, err)
	}
	cmd := "kcna-lab"
	if len(argv) > 1 {
		cmd += " " + strings.Join(argv[1:], " ")
	}
	fmt.Fprintf(os.Stderr, "kcna-lab: %v\n`%s` is run by kcna-lab-full, which must be beside kcna-lab: build both with `make build` (into bin/) or install both with `make install`.\n", err, cmd)
	return 127
}
