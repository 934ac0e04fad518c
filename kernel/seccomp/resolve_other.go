//go:build !linux

package seccomp

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Resolve needs Linux: seccomp is a Linux kernel feature, and moby
// resolves its profiles only there.
func (p *Profile) Resolve([]string) (*specs.LinuxSeccomp, error) {
	return nil, errors.New("seccomp profiles are resolved on Linux only: seccomp is a Linux kernel feature")
}
