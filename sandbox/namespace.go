package sandbox

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// Namespace is one kind of Linux namespace; Describe says what it
// isolates. The init uses it too, so it is defined there.
type Namespace = initproc.Namespace

// The eight namespaces of a current Linux kernel.
const (
	NSPid    = initproc.NSPid    // process IDs: the sandbox's first process is PID 1
	NSUTS    = initproc.NSUTS    // hostname and domain name
	NSMount  = initproc.NSMount  // the mount table
	NSIPC    = initproc.NSIPC    // System V IPC and POSIX message queues
	NSNet    = initproc.NSNet    // interfaces, addresses, routes, ports
	NSUser   = initproc.NSUser   // user and group IDs, and capabilities
	NSCgroup = initproc.NSCgroup // the view of the cgroup tree
	NSTime   = initproc.NSTime   // CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets
)

// AllNamespaces lists every namespace in the order they are described.
var AllNamespaces = []Namespace{NSPid, NSUTS, NSMount, NSIPC, NSNet, NSUser, NSCgroup, NSTime}

// ParseIsolate reads the --isolate flag: a comma-separated list of
// namespaces, "all", or "none".
func ParseIsolate(s string) ([]Namespace, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "all":
		return nil, nil
	case "none":
		return []Namespace{}, nil
	}
	var out []Namespace
	for _, part := range strings.Split(s, ",") {
		n := Namespace(strings.TrimSpace(part))
		if n == "mount" {
			n = NSMount
		}
		if !slices.Contains(AllNamespaces, n) {
			return nil, fmt.Errorf("--isolate: unknown namespace %q; choose from pid,uts,mnt,ipc,net,user,cgroup,time (or all, or none)", part)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Available lists the namespaces this kernel offers, from /proc/self/ns.
// Whether the caller may create them is a separate question (see Doctor).
func Available() []Namespace {
	var out []Namespace
	for _, n := range AllNamespaces {
		if _, err := os.Lstat("/proc/self/ns/" + string(n)); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// NamespaceInode reads the identity of a process's namespace: the inode
// number /proc/PID/ns/NAME links to, e.g. "pid:[4026531836]". Two
// processes share a namespace exactly when these are equal.
func NamespaceInode(pid int, n Namespace) (string, error) {
	return os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, string(n)))
}

func namesOf(ns []Namespace) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = string(n)
	}
	return strings.Join(s, ",")
}
