package sandbox

import "github.com/kcna-lab/kcna-lab/sandbox/initproc"

// The paths runc masks or makes read-only by default: they reveal or
// change host state (kernel memory, keys, timers) that a container must
// not touch. The init applies them (package initproc); plugin/oci writes
// them into config.json.

// MaskedPaths are the paths hidden from a sandbox's processes.
func MaskedPaths() []string { return initproc.MaskedPaths() }

// ReadonlyPaths are the paths made read-only inside a sandbox.
func ReadonlyPaths() []string { return initproc.ReadonlyPaths() }

// ScratchDirs are the directories that get a tmpfs over a read-only root.
func ScratchDirs() []string { return initproc.ScratchDirs() }
