//go:build linux

package sandbox

import (
	"syscall"

	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// OnPlan has f shown the plan of every sandbox started from now until
// the returned func is called.
func OnPlan(f func(*initproc.Plan)) (undo func()) {
	planned.Store(&f)
	return func() { planned.Store(nil) }
}

// OnCloneInto has f change the clone attributes of every init cloned into
// its cgroup from now until the returned func is called.
func OnCloneInto(f func(*syscall.SysProcAttr)) (undo func()) {
	cloneAttr.Store(&f)
	return func() { cloneAttr.Store(nil) }
}
