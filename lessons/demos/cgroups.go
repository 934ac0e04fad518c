package demos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// cgroupsDemo puts each limit to the test: memory until the OOM killer
// ends the hog, pids until forks fail, cpu until the scheduler throttles.
func cgroupsDemo() Demo {
	return Demo{
		ID:    "cgroup-limits",
		Title: "cgroups at work: an OOM kill, a contained fork bomb, CPU throttling",
		Run:   runCgroups,
		Blocked: func(r sandbox.Report) string {
			if why := needsNamespaces(r, sandbox.NSPid, sandbox.NSMount); why != "" {
				return why
			}
			return r.Cgroup.Problem
		},
		ShellFlags: []string{"--name", "lab-cgroups", "--keep", "--memory", "64M", "--pids", "32"},
	}
}

// forkBomb is the classic shell fork bomb: the function b runs two copies
// of itself in a background pipeline, each of which does the same. The
// top shell must then outlive the bomb: were the sandbox's command to end,
// its init would exit and the kernel would kill the whole PID namespace
// at once. `wait` would not do (it waits only for the shell's own two
// children, which return at once); exec replaces the shell with sleep
// without a fork, and 60 seconds bounds it should the demo's own kill of
// PID 1 never come.
const forkBomb = `b() { b | b & }; b; exec sleep 60`

// memoryHog grows a shell variable by 1 MiB at a time, so that the gauge
// can be seen filling before the kernel steps in.
const memoryHog = `x=; i=0; while :; do x="$x$(head -c 1048576 /dev/zero | tr '\0' a)"; i=$((i+1)); echo "holding $i MiB"; done`

func runCgroups(ctx context.Context, sink event.Sink) error {
	if err := oomPart(ctx, sink); err != nil {
		return err
	}
	if err := pidsPart(ctx, sink); err != nil {
		return err
	}
	return cpuPart(ctx, sink)
}

func oomPart(ctx context.Context, sink event.Sink) error {
	event.Narrate(sink, "1. Memory. A sandbox limited to 32 MiB runs a shell that holds one more MiB each round. The gauge is memory.current (v2) or memory.usage_in_bytes (v1) against the limit:")
	quiet := event.SinkFunc(func(e event.Event) {
		if e.Kind == event.KindOutput {
			return // "holding N MiB", many times over
		}
		sink.Emit(e)
	})
	res, err := sandbox.Run(ctx, sandbox.Spec{Args: []string{"sh", "-c", memoryHog}, Limits: sandbox.Limits{MemoryBytes: 32 << 20}}, quiet)
	if err != nil {
		return err
	}
	if res.OOMKilled {
		event.Narrate(sink, fmt.Sprintf("Exit status %d = 128 + 9: SIGKILL, sent by the kernel's OOM killer when the cgroup could not stay under its limit. kcna-lab knows it was the OOM killer because the cgroup's counter says so (memory.events oom_kill on v2, memory.oom_control oom_kill on v1), not because of the number: `kill -9` gives 137 too.", res.ExitCode))
	} else {
		event.Narrate(sink, fmt.Sprintf("The hog ended with %d and no OOM kill was counted: on this host something else stopped it first.", res.ExitCode))
	}
	return nil
}

func pidsPart(ctx context.Context, sink event.Sink) error {
	event.Narrate(sink, "2. Processes. A sandbox limited to 20 tasks (pids.max counts every process and thread in the cgroup, kcna-lab's init included) runs a real fork bomb, "+forkBomb+": each copy starts two more in a background pipeline, so their number doubles at every step until something stops it, while the top shell becomes a sleep (exec, no fork) so that the sandbox lives on. Here the cgroup does, and kcna-lab ends the bomb after reading the counters:")
	// The bomb is the sandbox's own command, not an exec: the init then
	// needs no new thread while the cgroup is full. A CPU limit keeps its
	// churn (copies exiting, others forking into the freed slots) from
	// taking a whole CPU of a shared host for the seconds it runs.
	var buf bytes.Buffer
	sb, err := sandbox.Start(ctx, sandbox.Spec{
		Name: demoName("bomb"), Limits: sandbox.Limits{Pids: 20, CPUs: 0.5}, Stdout: &buf, Stderr: &buf,
		Args: []string{"sh", "-c", forkBomb},
	}, sink)
	if err != nil {
		return err
	}
	dir := controllerDir(sb.Cgroups(), "pids")
	atRefusal, alive := watchBomb(dir, sb)
	cg := []string{
		"pids.max     = " + readTrim(filepath.Join(dir, "pids.max")),
		"pids.current = " + atRefusal + " (1st refusal)",
		"pids.current = " + readTrim(filepath.Join(dir, "pids.current")) + " (1s later)",
		"pids.events  : " + readTrim(filepath.Join(dir, "pids.events")),
	}
	// Killing the sandbox's PID 1 ends every process in its PID
	// namespace; the buffer is read once its writers are gone.
	_ = sb.Signal(syscall.SIGKILL)
	_, _ = sb.Wait()
	inside := countRepeats(lines(buf.String()))
	if len(inside) == 0 {
		inside = []string{"(the shell printed nothing)"}
	}
	hostFork := "the host can still fork: /bin/true ran"
	if err := exec.CommandContext(ctx, "/bin/true").Run(); err != nil {
		hostFork = "the host could not fork: " + err.Error()
	}
	event.SideBySide(sink, "The sandbox's cgroup, read from the host | what the shell inside saw", append(cg, hostFork), inside)
	end := "It was still churning inside its slots (copies exiting, others forking into the freed ones) when kcna-lab killed the sandbox's PID 1, which ends every process in its PID namespace: a limit contains a bomb, someone still has to stop it."
	if !alive {
		end = "This one then died out by itself: in busybox sh a copy whose fork is refused prints \"can't fork\" and exits, so once the cgroup was full the copies ended faster than new ones could start. A bomb that retries instead would churn inside its slots until killed."
	}
	event.Narrate(sink, "fork() failed with EAGAIN once the cgroup reached pids.max; pids.events counts each refusal as \"max\". The bomb could grow no further and nothing outside the cgroup was affected. "+end)
	return nil
}

