package demos

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Lesson 15, observing containers: the three kinds of telemetry read live.
// container-metrics reads a loaded sandbox's cgroup files (the numbers
// cAdvisor, the kubelet and metrics-server serve) and a background
// sandbox's log; mesh-telemetry (observe_mesh.go) scrapes the sidecars'
// /metrics and follows one trace across them.

func observeDemos() []Demo {
	return []Demo{containerMetricsDemo(), meshTelemetryDemo(sandbox.Net{})}
}

func observeChecks() []Check {
	return []Check{{ID: "canary-404s", Verify: checkCanary404s}}
}

func containerMetricsDemo() Demo {
	return Demo{
		ID:    "container-metrics",
		Title: "A sandbox under load, read from its cgroup files; a background sandbox's log",
		Run: func(ctx context.Context, sink event.Sink) error {
			if err := cgroupMetricsPart(ctx, sink); err != nil {
				return err
			}
			return logsPart(ctx, sink)
		},
		Blocked: func(r sandbox.Report) string {
			if why := needsNamespaces(r, sandbox.NSPid, sandbox.NSMount); why != "" {
				return why
			}
			return r.Cgroup.Problem
		},
		ShellFlags: []string{"--name", "lab-observe", "--keep", "--memory", "128M", "--pids", "64", "--cpus", "0.5"},
	}
}

// loadScript idles for a second, then holds 16 MiB in a shell variable,
// starts four sleeping children and spins the CPU for about two seconds,
// then idles holding the memory: a container whose numbers move. (The
// last command is a loop, not a plain sleep, which busybox sh would exec
// in its own place, freeing the 16 MiB.)
const loadScript = `sleep 1
x=$(head -c 16777216 /dev/zero | tr '\0' a)
for i in 1 2 3 4; do sleep 60 & done
end=$(($(date +%s)+2)); while [ $(date +%s) -lt $end ]; do :; done
echo "loaded: ${#x} bytes held"; while :; do sleep 3600; done`

func cgroupMetricsPart(ctx context.Context, sink event.Sink) error {
	event.Narrate(sink, "1. Metrics from the cgroup. A sandbox limited to 128 MiB, 64 tasks and half a CPU idles for a second, then holds 16 MiB, starts four sleeping children and spins for two seconds. kcna-lab reads its cgroup files from the host every 0.7s, as the kubelet's cAdvisor reads every container's:")
	var out syncBuffer
	sb, err := sandbox.Start(ctx, sandbox.Spec{
		Name: demoName("observe"), Args: []string{"sh", "-c", loadScript},
		Limits: sandbox.Limits{MemoryBytes: 128 << 20, Pids: 64, CPUs: 0.5},
		Stdout: &out, Stderr: &out,
	}, sink)
	if err != nil {
		return err
	}
	defer func() {
		_ = sb.Signal(syscall.SIGKILL)
		_, _ = sb.Wait()
	}()
	paths := sb.Cgroups()
	if len(paths) == 0 {
		return errors.New("the sandbox got no cgroup, so there is nothing to read")
	}
	samples, err := sampleUntilLoaded(ctx, paths, &out)
	if err != nil {
		return err
	}
	first, last := samples[0], samples[len(samples)-1]
	rows := []string{fmt.Sprintf("%-5s %7s %7s %4s %s", "time", "usage", "wkset", "pids", first.cpuTitle())}
	for _, s := range shown(samples, 9) {
		rows = append(rows, fmt.Sprintf("%-5s %7s %7s %4d %s", fmt.Sprintf("+%.1fs", s.at.Seconds()), mibs(s.usage), mibs(s.workingSet()), s.pids, s.cpuCell()))
	}
	columns(sink, "The sandbox's cgroup, read live ("+last.version+": "+last.where()+")", "what the files said over time", rows,
		"read from", last.files())
	if last.usage-first.usage < 8<<20 || last.pids <= first.pids {
		return fmt.Errorf("the load did not show: memory went from %s to %s and pids from %d to %d", mibs(first.usage), mibs(last.usage), first.pids, last.pids)
	}
	if last.inactiveFile < 1<<20 {
		event.Narrate(sink, "The working set (wkset) is usage minus the inactive page cache; here they are almost equal, because the sandbox reads and writes no files on disk: its 16 MiB are anonymous memory, which the kernel cannot drop without swap.")
	}
	if last.cpuUsage < 0 {
		event.Narrate(sink, "On this cgroup v1 host the cpu and cpuacct controllers are mounted apart, and kcna-lab puts sandboxes in cpu (for the quota) but not cpuacct, so the CPU time used is not in the sandbox's cgroup; cpu.stat's nr_throttled still counts the 100ms periods in which the sandbox used up its half CPU and was paused. On cgroup v2, cpu.stat has usage_usec too.")
	}
	columns(sink, "The same numbers as Kubernetes names them (cAdvisor, inside the kubelet)",
		"cgroup file", last.sources(), "metric", []string{
			"container_memory_usage_bytes",
			"container_memory_working_set_bytes (usage minus inactive file cache; kubectl top and eviction use it)",
			"container_memory_rss",
			"container_cpu_usage_seconds_total",
			"container_cpu_cfs_throttled_periods_total",
			"(the pod's PID limit, podPidsLimit, is pids.max)",
		})
	event.Narrate(sink, "Nothing inside the sandbox reported these numbers: the kernel keeps them for every cgroup, and anyone on the host can read them. A Kubernetes node works the same way. The kubelet embeds cAdvisor, which reads each container's cgroup files and serves them at the kubelet's /metrics/cadvisor (all of them, for Prometheus) and /metrics/resource (CPU and working set only). metrics-server scrapes /metrics/resource on every node, every 15s by default, keeps only the latest values, and serves them as the metrics.k8s.io API: that is what `kubectl top` and the HorizontalPodAutoscaler read. The OOM killer, though, compares the full usage with the limit (memory.max), not the working set.")
	return nil
}

