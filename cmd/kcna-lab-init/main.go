// Command kcna-lab-init is the first process of every kcna-lab sandbox
// and the chroot lesson's escape program. kcna-lab finds it beside its
// own binary; it is kept apart from kcna-lab only so that it starts fast
// (see sandbox.InitProgram), and it imports the init side alone
// (package initproc), not package sandbox, for the same reason. Built
// with cgo it also carries the native init (package initproc/native),
// which starts a sandbox before the Go runtime would. Run by hand, it
// explains itself and exits.
package main

import (
	"fmt"
	"os"

	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
	_ "github.com/kcna-lab/kcna-lab/sandbox/initproc/native"
)

func main() {
	initproc.Main() // does not return when started as a sandbox's init
	fmt.Fprintln(os.Stderr, "kcna-lab-init is started by kcna-lab as a sandbox's first process; run kcna-lab instead.")
	os.Exit(2)
}
