package demos

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/sandbox/event"
	"github.com/kcna-lab/kcna-lab/sandbox/rootfs"
)

// dependenciesDemo shows that what a program finds beyond its own code —
// an OS release, shared libraries — comes from the filesystem it is given,
// while the kernel it talks to stays the host's.
func dependenciesDemo() Demo {
	return Demo{
		ID:    "dependencies",
		Title: "What a program needs besides its code, on the host and in a sandbox",
		Run:   runDependencies,
		Blocked: func(r sandbox.Report) string {
			return needsNamespaces(r, sandbox.NSMount)
		},
		ShellFlags: []string{"--name", "lab-why", "--keep"},
	}
}

func runDependencies(ctx context.Context, sink event.Sink) error {
	libs, err := rootfs.Deps("/bin/ls")
	var hostLibs []string
	switch {
	case err != nil:
		hostLibs = []string{"(" + err.Error() + ")"}
	case len(libs) == 0:
		hostLibs = []string{"none: statically linked"}
	default:
		hostLibs = libs
	}
	event.Narrate(sink, "A program needs more than its own code: a C library and other shared libraries, files such as /etc/os-release and /etc/passwd, and the kernel under it all. The host's /bin/ls names its libraries in its ELF header (read here with Go's debug/elf, the way ldd reports them):")
	script := `echo "os-release: $(cat /etc/os-release 2>/dev/null | grep PRETTY_NAME || echo none)"; echo "ls is: $(readlink /bin/ls)"; echo "kernel: $(uname -r)"; echo "in /lib: $(ls /lib 2>/dev/null | head -3 | tr '\n' ' ')"`
	out, res, err := capture(ctx, sandbox.Spec{Args: []string{"sh", "-c", script}}, event.Discard)
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return fmt.Errorf("the sandbox's script exited with %d: %s", res.ExitCode, out)
	}
	release := readTrim("/proc/sys/kernel/osrelease")
	host := []string{"os-release: " + prettyName(), "ls is: /bin/ls, an ELF program", "kernel: " + release, "ls needs:"}
	for _, l := range hostLibs {
		host = append(host, "  "+l)
	}
	event.SideBySide(sink, "The same questions, asked on the host and inside a sandbox with its own root filesystem", host, lines(out))
	from := "a small busybox one, where ls is a link to one statically linked program that needs no shared libraries"
	if !strings.Contains(out, "busybox") {
		// The fallback root filesystem (no static busybox on this host).
		from = "one kcna-lab filled with copies of this host's programs and the libraries their ELF headers name"
	}
	event.Narrate(sink, "Inside, the answers come from the sandbox's root filesystem — "+from+" — but the kernel release is the host's: a container packages the user-space dependencies and shares the kernel. That is why an image built for one distribution runs on another's kernel.")
	return nil
}

func prettyName() string {
	for _, l := range lines(readTrim("/etc/os-release")) {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return "PRETTY_NAME=" + v
		}
	}
	return "none"
}

// sharedKernelDemo measures a sandbox's start in milliseconds and shows
// that its kernel and its processes are the host's.
func sharedKernelDemo() Demo {
	return Demo{
		ID:    "shared-kernel",
		Title: "A container is a process on the host's kernel: start time, uname, host PIDs",
		Run:   runSharedKernel,
		Blocked: func(r sandbox.Report) string {
			return needsNamespaces(r, sandbox.NSPid, sandbox.NSMount)
		},
		ShellFlags: []string{"--name", "lab-vms", "--keep"},
	}
}

func runSharedKernel(ctx context.Context, sink event.Sink) error {
	const runs = 5
	event.Narrate(sink, fmt.Sprintf("Start a sandbox running /bin/true %d times, each with its own namespaces, root filesystem and cgroup, and time each from start to exit:", runs))
	var took []time.Duration
	for range runs {
		start := time.Now()
		res, err := sandbox.Run(ctx, sandbox.Spec{Args: []string{"true"}}, event.Discard)
		if err != nil {
			return err
		}
		if res.ExitCode != 0 {
			return fmt.Errorf("true exited with %d", res.ExitCode)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	var times []string
	for _, d := range took {
		times = append(times, fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000))
	}
	event.Narrate(sink, fmt.Sprintf("Start to exit: %s (median %.1f ms). A virtual machine first boots firmware, a kernel and an init system: seconds, not milliseconds.", strings.Join(times, ", "), float64(took[len(took)/2].Microseconds())/1000))

	name := demoName("kernel")
	sb, stop, err := held(ctx, sandbox.Spec{Name: name}, event.Discard)
	if err != nil {
		return err
	}
	defer stop()
	box, err := inside(ctx, name, "sh", "-c", "uname -r; uname -v")
	if err != nil {
		return err
	}
	host := []string{readTrim("/proc/sys/kernel/osrelease"), readTrim("/proc/sys/kernel/version")}
	event.SideBySide(sink, "uname -r; uname -v — the kernel's release and build", host, box)
	event.Narrate(sink, "The same kernel answers on both sides: the sandbox brought no kernel of its own.")

	nspid, err := statusField(fmt.Sprint(sb.PID()), "NSpid")
	if err != nil {
		return err
	}
	rss, _ := statusField(fmt.Sprint(sb.PID()), "VmRSS")
	event.SideBySide(sink, "The sandbox's first process, seen from each side",
		[]string{fmt.Sprintf("host PID %s (NSpid: %s)", strings.Fields(nspid)[0], nspid), "memory it uses (VmRSS): " + rss},
		[]string{"PID " + strings.Fields(nspid)[len(strings.Fields(nspid))-1], "the same pages: there is no guest OS"})
	event.Narrate(sink, "/proc/PID/status on the host lists the process's PID in each PID namespace it belongs to (NSpid): the sandbox's PID 1 is an ordinary host process. A VM would instead show up as one hypervisor process holding a whole guest's memory.")
	return nil
}