// cgroupStats is one reading of a sandbox's cgroup.
type cgroupStats struct {
	at      time.Duration
	version string // "cgroup v2" or "cgroup v1"
	usage   int64
	// inactiveFile is page cache the kernel may drop first; rss is
	// anonymous memory (v2 anon, v1 total_rss).
	inactiveFile, rss int64
	pids              int64
	// cpuUsage is CPU time in µs, -1 when the cgroup does not count it
	// (v1 without cpuacct in the sandbox's cgroup).
	cpuUsage, throttled int64
	dirs                map[string]string // controller → directory
}

// readCgroupStats reads the memory, pids and cpu files of a sandbox's
// cgroup directories: one directory on v2, one per controller on v1.
func readCgroupStats(paths []string) (cgroupStats, error) {
	s := cgroupStats{cpuUsage: -1, dirs: map[string]string{}}
	for _, c := range []string{"memory", "pids", "cpu"} {
		s.dirs[c] = controllerDir(paths, c)
	}
	mem := s.dirs["memory"]
	stat, err := cgroup.ReadKeyed(filepath.Join(mem, "memory.stat"))
	if err != nil {
		return s, err
	}
	usage := filepath.Join(mem, "memory.current")
	s.version, s.inactiveFile, s.rss = "cgroup v2", stat["inactive_file"], stat["anon"]
	if _, err := os.Stat(usage); err != nil {
		usage = filepath.Join(mem, "memory.usage_in_bytes")
		s.version, s.inactiveFile, s.rss = "cgroup v1", stat["total_inactive_file"], stat["total_rss"]
	}
	if s.usage, err = cgroup.ReadInt(usage); err != nil {
		return s, err
	}
	if s.pids, err = cgroup.ReadInt(filepath.Join(s.dirs["pids"], "pids.current")); err != nil {
		return s, err
	}
	cpu, err := cgroup.ReadKeyed(filepath.Join(s.dirs["cpu"], "cpu.stat"))
	if err != nil {
		return s, err
	}
	s.throttled = cpu["nr_throttled"]
	if u, ok := cpu["usage_usec"]; ok {
		s.cpuUsage = u
	} else if ns, err := cgroup.ReadInt(filepath.Join(s.dirs["cpu"], "cpuacct.usage")); err == nil {
		s.cpuUsage = ns / 1000 // cpu and cpuacct mounted together
	}
	return s, nil
}

// sampleUntilLoaded reads the cgroup every 0.7s for at least nine
// samples and until the script says it is loaded: on a slow machine (a
// VM without hardware virtualisation) holding 16 MiB at half a CPU takes
// longer than the 5.6s nine samples span. It gives up after a minute.
func sampleUntilLoaded(ctx context.Context, paths []string, out *syncBuffer) ([]cgroupStats, error) {
	var samples []cgroupStats
	start := time.Now()
	for i := 0; i < 9 || !strings.Contains(out.String(), "loaded:"); i++ {
		if i >= 86 {
			break // the check after this says what did not show
		}
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(700 * time.Millisecond):
			}
		}
		s, err := readCgroupStats(paths)
		if err != nil {
			return nil, err
		}
		s.at = time.Since(start)
		samples = append(samples, s)
	}
	return samples, nil
}

