// Package seccomp turns a seccomp profile in Docker's JSON format into
// the classic BPF program the kernel runs on every system call of a
// sandbox's processes: lesson 8 (container security) shows it refusing
// calls that capabilities alone would allow.
//
// The profile is Docker's own default (github.com/moby/profiles/seccomp),
// or a file in the same format, resolved for this machine as moby does:
// rules kept or left out by the sandbox's capabilities, the architecture
// and the kernel. Compile then writes the program itself, in Go, without
// libseccomp: an architecture check, an -ENOSYS answer for calls newer
// than the profile (as runc adds), the profile's rules, and its default
// action for every other call.
//
// It runs in the parent, kcna-lab, never in kcna-lab-init: the init only
// loads the finished program (package sandbox/initproc), so it stays small.
package seccomp
