package sandbox

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// Namespace is one kind of Linux namespace.
type Namespace string

// The eight namespaces of a current Linux kernel.
const (
	NSPid    Namespace = "pid"    // process IDs: the sandbox's first process is PID 1
	NSUTS    Namespace = "uts"    // hostname and domain name
	NSMount  Namespace = "mnt"    // the mount table
	NSIPC    Namespace = "ipc"    // System V IPC and POSIX message queues
	NSNet    Namespace = "net"    // interfaces, addresses, routes, ports
	NSUser   Namespace = "user"   // user and group IDs, and capabilities
	NSCgroup Namespace = "cgroup" // the view of the cgroup tree
	NSTime   Namespace = "time"   // CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets
)

// AllNamespaces lists every namespace in the order they are described.
var AllNamespaces = []Namespace{NSPid, NSUTS, NSMount, NSIPC, NSNet, NSUser, NSCgroup, NSTime}

// procName is the file under /proc/PID/ns/ for the namespace.
func (n Namespace) procName() string { return string(n) }

// Describe says what the namespace isolates, for a learner.
func (n Namespace) Describe() string {
	switch n {
	case NSPid:
		return "process IDs: the sandbox's first process is PID 1 and host processes are invisible"
	case NSUTS:
		return "hostname and NIS domain name"
	case NSMount:
		return "the mount table: mounts made inside are invisible outside"
	case NSIPC:
		return "System V IPC objects and POSIX message queues"
	case NSNet:
		return "network interfaces, addresses, routes, firewall rules and ports"
	case NSUser:
		return "user and group IDs: root inside maps to an unprivileged user outside"
	case NSCgroup:
		return "the view of the cgroup tree: the sandbox's cgroup looks like the root"
	case NSTime:
		return "the offsets of CLOCK_MONOTONIC and CLOCK_BOOTTIME (uptime)"
	}
	return ""
}

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
		if _, err := os.Lstat("/proc/self/ns/" + n.procName()); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// NamespaceInode reads the identity of a process's namespace: the inode
// number /proc/PID/ns/NAME links to, e.g. "pid:[4026531836]". Two
// processes share a namespace exactly when these are equal.
func NamespaceInode(pid int, n Namespace) (string, error) {
	return os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, n.procName()))
}

func namesOf(ns []Namespace) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = string(n)
	}
	return strings.Join(s, ",")
}
