// Package initproc is the inside of a kcna-lab sandbox: the program that
// runs as its first process (kcna-lab-init, or kcna-lab re-executed as
// it). It builds the root filesystem from inside the new namespaces,
// takes away capabilities, then starts the command and stays as its
// PID 1, serving `exec` and reaping; it is also the chroot lesson's
// escape program.
//
// It is apart from package sandbox, the parent side, so that the init
// links only what it uses: every sandbox start pays the init program's
// own start-up (loading and initialising its packages) before its first
// step, and the parent's dependencies (root filesystem images, cgroups,
// overlayfs, the journal, crypto) would more than double it. Keep it so:
// it may import event, golang.org/x/sys/unix and light parts of
// the standard library, nothing that reads archives, ELF files or
// certificates. `go list -deps ./cmd/kcna-lab-init` shows what it links.
//
// The exported names are the protocol between the two sides (Plan,
// Report, ExecRequest, the descriptor numbers, ProtocolVersion) and the
// few tables both use (namespaces, capabilities, masked paths); package
// sandbox re-exports those that are its API.
package initproc
