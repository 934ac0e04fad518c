// Package sandbox turns a Spec into a running, isolated process on the host
// kernel: namespaces, a private root filesystem, cgroup limits.
//
// Every kernel-level step is reported as an Event carrying what happened, the
// shell command that would do the same, and the result, so a learner can read
// the stream live (the TUI), on stderr (run --trace) or as narrated text
// (demo). Everything the sandbox creates is written to a journal first and
// undone in reverse order; see package kernel/journal.
//
// This package is the parent side, the process that starts a sandbox. The
// inside, the sandbox's init (root building, capabilities, PID 1), is
// package sandbox/initproc, kept apart so that kcna-lab-init links only
// what it uses; the types both sides share (Namespace, RootMode, Volume)
// are defined there and aliased here.
//
// sandbox knows nothing of lessons or the TUI.
package sandbox
