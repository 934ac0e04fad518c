//go:build linux

package seccomp

import (
	"fmt"

	moby "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Resolve is the profile as Docker hands it to runc for a container whose
// bounding set is bounding ("CAP_CHOWN", ...): moby keeps or leaves out
// each rule by the capabilities, this machine's architecture and its
// kernel's version, and lists the architectures to cover.
func (p *Profile) Resolve(bounding []string) (*specs.LinuxSeccomp, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: bounding}}}
	var out *specs.LinuxSeccomp
	var err error
	if p.body == nil {
		out, err = moby.GetDefaultProfile(rs)
	} else {
		out, err = moby.LoadProfile(string(p.body), rs)
	}
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", p.Name, err)
	}
	return out, nil
}
