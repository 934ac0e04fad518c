//go:build linux

package sandbox

import "github.com/kcna-lab/kcna-lab/sandbox/initproc"

// OnPlan has f shown the plan of every sandbox started from now until
// the returned func is called.
func OnPlan(f func(*initproc.Plan)) (undo func()) {
	planned.Store(&f)
	return func() { planned.Store(nil) }
}
