//go:build !linux

package orchestrator

import (
	"context"
	"errors"

	"github.com/kcna-lab/kcna-lab/event"
)

// errNeedsLinux is what the controller says off Linux: its replicas are
// sandboxes and its nodes cgroups, both Linux kernel features. Scheduling
// (Schedule) and the API client (Call) work anywhere.
var errNeedsLinux = errors.New("orchestrate needs Linux: replicas are sandboxes (namespaces) and nodes are cgroups, Linux kernel features; run it in a Linux VM")

// Controller runs a deployment; off Linux it cannot.
type Controller struct{}

// New needs Linux.
func New(Config, event.Sink) (*Controller, error) { return nil, errNeedsLinux }

// Run needs Linux.
func (*Controller) Run(context.Context) error { return errNeedsLinux }

// Started needs Linux: it is never closed.
func (*Controller) Started() <-chan struct{} { return nil }

// Done needs Linux: it is never closed.
func (*Controller) Done() <-chan struct{} { return nil }

// Scale needs Linux.
func (*Controller) Scale(int) error { return errNeedsLinux }

// Update needs Linux.
func (*Controller) Update(string) error { return errNeedsLinux }

// Rollback needs Linux.
func (*Controller) Rollback() error { return errNeedsLinux }

// Status is empty off Linux.
func (*Controller) Status() Status { return Status{} }

// WaitFor needs Linux.
func (*Controller) WaitFor(context.Context, func(Status) bool) (Status, error) {
	return Status{}, errNeedsLinux
}