// shown is at most n of samples, evenly spaced, the first and last kept.
func shown(samples []cgroupStats, n int) []cgroupStats {
	if len(samples) <= n {
		return samples
	}
	out := make([]cgroupStats, 0, n)
	for i := range n {
		out = append(out, samples[i*(len(samples)-1)/(n-1)])
	}
	return out
}

// workingSet is cAdvisor's working set: usage minus inactive file pages.
func (s cgroupStats) workingSet() int64 { return max(s.usage-s.inactiveFile, 0) }

func (s cgroupStats) cpuTitle() string {
	if s.cpuUsage < 0 {
		return "throttled"
	}
	return "cpu, throttled"
}

func (s cgroupStats) cpuCell() string {
	if s.cpuUsage < 0 {
		return strconv.FormatInt(s.throttled, 10)
	}
	return fmt.Sprintf("%dms, %d", s.cpuUsage/1000, s.throttled)
}

// where names the sandbox's cgroup directory, with * for the controller
// on v1 (memory, pids, cpu).
func (s cgroupStats) where() string {
	if s.version == "cgroup v2" {
		return s.dirs["memory"]
	}
	return strings.Replace(s.dirs["memory"], "/memory/", "/*/", 1)
}

// files names the files one reading came from.
func (s cgroupStats) files() []string {
	if s.version == "cgroup v2" {
		return []string{"usage: memory.current", "wkset: memory.current minus", "  memory.stat inactive_file", "pids:  pids.current", "cpu:   cpu.stat usage_usec,", "       nr_throttled"}
	}
	return []string{"usage: memory/memory.usage_in_bytes", "wkset: usage minus memory/", "  memory.stat total_inactive_file", "pids:  pids/pids.current", "cpu:   cpu/cpu.stat nr_throttled"}
}

// sources are the files behind each of cAdvisor's metrics, in order.
func (s cgroupStats) sources() []string {
	if s.version == "cgroup v2" {
		return []string{"memory.current", "memory.current - memory.stat inactive_file", "memory.stat anon", "cpu.stat usage_usec", "cpu.stat nr_throttled", "pids.max / pids.current"}
	}
	return []string{"memory.usage_in_bytes", "memory.usage_in_bytes - memory.stat total_inactive_file", "memory.stat total_rss", "cpuacct.usage", "cpu.stat nr_throttled", "pids.max / pids.current"}
}

func mibs(b int64) string { return fmt.Sprintf("%.1fM", float64(b)/(1<<20)) }

// chattyScript writes to both streams, takes three seconds, and fails.
const chattyScript = `echo "starting"; echo "warning: no config file, using defaults" >&2
i=0; while [ $i -lt 3 ]; do i=$((i+1)); echo "request $i served"; sleep 1; done
echo "error: lost the database" >&2; exit 3`