// watchBomb waits until the kernel has refused a fork in the pids cgroup
// at dir, reads pids.current at once (the bomb at its height: a copy
// whose fork is refused exits, so a second later it may have burnt out),
// then lets it press on the limit a second more (five seconds in all),
// and reports whether the bomb is still running then.
func watchBomb(dir string, sb *sandbox.Sandbox) (atRefusal string, alive bool) {
	var refused time.Time
	atRefusal = "(no fork was refused)"
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if refused.IsZero() && !strings.HasSuffix(readTrim(filepath.Join(dir, "pids.events")), "max 0") {
			refused, atRefusal = time.Now(), readTrim(filepath.Join(dir, "pids.current"))
		}
		if !refused.IsZero() && time.Since(refused) > time.Second {
			break
		}
	}
	// The init alone accounts for several tasks (its runtime's threads),
	// so count processes: the init and the sleep the top shell became are
	// always there; the bomb is alive while there is anything more.
	return atRefusal, len(processTree(sb.PID())) > 2
}

func cpuPart(ctx context.Context, sink event.Sink) error {
	event.Narrate(sink, "3. CPU. A sandbox limited to 0.2 CPUs (a quota of 20ms in every 100ms period: cpu.max \"20000 100000\" on v2, cpu.cfs_quota_us=20000 on v1) spins for two seconds:")
	name := demoName("cpu")
	sb, stop, err := held(ctx, sandbox.Spec{Name: name, Limits: sandbox.Limits{CPUs: 0.2}}, sink)
	if err != nil {
		return err
	}
	defer stop()
	start := time.Now()
	if _, _, err := sandbox.ExecOutput(ctx, name, "sh", "-c", `end=$(($(date +%s)+2)); while [ $(date +%s) -lt $end ]; do :; done`); err != nil {
		return err
	}
	stat, err := sb.CPUStat()
	if err != nil {
		return err
	}
	var rows []string
	for _, k := range []string{"nr_periods", "nr_throttled", "throttled_usec", "throttled_time", "usage_usec"} {
		if v, ok := stat[k]; ok {
			rows = append(rows, fmt.Sprintf("%-15s %d", k, v))
		}
	}
	event.SideBySide(sink, fmt.Sprintf("cpu.stat after %.1fs of spinning", time.Since(start).Seconds()), rows, []string{"a busy loop that never sleeps", "", "it ran only while its quota", "lasted; the scheduler paused it", "for the rest of each period"})
	event.Narrate(sink, "nr_throttled counts the periods in which the cgroup used up its quota and was paused. Kubernetes turns a container's CPU limit into exactly this quota. Namespaces limit what a process sees; cgroups limit what it uses.")
	return nil
}

// controllerDir picks a controller's directory from a sandbox's cgroup
// paths: on v1 the one under that controller's hierarchy, on v2 the one.
func controllerDir(paths []string, controller string) string {
	for _, p := range paths {
		if strings.Contains(p, "/"+controller+"/") || strings.Contains(p, "/"+controller+",") || strings.Contains(p, ","+controller+"/") {
			return p
		}
	}
	if len(paths) > 0 {
		return paths[len(paths)-1]
	}
	return os.DevNull
}

// countRepeats folds runs of the same line into one with a count, so that
// forty "can't fork" messages read as one.
func countRepeats(in []string) []string {
	var out []string
	for i := 0; i < len(in); {
		j := i
		for j < len(in) && in[j] == in[i] {
			j++
		}
		if n := j - i; n > 1 {
			out = append(out, fmt.Sprintf("%s (x%d)", in[i], n))
		} else {
			out = append(out, in[i])
		}
		i = j
	}
	return out
}
