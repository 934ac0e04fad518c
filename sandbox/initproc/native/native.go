//go:build linux && cgo

// Package native is kcna-lab-init's native init: C that runs before the
// Go runtime starts and, when the parent's plan allows (initproc.Plan's
// Native), builds the sandbox, starts its command and stays as its PID 1
// without the Go runtime ever starting. A Go program's start-up (the
// runtime, its threads, its signal set-up) took longer than the rest of
// a sandbox's start; runc's nsexec is the same idea.
//
// Importing the package is all it takes (cmd/kcna-lab-init does). It
// needs cgo; without it (CGO_ENABLED=0) the package is empty and the Go
// init in package initproc runs every sandbox. The first `exec` request
// to a sandbox started natively hands it over to the Go init, which
// serves those: the native init executes kcna-lab-init again as
// "resume PID", in its own place.
package native

/*
#cgo CFLAGS: -O2 -Wall -Wextra -Wno-unused-parameter
extern void kl_native(int argc, char **argv);

__attribute__((constructor)) static void kl_native_ctor(int argc, char **argv, char **envp) {
	kl_native(argc, argv);
}
*/
import "C"

// Enabled reports whether this build has the native init.
const Enabled = true
