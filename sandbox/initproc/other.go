//go:build !linux

package initproc

// Main does nothing off Linux: a sandbox's init needs Linux's namespaces.
func Main() {}