func logsPart(ctx context.Context, sink event.Sink) error {
	prog, err := sandbox.LabProgram()
	if err != nil {
		return err
	}
	name := demoName("logs")
	defer func() { _ = os.Remove(sandbox.LogPath(name)) }()
	event.Narrate(sink, "2. Logs. A background sandbox has no terminal, so its stdout and stderr go to a file, as a pod's containers' do. Start one that talks on both streams for three seconds and then fails, exactly as you would:")
	run := []string{"run", "--detach", "--name", name, "--", "sh", "-c", chattyScript}
	if err := labCommand(ctx, sink, prog, run...); err != nil {
		return err
	}
	time.Sleep(1200 * time.Millisecond)
	early, err := labOutput(ctx, sink, prog, "logs", name)
	if err != nil {
		return err
	}
	if err := waitEnded(ctx, name, 15*time.Second); err != nil {
		return err
	}
	late, err := labOutput(ctx, sink, prog, "logs", name)
	if err != nil {
		return err
	}
	columns(sink, "kcna-lab logs "+name+" ("+sandbox.LogPath(name)+")",
		"while it runs", lines(early), "after it exited with 3", lines(late))
	if !strings.Contains(late, "lost the database") {
		return fmt.Errorf("the log of %s does not hold the last line the sandbox printed: %q", name, late)
	}

	event.Narrate(sink, "The log outlived the sandbox, which is how you learn why something died. On a Kubernetes node the runtime (containerd, CRI-O) writes each container's output to /var/log/pods/NAMESPACE_POD_UID/CONTAINER/N.log, N being the restart count, each line in the CRI format: time, stream, P (partial: the line was split) or F (full), text. kcna-lab now runs the same script with each stream going through that format:")
	cri := &criLog{}
	// The sandbox's start was shown in part 1; only a failure is news.
	failures := event.SinkFunc(func(e event.Event) {
		if e.Kind == event.KindStep && !e.OK() || e.Kind == event.KindWarning {
			sink.Emit(e)
		}
	})
	res, err := sandbox.Run(ctx, sandbox.Spec{Args: []string{"sh", "-c", chattyScript}, Stdout: cri.stream("stdout"), Stderr: cri.stream("stderr")}, failures)
	if err != nil {
		return err
	}
	cri.flush()
	var stamps, rest []string
	for _, l := range lines(cri.String()) {
		stamp, text, _ := strings.Cut(l, " ")
		stamps, rest = append(stamps, stamp), append(rest, text)
	}
	columns(sink, fmt.Sprintf("The same output in the CRI log format, one entry per line (the sandbox exited with %d)", res.ExitCode),
		"time (RFC 3339, UTC, ns)", stamps, "stream, P/F, text", rest)
	if len(stamps) != 6 {
		return fmt.Errorf("the CRI log has %d lines, want the script's 6: %q", len(stamps), cri.String())
	}
	event.Narrate(sink, "`kubectl logs POD -c CONTAINER` asks the API server, which asks that node's kubelet, which reads this file; `--previous` reads the one before the last restart (N-1). The kubelet rotates the files (10 MiB and 5 files per container by default, containerLogMaxSize and containerLogMaxFiles), and they go when the pod is deleted: to keep logs, a node agent such as Fluent Bit or the OpenTelemetry Collector (a DaemonSet) tails /var/log/pods and ships every line to a store.")
	return nil
}

// labCommand runs kcna-lab with args as the learner would, as one step.
func labCommand(ctx context.Context, sink event.Sink, prog string, args ...string) error {
	_, err := labOutput(ctx, sink, prog, args...)
	return err
}

// labOutput runs kcna-lab with args as one step and returns its stdout.
func labOutput(ctx context.Context, sink event.Sink, prog string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	err := event.Step(sink, "kcna-lab "+strings.Join(args[:min(len(args), 4)], " "), "sudo kcna-lab "+strings.Join(shellArgs(args), " "), func() error {
		cmd := exec.CommandContext(ctx, prog, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("kcna-lab %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
	return stdout.String(), err
}

func shellArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " '\"$;&|<>()\n") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return out
}

// waitEnded waits until the sandbox called name is no longer running.
func waitEnded(ctx context.Context, name string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		st, err := sandbox.Find(name)
		if err != nil || !st.Running() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sandbox %s still runs after %v", name, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// criLog writes two streams into one log in the CRI format that
// containerd and CRI-O write and the kubelet reads:
//
//	2026-01-02T15:04:05.123456789Z stdout F request 1 served
//
// A write that does not end a line is kept until the line ends; what is
// left at flush is written with the tag F, as containerd writes a last
// line without a newline: P marks only a line split at its buffer size.
type criLog struct {
	mu      sync.Mutex
	out     bytes.Buffer
	pending map[string][]byte
}

func (l *criLog) stream(name string) *criStream { return &criStream{l, name} }

type criStream struct {
	l    *criLog
	name string
}

func (s *criStream) Write(p []byte) (int, error) {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = map[string][]byte{}
	}
	buf := append(slices.Clone(l.pending[s.name]), p...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		l.line(s.name, "F", buf[:i])
		buf = buf[i+1:]
	}
	l.pending[s.name] = append([]byte(nil), buf...)
	return len(p), nil
}

func (l *criLog) line(stream, tag string, text []byte) {
	fmt.Fprintf(&l.out, "%s %s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, tag, text)
}

func (l *criLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, stream := range []string{"stdout", "stderr"} {
		if b := l.pending[stream]; len(b) > 0 {
			l.line(stream, "F", b)
			l.pending[stream] = nil
		}
	}
}

func (l *criLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.String()
}
