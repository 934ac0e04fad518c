package demos

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/mountinfo"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// namespacesDemo puts the host's view next to the sandbox's for each of
// the eight namespaces, every line as the kernel reports it on each side.
func namespacesDemo() Demo {
	return Demo{
		ID:    "namespaces-tour",
		Title: "Eight namespaces, two views: host and sandbox side by side",
		Run:   runNamespaces,
		Blocked: func(r sandbox.Report) string {
			return needsNamespaces(r, sandbox.NSPid, sandbox.NSUTS, sandbox.NSMount)
		},
		ShellFlags: []string{"--name", "lab-ns", "--keep", "--hostname", "kcna-inside"},
	}
}

const sandboxHostname = "kcna-inside"

func runNamespaces(ctx context.Context, sink event.Sink) error {
	name := demoName("tour")
	event.Narrate(sink, fmt.Sprintf("Start a sandbox with every namespace this host allows and the hostname %q. Its init holds the namespaces while we look at them from both sides.", sandboxHostname))
	sb, stop, err := held(ctx, sandbox.Spec{Name: name, Hostname: sandboxHostname}, sink)
	if err != nil {
		return err
	}
	defer stop()
	isolated := sb.Isolate()

	// The sandbox's side is asked of a process started inside: the time
	// namespace holds only the init's children, not the init itself.
	var hostIDs []string
	script := "for n in"
	for _, n := range sandbox.AllNamespaces {
		h, _ := sandbox.NamespaceInode(os.Getpid(), n)
		hostIDs = append(hostIDs, h)
		script += " " + string(n)
	}
	boxIDs, err := inside(ctx, name, "sh", "-c", script+"; do readlink /proc/self/ns/$n; done")
	if err != nil {
		return err
	}
	event.SideBySide(sink, fmt.Sprintf("Namespace identities: readlink /proc/self/ns/* (the sandbox's init is host PID %d; a different inode is a different namespace)", sb.PID()), hostIDs, boxIDs)

	type view struct {
		ns          sandbox.Namespace
		title, note string
		host        func() ([]string, error)
		box         []string // command run inside
	}
	views := []view{
		{sandbox.NSPid, "pid: the process list", "Inside, kcna-lab's init is PID 1 and ps sees nothing of the host: the PID namespace numbers processes afresh and shows only its own.",
			func() ([]string, error) { return hostProcesses(8) }, []string{"ps"}},
		{sandbox.NSUTS, "uts: the hostname", "The same uname(2) call answers differently on each side; the host's hostname is untouched.",
			func() ([]string, error) { h, err := os.Hostname(); return []string{h}, err }, []string{"hostname"}},
		{sandbox.NSNet, "net: the network interfaces (/proc/net/dev)", "A new network namespace starts with only a loopback interface; a runtime adds a veth pair to connect it (lesson 10).",
			func() ([]string, error) { return interfaces(readTrim("/proc/net/dev")), nil }, []string{"cat", "/proc/net/dev"}},
		{sandbox.NSMount, "mnt: the mount table (/proc/self/mountinfo, mount points)", "The sandbox has its own mount table: its root is the busybox filesystem, with its own /proc, /dev and /sys.",
			func() ([]string, error) { return mountPoints(readTrim("/proc/self/mountinfo")), nil }, []string{"cat", "/proc/self/mountinfo"}},
		{sandbox.NSUser, "user: who root is (/proc/self/uid_map: inside, outside, count)", "Inside, uid 0 is root; the map says which host uids those really are — an unprivileged range when kcna-lab runs as root.",
			func() ([]string, error) { return []string{readTrim("/proc/self/uid_map")}, nil }, []string{"cat", "/proc/self/uid_map"}},
		{sandbox.NSCgroup, "cgroup: where the process sits (/proc/self/cgroup)", "The cgroup namespace makes the sandbox's own cgroup look like the root, \"/\".",
			func() ([]string, error) { return lines(readTrim("/proc/self/cgroup")), nil }, []string{"cat", "/proc/self/cgroup"}},
		{sandbox.NSTime, "time: seconds since boot (/proc/uptime)", "The time namespace shifts CLOCK_BOOTTIME and CLOCK_MONOTONIC: the sandbox's uptime starts near zero, the wall clock is the same.",
			func() ([]string, error) { return []string{readTrim("/proc/uptime")}, nil }, []string{"cat", "/proc/uptime"}},
	}
	for _, v := range views {
		if !slices.Contains(isolated, v.ns) {
			event.Narrate(sink, fmt.Sprintf("%s: this sandbox has no %s namespace here, so it shares the host's.", v.title, v.ns))
			continue
		}
		host, err := v.host()
		if err != nil {
			return err
		}
		box, err := inside(ctx, name, v.box...)
		if err != nil {
			return err
		}
		switch v.ns {
		case sandbox.NSNet:
			box = interfaces(strings.Join(box, "\n"))
		case sandbox.NSMount:
			box = mountPoints(strings.Join(box, "\n"))
		}
		event.SideBySide(sink, v.title, host, box)
		event.Narrate(sink, v.note)
	}
	if slices.Contains(isolated, sandbox.NSIPC) {
		event.Narrate(sink, "ipc: System V message queues, semaphores and shared memory, and POSIX message queues, are per IPC namespace: a queue made inside (see /proc/sysvipc/msg) cannot be opened from outside. Its identity differs above.")
	}
	after, err := os.Hostname()
	if err != nil {
		return err
	}
	event.Narrate(sink, fmt.Sprintf("Back on the host the hostname is still %q. One kernel, two views: a container is host processes whose namespaces give them their own view of each of these resources.", after))
	return nil
}

// interfaces picks the interface names out of /proc/net/dev.
func interfaces(dev string) []string {
	var out []string
	for _, l := range lines(dev) {
		if name, _, ok := strings.Cut(l, ":"); ok && !strings.Contains(name, "|") {
			out = append(out, strings.TrimSpace(name))
		}
	}
	return out
}

// mountPoints picks the mount points out of mountinfo: the first ones and
// how many in all.
func mountPoints(text string) []string {
	all, _ := mountinfo.Parse(strings.NewReader(text)) // a string reader never fails
	var out []string
	for _, m := range all[:min(len(all), 8)] {
		out = append(out, m.Point)
	}
	return append(out, fmt.Sprintf("(%d mounts in all)", len(all)))
}
