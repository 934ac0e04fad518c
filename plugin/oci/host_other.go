//go:build !linux

package oci

import (
	"errors"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

// errNeedsLinux: the config describes Linux namespaces, cgroups and
// capabilities, and which of them apply is read from this kernel.
var errNeedsLinux = errors.New("an OCI config for a kcna-lab sandbox needs Linux: which namespaces and capabilities apply is read from the running kernel; run it in a Linux VM")

func defaultCapabilities() ([]string, error) { return nil, errNeedsLinux }

func defaultIsolation() ([]sandbox.Namespace, error) { return nil, errNeedsLinux }
