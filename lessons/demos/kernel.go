package demos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/sandbox"
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
		Title: "A container is a process on the host's kernel: start time, uname, host PIDs, cgroup memory",
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
	event.Narrate(sink, "Nor does a VM look like this from its host. Under KVM a guest is one QEMU (or Firecracker) process holding the whole guest, kernel and all, its processes invisible from the host; under Xen, ESXi or Hyper-V the hypervisor schedules guests that are no host processes at all. A sandbox, next:")

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
	from, hostProcs, boxProcs, rssKB, err := sandboxProcesses(ctx, sb, name)
	if err != nil {
		return err
	}
	event.SideBySide(sink, "uname -r; uname -v, then the sandbox's processes from its "+from+" (with VmRSS)",
		append(append(host, ""), hostProcs...), append(append(box, ""), boxProcs...))
	event.Narrate(sink, "The same kernel answers on both sides: the sandbox brought none of its own. Its processes are ordinary host processes; /proc/PID/status lists each one's PID in every PID namespace it is in (NSpid), the host's first, the sandbox's own from 1 last.")
	mem := cgroupMemory(sb.Cgroups())
	switch {
	case mem == "" && slices.Contains(sb.Unjoined(), "memory"):
		event.Narrate(sink, "Their memory as the kernel charges it to a cgroup is not counted for this sandbox, which was given no memory limit: it has "+cgroup.UnjoinedWhy("memory")+". On cgroup v2 the sandbox's one directory always has memory.current.")
	case mem == "" && len(sb.Cgroups()) > 0:
		event.Narrate(sink, "Their memory as the kernel charges it to a cgroup could not be read from "+strings.Join(sb.Cgroups(), ", ")+": neither memory.current (v2) nor memory.usage_in_bytes (v1) is there.")
	case mem != "":
		event.Narrate(sink, fmt.Sprintf("Their memory as the kernel charges it to the sandbox's cgroup: %s; VmRSS summed: %d kB. They differ: VmRSS counts a shared page in every process that maps it, while the cgroup is charged for a page once, and only if it was the cgroup that first faulted it in: pages the host already had cached (the shell's own binary and libraries, say) show in VmRSS but not in the cgroup's count, which adds the page cache and kernel memory its own processes caused.", mem, rssKB))
	}
	return nil
}

// sandboxProcesses starts a sleep in a running sandbox and lists its
// processes, from its cgroup (or from /proc when it has none, which from
// names), each as the host and the sandbox number it, with the VmRSS
// summed over them.
func sandboxProcesses(ctx context.Context, sb *sandbox.Sandbox, name string) (from string, host, box []string, rssKB int, err error) {
	// A second process, so that the list is a list: a sleep started in
	// the sandbox, which its init forks into its namespaces and cgroup.
	if _, err := inside(ctx, name, "sh", "-c", "sleep 300 </dev/null >/dev/null 2>&1 &"); err != nil {
		return "", nil, nil, 0, err
	}
	paths := sb.Cgroups()
	var pids []int
	from = "cgroup.procs"
	if len(paths) == 0 {
		// No cgroup (rootless, no limits asked for): the init and its
		// children are still found, through /proc.
		from = "/proc (no cgroup: " + noCgroupWhy() + ")"
		pids = processTree(sb.PID())
	} else if pids, err = cgroupProcs(paths); err != nil {
		return "", nil, nil, 0, err
	}
	for _, pid := range pids {
		p := fmt.Sprint(pid)
		nspid, err := statusField(p, "NSpid")
		if err != nil {
			continue // it exited meanwhile
		}
		rss, _ := statusField(p, "VmRSS") // none for a zombie
		kb, _ := strconv.Atoi(strings.TrimSuffix(rss, " kB"))
		rssKB += kb
		f := strings.Fields(nspid)
		host = append(host, fmt.Sprintf("PID %s (NSpid %s) %d kB", f[0], strings.Join(f, " "), kb))
		box = append(box, fmt.Sprintf("PID %s %s", f[len(f)-1], progName(p)))
	}
	return from, host, box, rssKB, nil
}

// progName is a process's program as its command line names it (comm
// can be a loader's name, such as "exe").
func progName(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/cmdline")
	if err != nil || len(b) == 0 {
		return readTrim("/proc/" + pid + "/comm")
	}
	arg0, _, _ := strings.Cut(string(b), "\x00")
	rest := strings.ReplaceAll(strings.TrimRight(string(b[len(arg0):]), "\x00"), "\x00", " ")
	return strings.TrimSpace(filepath.Base(arg0) + rest)
}

// cgroupProcs reads the processes in a sandbox's cgroup directories.
func cgroupProcs(paths []string) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for _, dir := range paths {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil {
			return nil, fmt.Errorf("list the sandbox's processes: %w", err)
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// processTree is pid and its descendants, from /proc/PID/task/*/children.
func processTree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", out[i]))
		for _, t := range tasks {
			b, _ := os.ReadFile(t)
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil && !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// cgroupMemory is the memory charged to a sandbox's cgroup, named by the
// file it comes from, or "" when it has no memory controller.
func cgroupMemory(paths []string) string {
	dir := controllerDir(paths, "memory")
	for _, file := range []string{"memory.current", "memory.usage_in_bytes"} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			continue
		}
		return fmt.Sprintf("%s = %d bytes (%.1f MiB)", file, n, float64(n)/(1<<20))
	}
	return ""
}

// noCgroupWhy says why a sandbox started without limits has no cgroup.
func noCgroupWhy() string {
	if os.Geteuid() != 0 {
		return "run without root and without limits, kcna-lab makes none"
	}
	return "this host's cgroups are not usable"
}
