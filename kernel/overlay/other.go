//go:build !linux

package overlay

import (
	"errors"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// errNeedsLinux is what every overlay operation says off Linux.
var errNeedsLinux = errors.New("overlay filesystems need Linux: overlayfs is a Linux kernel feature; run kcna-lab in a Linux VM")

// Mount checks the spec, so a bad path is reported the same everywhere,
// then needs Linux.
func Mount(spec Spec, _ *journal.Journal, _ event.Sink) (*FS, error) {
	if _, err := spec.build(); err != nil {
		return nil, err
	}
	return nil, errNeedsLinux
}

// Unmount needs Linux.
func (*FS) Unmount(event.Sink) error { return errNeedsLinux }

// Remove needs Linux.
func (*FS) Remove(event.Sink) error { return errNeedsLinux }

// Changes needs Linux.
func (*FS) Changes() ([]Change, error) { return nil, errNeedsLinux }

// Origin needs Linux.
func (*FS) Origin(string) (Origin, error) { return Origin{}, errNeedsLinux }
