//go:build !linux

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// errNeedsLinux is what every sandbox operation says off Linux: the
// features it teaches are Linux kernel features.
var errNeedsLinux = errors.New("kcna-lab's sandbox needs Linux: namespaces, cgroups and pivot_root are Linux kernel features; run it in a Linux VM")

// Sandbox is a running sandbox; off Linux there are none.
type Sandbox struct{ Name string }

// Run needs Linux.
func Run(context.Context, Spec, event.Sink) (Result, error) { return Result{}, errNeedsLinux }

// Start needs Linux.
func Start(context.Context, Spec, event.Sink) (*Sandbox, error) { return nil, errNeedsLinux }

// Wait needs Linux.
func (*Sandbox) Wait() (Result, error) { return Result{}, errNeedsLinux }

// PID needs Linux.
func (*Sandbox) PID() int { return 0 }

// Signal needs Linux.
func (*Sandbox) Signal(os.Signal) error { return errNeedsLinux }

// Exec needs Linux.
func Exec(context.Context, string, []string, *os.File, *os.File, *os.File, bool) (Result, error) {
	return Result{}, errNeedsLinux
}

// Clean has nothing to do off Linux.
func Clean() ([]journal.Entry, error) { return nil, nil }

// Doctor reports that nothing can run here.
func Doctor() Report {
	r := Report{Namespaces: map[Namespace]string{}, UserNS: errNeedsLinux.Error()}
	for _, n := range AllNamespaces {
		r.Namespaces[n] = errNeedsLinux.Error()
	}
	r.Cgroup.Problem = errNeedsLinux.Error()
	r.Sandbox, r.Overlay, r.Bridge, r.Idmap = errNeedsLinux.Error(), errNeedsLinux.Error(), errNeedsLinux.Error(), errNeedsLinux.Error()
	r.Seccomp = errNeedsLinux.Error()
	return r
}

// SeccompUnavailable: seccomp is Linux's.
func SeccompUnavailable() error { return errNeedsLinux }

// UserNamespaceBlocked: off Linux there are none.
func UserNamespaceBlocked() error { return errNeedsLinux }

// ProgramBeside: off Linux kcna-lab runs no other program of its own.
func ProgramBeside(name string) (string, error) {
	return "", fmt.Errorf("%s: kcna-lab's programs run only on Linux", name)
}

// InitProgram: off Linux there is no sandbox init.
func InitProgram() string { return "" }

// InitKind: off Linux there is no sandbox init.
func InitKind() (string, error) { return "", errNeedsLinux }

// CapabilityNames: capabilities are Linux's.
func CapabilityNames(uint64) []string { return nil }

// CapabilityBit: capabilities are Linux's.
func CapabilityBit(string) (int, error) { return 0, errNeedsLinux }

// ExecOutput needs Linux.
func ExecOutput(context.Context, string, ...string) (string, Result, error) {
	return "", Result{}, errNeedsLinux
}

// Isolate: off Linux there are no namespaces.
func (*Sandbox) Isolate() []Namespace { return nil }

// Cgroups: off Linux there are no cgroups.
func (*Sandbox) Cgroups() []string { return nil }

// CPUStat needs Linux.
func (*Sandbox) CPUStat() (map[string]int64, error) { return nil, errNeedsLinux }

// DefaultIsolation: off Linux there are no namespaces.
func DefaultIsolation() []Namespace { return nil }

// VolumeWriter: off Linux there are no volumes; the caller writes.
func VolumeWriter(string) int { return os.Geteuid() }

// IdmapProblem: idmapped mounts are Linux's.
func IdmapProblem(string) error { return errNeedsLinux }
