//go:build linux

package sandbox

import "github.com/kcna-lab/kcna-lab/sandbox/initproc"

// The init applies the capability set (package initproc); these read the
// same tables.

// DefaultCapabilities names the capabilities a sandboxed process keeps.
func DefaultCapabilities() []string { return initproc.DefaultCapabilities() }

// CapabilityNames decodes a capability mask, as in the CapEff or CapBnd
// line of /proc/PID/status (hexadecimal), into names like "cap_net_raw".
func CapabilityNames(mask uint64) []string { return initproc.CapabilityNames(mask) }

// CapabilityBit is the bit of a capability named "NET_RAW", "net_raw" or
// "CAP_NET_RAW" in a /proc/PID/status mask.
func CapabilityBit(name string) (int, error) { return initproc.CapabilityBit(name) }
