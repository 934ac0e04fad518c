package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestCompareProcesses is `make bench`'s whole-process comparison: it
// execs the built kcna-lab, unshare(1) and runc many times each, as a
// learner runs them (process start, package initialisation, the sandbox,
// exit), and prints each one's median and 95th percentile and the ratios
// to the targets: `kcna-lab run` within 1.5x unshare on the same busybox
// root, and --version, ps and lessons within 10 ms.
func TestCompareProcesses(t *testing.T) {
	if os.Getenv("KCNA_BENCH") != "1" {
		t.Skip("a benchmark: run with KCNA_BENCH=1 (make bench)")
	}
	dir := t.TempDir()
	lab := testbuild.Lab(t, dir)
	_, native := testbuild.Init(t, dir)     // beside kcna-lab, where it looks first
	t.Setenv("XDG_STATE_HOME", t.TempDir()) // a progress file of its own
	const n = 60
	fmt.Printf("whole processes, %d runs each after 3 warm-up runs: wall clock median, 95th\n"+
		"percentile and minimum, and median CPU time (user+system, with waited-for children):\n", n)

	var start stats // kcna-lab --version: the front's start, and nothing else
	for _, args := range [][]string{{"--version"}, {"ps"}, {"lessons"}, {"progress"}, {"glossary", "cgroup"}} {
		st := measure(t, n, lab, args...)
		if args[0] == "--version" {
			start = st
		}
		fmt.Printf("  kcna-lab %-10s %s   target <= 10 ms: %s\n", strings.Join(args, " "), st, verdict(st.median <= 10*time.Millisecond))
	}
	// What the front's hand-over to kcna-lab-full costs: the same command
	// through kcna-lab and run directly.
	full := filepath.Join(dir, "kcna-lab-full")
	for _, args := range [][]string{{"show", "01"}, {"exam", "--blueprint"}} {
		via := measure(t, n, lab, args...)
		direct := measure(t, n, full, args...)
		fmt.Printf("  kcna-lab %-10s %s   (kcna-lab-full directly: %s, hand-over +%.1f ms)\n", strings.Join(args, " "), via, direct.String(), msec(via.median-direct.median))
	}

	if os.Geteuid() != 0 {
		fmt.Println("  (not root: kcna-lab run, unshare and runc need root)")
		return
	}
	cache, err := sandbox.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := rootfs.Default(cache, 100000, 100000, event.Discard)
	if err != nil {
		t.Fatal(err)
	}
	kind := "native init"
	if !native {
		kind = "Go init: no C compiler here links statically"
	}
	ours := measure(t, n, lab, "run", "--isolate", "pid,uts,mnt,ipc,net", "--rootfs", root, "--", "/bin/true")
	theirs := measure(t, n, "unshare", "-fpmuin", "--mount-proc", "-R", root, "/bin/true")
	ratio := float64(ours.median) / float64(theirs.median)
	fmt.Printf("/bin/true in pid, uts, mnt, ipc and net namespaces on %s:\n", root)
	fmt.Printf("  kcna-lab run  %s   (%s)\n", ours, kind)
	fmt.Printf("  unshare       %s   kcna-lab/unshare = %.2fx, target <= 1.5x: %s\n", theirs, ratio, verdict(ratio <= 1.5))
	// What part of the gap no sandbox work could close: the front
	// starting (exec, Go's runtime, package initialisation) and exiting.
	fmt.Printf("  of which kcna-lab's own start and exit (--version): %.2f ms, %.2fx unshare's whole run;\n"+
		"  the sandbox itself: %.2f ms, %.2fx\n", msec(start.median), float64(start.median)/float64(theirs.median),
		msec(ours.median-start.median), float64(ours.median-start.median)/float64(theirs.median))
	runc, err := exec.LookPath("runc")
	if err != nil {
		fmt.Println("  runc          not installed (make bench installs it with apt-get)")
		return
	}
	bundle := runcBundle(t, runc, root)
	i := 0
	rc := measureCmd(t, n, func() *exec.Cmd {
		i++
		return exec.Command(runc, "run", "--bundle", bundle, fmt.Sprintf("kcna-bench-%d-%d", os.Getpid(), i))
	})
	fmt.Printf("  runc          %s   kcna-lab/runc = %.2fx\n", rc, float64(ours.median)/float64(rc.median))
}

// stats are one command's times: wall clock, and the CPU time (user and
// system) the kernel counted for it and the children it waited for, which
// other work on a shared machine disturbs less.
type stats struct{ median, p95, min, cpu time.Duration }

func (s stats) String() string {
	return fmt.Sprintf("%7.2f ms  p95 %7.2f  min %7.2f  cpu %6.2f", msec(s.median), msec(s.p95), msec(s.min), msec(s.cpu))
}

func msec(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// measure execs name args n times, its output discarded, and fails t if
// it does not exit 0.
func measure(t *testing.T, n int, name string, args ...string) stats {
	t.Helper()
	return measureCmd(t, n, func() *exec.Cmd { return exec.Command(name, args...) })
}

// measureCmd runs the command newCmd makes, n times, as measure does.
func measureCmd(t *testing.T, n int, newCmd func() *exec.Cmd) stats {
	t.Helper()
	var cpu []time.Duration
	st := measureFn(t, n, func() error {
		cmd := newCmd()
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, out)
		}
		cpu = append(cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
		return nil
	})
	cpu = cpu[3:] // as measureFn, without the warm-up runs
	slices.Sort(cpu)
	st.cpu = cpu[len(cpu)/2]
	return st
}

// measureFn runs fn n times after 3 warm-up runs and returns the wall
// clock times; cpu is left to the caller.
func measureFn(t *testing.T, n int, fn func() error) stats {
	t.Helper()
	var d []time.Duration
	for i := range n + 3 {
		start := time.Now()
		if err := fn(); err != nil {
			t.Fatal(err)
		}
		if i >= 3 { // the first runs warm the page cache
			d = append(d, time.Since(start))
		}
	}
	slices.Sort(d)
	return stats{median: d[len(d)/2], p95: d[len(d)*95/100], min: d[0]}
}

// runcBundle writes runc's default spec for /bin/true on root, without a
// terminal.
func runcBundle(t *testing.T, runc, root string) string {
	t.Helper()
	bundle := t.TempDir()
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v %s", err, out)
	}
	cfgPath := filepath.Join(bundle, "config.json")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(cfg), `"path": "rootfs"`, fmt.Sprintf("%q: %q", "path", root), 1)
	s = strings.Replace(s, `"terminal": true`, `"terminal": false`, 1)
	s = strings.Replace(s, `"sh"`, `"/bin/true"`, 1)
	if err := os.WriteFile(cfgPath, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return bundle
}
