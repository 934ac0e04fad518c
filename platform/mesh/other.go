//go:build !linux

package mesh

import (
	"context"
	"errors"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Pods are sandboxes, which need Linux; the mesh itself (sidecars and
// control plane on loopback) runs anywhere.
var errNeedsLinux = errors.New("mesh: pods are sandboxes, which need Linux (namespaces, cgroups, a bridge); the in-process mesh works here, kcna-lab mesh up does not")

// StartPod needs Linux.
func StartPod(context.Context, PodSpec, *ControlPlane, string, event.Sink) (*Pod, error) {
	return nil, errNeedsLinux
}

// Close needs Linux.
func (*Pod) Close() error { return errNeedsLinux }

// Fetch needs Linux.
func Fetch(context.Context, string, string, string, int) ([]Answer, error) {
	return nil, errNeedsLinux
}

// Call needs Linux.
func Call(context.Context, string, string, string, int) ([]Answer, error) {
	return nil, errNeedsLinux
}

// CallTraced needs Linux.
func CallTraced(context.Context, string, string, string, string) (Answer, error) {
	return Answer{}, errNeedsLinux
}

// SandboxAt needs Linux.
func SandboxAt(string) (sandbox.State, error) { return sandbox.State{}, errNeedsLinux }

// Up needs Linux.
func Up(context.Context, LabSpec, event.Sink) (*Lab, error) { return nil, errNeedsLinux }

// Close needs Linux.
func (*Lab) Close() error { return errNeedsLinux }
