//go:build linux

package oci

import "github.com/kcna-lab/kcna-lab/sandbox"

// defaultCapabilities is the set kcna-lab's sandboxed processes keep, as
// "cap_chown"-style names.
func defaultCapabilities() ([]string, error) { return sandbox.DefaultCapabilities(), nil }

// defaultIsolation is what kcna-lab isolates when Spec.Isolate is nil.
func defaultIsolation() ([]sandbox.Namespace, error) { return sandbox.DefaultIsolation(), nil }
