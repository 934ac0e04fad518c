// Package kernel is the first floor of the stack the course builds: the
// kernel primitives a container is made of, each in a package of its own
// that any runtime could use.
//
//	journal    every object made is written down first, to be undone
//	mountinfo  the kernel's mount table, read one way (lessons 3, 13)
//	rootfs     the directory tree a sandbox pivots into (lesson 3)
//	cgroup     control groups, v1, v2 and hybrid (lesson 5)
//	overlay    layered root filesystems (lesson 7)
//	seccomp    system call filters from Docker's profile (lesson 8)
//	idmap      idmapped mounts for volumes (lesson 13)
//
// Namespaces (lesson 4) have no package here: a namespace is a clone flag,
// and the runtime above (package sandbox) passes it. Nothing on this floor
// imports a floor above it: not sandbox, plugin or platform.
package kernel
