package demos

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/sandbox/event"
)

// namespacesDemo puts the host's view next to the sandbox's: processes,
// hostname and the namespace identities in /proc/PID/ns.
func namespacesDemo() Demo {
	return Demo{
		ID:    "namespaces-tour",
		Title: "The same kernel, two views: host and sandbox",
		Run:   runNamespaces,
		Blocked: func(r sandbox.Report) string {
			return needsNamespaces(r, sandbox.NSPid, sandbox.NSUTS, sandbox.NSMount)
		},
		ShellFlags: []string{"--hostname", "inside"},
	}
}

const sandboxHostname = "kcna-inside"

func runNamespaces(ctx context.Context, sink event.Sink) error {
	hostName, err := os.Hostname()
	if err != nil {
		return err
	}
	procs, err := countProcesses()
	if err != nil {
		return err
	}
	var ids []string
	for _, n := range sandbox.AllNamespaces {
		if id, err := sandbox.NamespaceInode(os.Getpid(), n); err == nil {
			ids = append(ids, id)
		}
	}
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return err
	}
	event.Narrate(sink, fmt.Sprintf("On the host: kernel %s, hostname %q, %d processes in /proc, and these namespaces:\n%s", strings.TrimSpace(string(release)), hostName, procs, strings.Join(ids, "\n")))

	event.Narrate(sink, fmt.Sprintf("Inside a sandbox with every namespace this host allows and the hostname %q:", sandboxHostname))
	script := `echo "kernel: $(uname -r)"; echo "hostname: $(hostname)"; echo "processes:"; ps; echo "namespaces:"; for n in pid uts mnt ipc net user cgroup time; do readlink /proc/self/ns/$n; done`
	spec := sandbox.Spec{Args: []string{"sh", "-c", script}, Hostname: sandboxHostname}
	res, err := sandbox.Run(ctx, spec, sink)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("the command inside the sandbox exited with %d", res.ExitCode)
	}
	after, err := os.Hostname()
	if err != nil {
		return err
	}
	event.Narrate(sink, fmt.Sprintf("Back on the host the hostname is still %q. The kernel is the same one inside and out: a container is host processes with a different view, not a machine of its own. Inside, ps saw only the sandbox's own processes, with kcna-lab's init as PID 1 (the first process of a PID namespace, which reaps orphans and whose exit ends every process in it), and every namespace link above names a different namespace from the host's.", after))
	return nil
}

func countProcesses() (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.Name()[0] >= '0' && e.Name()[0] <= '9' {
			n++
		}
	}
	return n, nil
}
