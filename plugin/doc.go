// Package plugin is the third floor of the stack: what plugs into the
// runtime (package sandbox) the way CNI plugins, image stores and OCI
// bundles plug into containerd and runc.
//
//	network  bridge, veths, IPAM, DNS and published ports (lessons 10, 11)
//	image    Dockerfile builds, OCI layouts, registries (lesson 7)
//	oci      a sandbox as an OCI runtime bundle runc can run (lesson 6)
//
// These import the runtime and the kernel floor, never the platform above.
package plugin
