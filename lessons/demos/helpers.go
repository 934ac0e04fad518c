package demos

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// capture runs spec to its end and returns what it printed, so that a demo
// can set it beside the host's answer. Steps still reach sink.
func capture(ctx context.Context, spec sandbox.Spec, sink event.Sink) (string, sandbox.Result, error) {
	var out bytes.Buffer
	spec.Stdout, spec.Stderr = &out, &out
	res, err := sandbox.Run(ctx, spec, sink)
	return out.String(), res, err
}

// held starts a sandbox whose init only holds its namespaces, so a demo
// can look at it from both sides; stop ends it and removes everything,
// and may be called more than once.
func held(ctx context.Context, spec sandbox.Spec, sink event.Sink) (sb *sandbox.Sandbox, stop func(), err error) {
	spec.Hold = true
	spec.Args = nil
	sb, err = sandbox.Start(ctx, spec, sink)
	if err != nil {
		return nil, nil, err
	}
	return sb, sync.OnceFunc(func() {
		_ = sb.Signal(syscall.SIGTERM)
		_, _ = sb.Wait()
	}), nil
}

// inside runs a command in the named sandbox and returns its output lines.
func inside(ctx context.Context, name string, args ...string) ([]string, error) {
	out, res, err := sandbox.ExecOutput(ctx, name, args...)
	if err != nil {
		return nil, err
	}
	if res.ExitCode != 0 {
		return nil, fmt.Errorf("%s inside the sandbox exited with %d: %s", strings.Join(args, " "), res.ExitCode, strings.TrimSpace(out))
	}
	return lines(out), nil
}

// lines splits output into lines without the trailing empty one.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// hostProcesses lists the host's processes as "PID COMMAND", the first n
// of them and a count of the rest, read from /proc as ps does.
func hostProcesses(n int) ([]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list /proc: %w", err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	out := []string{"  PID COMMAND"}
	for i, pid := range pids {
		if i == n {
			out = append(out, fmt.Sprintf("  ... %d more (%d in all)", len(pids)-n, len(pids)))
			break
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		out = append(out, fmt.Sprintf("%5d %s", pid, strings.TrimSpace(string(comm))))
	}
	return out, nil
}

// readTrim reads a small file and trims it.
func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return strings.TrimSpace(string(b))
}

// statusField is one field of /proc/PID/status, e.g. "CapEff".
func statusField(pid, field string) (string, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("/proc/%s/status has no %s line", pid, field)
}

// demoName is a sandbox name unique to this process, for a demo's own
// named sandbox.
func demoName(prefix string) string { return fmt.Sprintf("%s-%d", prefix, os.Getpid()) }
