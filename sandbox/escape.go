package sandbox

import "github.com/kcna-lab/kcna-lab/sandbox/initproc"

// EscapeSource is the classic chroot escape in C, which the escape program
// (Spec.Escape) performs step by step; the chroot lesson shows it beside
// the live run.
const EscapeSource = initproc.EscapeSource
