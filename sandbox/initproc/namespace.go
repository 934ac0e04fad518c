package initproc

// Namespace is one kind of Linux namespace. Its value is the namespace's
// file under /proc/PID/ns ("mnt", not "mount").
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
