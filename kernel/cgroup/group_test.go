package cgroup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// recorder is a Sink that keeps every event.
type recorder struct{ event.Recorder }

// steps returns the Action of every step, in order.
func (r *recorder) steps() []string {
	var out []string
	for _, e := range r.Of(event.KindStep) {
		out = append(out, e.Action)
	}
	return out
}

// kernelHost skips unless the test runs as root on a host with the given
// controllers, and returns the detected Host.
func kernelHost(t *testing.T, ctls ...string) *Host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	h, err := Detect()
	if err != nil {
		t.Skipf("no cgroups: %v", err)
	}
	for _, c := range ctls {
		if _, ok := h.Controllers()[c]; !ok {
			t.Skipf("controller %s is not available (%s host)", c, h.Mode())
		}
	}
	return h
}

// testName is unique to this test binary and test, so that concurrent runs
// elsewhere on the host do not collide with it.
func testName(t *testing.T) string {
	return fmt.Sprintf("kcna-test-%d-%s", os.Getpid(), strings.ToLower(strings.TrimPrefix(t.Name(), "Test")))
}

// create makes a group for t and, at cleanup, destroys it and checks that no
// directory of this test binary is left under any hierarchy's kcna-lab.
func create(t *testing.T, h *Host, lim Limits, sink event.Sink) (*Group, *journal.Journal) {
	t.Helper()
	j, err := journal.Create(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkLeftovers(t) })
	g, err := h.Create(testName(t), lim, j, sink)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Destroy(event.Discard); err != nil {
			t.Errorf("Destroy: %v", err)
		}
	})
	return g, j
}

func checkLeftovers(t *testing.T) {
	t.Helper()
	prefix := fmt.Sprintf("kcna-test-%d-", os.Getpid())
	for _, pattern := range []string{Root + "/kcna-lab/" + prefix + "*", Root + "/*/kcna-lab/" + prefix + "*"} {
		left, _ := filepath.Glob(pattern)
		for _, d := range left {
			t.Errorf("left behind: %s", d)
		}
	}
}

// gated starts `sh -c script` whose script begins by reading a line, so the
// test can Add it to a group before it does anything. It returns the command,
// the pipe to release it, and a channel delivering Wait's result: the child
// is reaped as soon as it exits, so it never lingers as a zombie.
func gated(t *testing.T, script string) (*exec.Cmd, io.WriteCloser, chan error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "read x; "+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		if err != nil && stderr.Len() > 0 {
			err = fmt.Errorf("%w; stderr: %s", err, stderr.String())
		}
		done <- err
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	return cmd, in, done
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestCreateWritesLimits(t *testing.T) {
	h := kernelHost(t, "memory", "cpu", "pids")
	rec := &recorder{}
	g, j := create(t, h, Limits{MemoryBytes: 64 << 20, CPUs: 0.5, Pids: 20}, rec)

	journaled := map[string]bool{}
	for _, e := range j.Entries() {
		if e.Kind == journal.Cgroup {
			journaled[e.Path] = true
		}
	}
	for _, p := range g.Paths() {
		if !journaled[p] {
			t.Errorf("%s was not journaled", p)
		}
		if !strings.HasSuffix(p, "/kcna-lab/"+testName(t)) {
			t.Errorf("path %s is not <hierarchy>/kcna-lab/<name>", p)
		}
	}

	want := map[string]string{} // file → value the kernel should report
	mem, _ := g.dirFor("memory")
	cpu, _ := g.dirFor("cpu")
	pids, _ := g.dirFor("pids")
	if mem.version == V1 {
		want[filepath.Join(mem.path, "memory.limit_in_bytes")] = "67108864"
		if exists(filepath.Join(mem.path, "memory.memsw.limit_in_bytes")) {
			want[filepath.Join(mem.path, "memory.memsw.limit_in_bytes")] = "67108864"
		}
	} else {
		want[filepath.Join(mem.path, "memory.max")] = "67108864"
		if exists(filepath.Join(mem.path, "memory.swap.max")) {
			want[filepath.Join(mem.path, "memory.swap.max")] = "0"
		}
	}
	if cpu.version == V1 {
		want[filepath.Join(cpu.path, "cpu.cfs_period_us")] = "100000"
		want[filepath.Join(cpu.path, "cpu.cfs_quota_us")] = "50000"
	} else {
		want[filepath.Join(cpu.path, "cpu.max")] = "50000 100000"
	}
	want[filepath.Join(pids.path, "pids.max")] = "20"

	for _, e := range rec.Events() {
		t.Logf("%s: %s | %s %s", e.Kind, e.Text, e.Shell, e.Err)
	}
	steps := rec.steps()
	for file, v := range want {
		if got := readFile(t, file); got != v {
			t.Errorf("%s = %q, want %q", file, got, v)
		}
		if action := "write " + file + " = " + v; !slices.Contains(steps, action) {
			t.Errorf("no step %q in %q", action, steps)
		}
	}
	for _, m := range g.Sample() {
		switch m.Name {
		case "memory.current", "memory.usage_in_bytes":
			if m.Limit != 64<<20 || m.Unit != "bytes" {
				t.Errorf("memory sample %+v", m)
			}
		case "pids.current":
			if m.Limit != 20 || m.Value != 0 || m.Unit != "count" {
				t.Errorf("pids sample %+v", m)
			}
		}
	}
	if n := len(g.Sample()); n != 2 {
		t.Errorf("Sample() gave %d metrics, want 2", n)
	}
	if n, err := g.OOMKills(); err != nil || n != 0 {
		t.Errorf("OOMKills() = %d, %v; want 0", n, err)
	}
}

// TestCreateWithoutLimits: on pure v1 or v2 an unlimited group still has
// memory and pids to sample; on a hybrid host it has only its unified
// directory, and says why there is no number instead of showing none.
func TestCreateWithoutLimits(t *testing.T) {
	h := kernelHost(t, "memory", "pids")
	g, _ := create(t, h, Limits{}, nil)
	if h.hybrid() {
		if len(g.Paths()) != 1 || g.CloneDir() == "" || !isFS(filepath.Dir(filepath.Dir(g.CloneDir())), cgroup2Magic) {
			t.Errorf("an unlimited group on a hybrid host has %v; want only its directory in the unified hierarchy", g.Paths())
		}
		if why := strings.Join(g.Unsampled(), "\n"); !strings.Contains(why, "no memory cgroup") || !strings.Contains(why, "no pids cgroup") {
			t.Errorf("Unsampled() = %q; want why memory and pids have no number", why)
		}
		if m := g.Sample(); len(m) != 0 {
			t.Errorf("Sample() = %+v without memory or pids cgroups", m)
		}
		return
	}
	if _, ok := g.dirFor("memory"); !ok {
		t.Error("no memory directory, needed for sampling")
	}
	if _, ok := g.dirFor("pids"); !ok {
		t.Error("no pids directory, needed for sampling")
	}
	if why := g.Unsampled(); len(why) != 0 {
		t.Errorf("Unsampled() = %q with memory and pids directories", why)
	}
	for _, m := range g.Sample() {
		if m.Limit != 0 {
			t.Errorf("%s: limit %d without a limit set, want 0", m.Name, m.Limit)
		}
	}
}

func TestCreateRejects(t *testing.T) {
	h := kernelHost(t)
	j, err := journal.Create(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"user.slice", "kcna-a/b", "kcna-lab", ""} {
		if _, err := h.Create(name, Limits{}, j, nil); err == nil {
			t.Errorf("Create(%q) succeeded", name)
		}
	}
	if _, err := h.Create(testName(t), Limits{}, nil, nil); err == nil {
		t.Error("Create without a journal succeeded")
	}
	if _, err := h.Create(testName(t), Limits{CPUs: 0.0001}, j, nil); err == nil {
		t.Error("Create with a too-small cpu limit succeeded")
	}
	if len(j.Entries()) != 0 {
		t.Errorf("rejected creates journaled %v", j.Entries())
	}
	checkLeftovers(t)
}

func TestCreateRefusesExisting(t *testing.T) {
	h := kernelHost(t, "memory")
	create(t, h, Limits{}, nil)
	j, err := journal.Create(t.TempDir(), "again")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Create(testName(t), Limits{}, j, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second Create = %v, want already exists", err)
	}
	if len(j.Entries()) != 0 {
		t.Errorf("refused create journaled %v; undoing it would remove the first group", j.Entries())
	}
}

func TestAddMovesProcess(t *testing.T) {
	h := kernelHost(t, "memory", "pids")
	g, _ := create(t, h, Limits{Pids: 10}, nil)
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	pid := cmd.Process.Pid

	rec := &recorder{}
	if err := g.Add(pid, rec); err != nil {
		t.Fatal(err)
	}
	if got, want := len(rec.steps()), len(g.Paths()); got != want {
		t.Errorf("Add emitted %d steps, want one per directory (%d)", got, want)
	}
	self := readFile(t, fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, c := range []string{"memory", "pids"} {
		d, ok := g.dirFor(c)
		if !ok && h.hybrid() && c == "memory" {
			continue // unlimited on a hybrid host: no memory directory
		}
		want := "/kcna-lab/" + g.Name()
		found := false
		for line := range strings.Lines(self) {
			f := strings.SplitN(strings.TrimSpace(line), ":", 3)
			if len(f) == 3 && f[2] == want && (d.version == V2 && f[0] == "0" || slices.Contains(strings.Split(f[1], ","), c)) {
				found = true
			}
		}
		if !found {
			t.Errorf("/proc/%d/cgroup does not put %s at %s:\n%s", pid, c, want, self)
		}
	}
	if d := g.CloneDir(); d != "" && !strings.Contains(self+"\n", "0::/kcna-lab/"+g.Name()+"\n") {
		t.Errorf("/proc/%d/cgroup does not put it in the unified directory %s:\n%s", pid, d, self)
	}
	procs, err := g.Procs()
	if err != nil || !slices.Equal(procs, []int{pid}) {
		t.Errorf("Procs() = %v, %v; want [%d]", procs, err, pid)
	}

	// Destroy kills what is left, then removes every directory.
	rec = &recorder{}
	if err := g.Destroy(rec); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Errorf("sleep ended with %v, want SIGKILL", err)
		}
		done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("sleep still runs after Destroy")
	}
	for _, p := range g.Paths() {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Destroy: %v", p, err)
		}
	}
	steps := strings.Join(rec.steps(), "\n")
	if !strings.Contains(steps, "rmdir ") || (!strings.Contains(steps, "SIGKILL") && !strings.Contains(steps, "cgroup.kill")) {
		t.Errorf("Destroy steps do not show the kill and rmdir:\n%s", steps)
	}
	if err := g.Destroy(nil); err != nil {
		t.Errorf("second Destroy = %v, want nil", err)
	}
}

func TestOOMKill(t *testing.T) {
	h := kernelHost(t, "memory")
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	g, _ := create(t, h, Limits{MemoryBytes: 32 << 20}, nil)
	// b"x" * n writes every byte, so the pages are really used.
	cmd, in, done := gated(t, "exec "+python+` -c 'b = b"x" * (200 << 20)'`)
	if err := g.Add(cmd.Process.Pid, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
		done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("the memory hog was not stopped within 20s")
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("hog ended with %v, want SIGKILL from the OOM killer", err)
	}
	n, err := g.OOMKills()
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Errorf("OOMKills() = %d, want >= 1", n)
	}
}

func TestPidsLimit(t *testing.T) {
	h := kernelHost(t, "pids")
	g, _ := create(t, h, Limits{Pids: 10}, nil)
	cmd, in, done := gated(t, `i=0; while [ $i -lt 50 ]; do sleep 5 >/dev/null 2>&1 & i=$((i+1)); done; echo started`)
	if err := g.Add(cmd.Process.Pid, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-done:
		done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("the fork loop did not finish within 20s")
	}
	t.Logf("fork loop: %v", err)
	d, _ := g.dirFor("pids")
	ev, rerr := ReadKeyed(filepath.Join(d.path, "pids.events"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if ev["max"] < 1 {
		t.Errorf("pids.events max = %d, want fork failures", ev["max"])
	}
	for _, m := range g.Sample() {
		if m.Name == "pids.current" && (m.Value > 10 || m.Limit != 10) {
			t.Errorf("pids sample %+v, want at most 10 of 10", m)
		}
	}
	// The limit is the group's, not the host's.
	if err := exec.Command("true").Run(); err != nil {
		t.Errorf("the host cannot fork: %v", err)
	}
}

func TestCPUThrottle(t *testing.T) {
	h := kernelHost(t, "cpu")
	g, _ := create(t, h, Limits{CPUs: 0.1}, nil)
	cmd, in, done := gated(t, `exec timeout 0.6 /bin/sh -c 'while :; do :; done'`)
	if err := g.Add(cmd.Process.Pid, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(in, "go\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
	case <-time.After(20 * time.Second):
		t.Fatal("the busy loop did not end within 20s")
	}
	st, err := g.CPUStat()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cpu.stat %v", st)
	if st["nr_throttled"] < 1 || st["throttled_usec"] < 1 {
		t.Errorf("cpu.stat %v: want nr_throttled and throttled_usec > 0", st)
	}
}

func TestRemoveDir(t *testing.T) {
	h := kernelHost(t, "memory", "pids")
	g, _ := create(t, h, Limits{MemoryBytes: 64 << 20}, nil)
	cmd, _, done := gated(t, "")
	if err := g.Add(cmd.Process.Pid, nil); err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Paths() {
		if err := Remove(p); err != nil {
			t.Fatalf("Remove(%s): %v", p, err)
		}
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists: %v", p, err)
		}
		if err := Remove(p); err != nil {
			t.Errorf("second Remove(%s) = %v, want nil", p, err)
		}
	}
	select {
	case err := <-done:
		done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("process survived Remove")
	}
	if err := Remove(filepath.Join(filepath.Dir(g.Paths()[0]), "kcna-test-"+strconv.Itoa(os.Getpid())+"-missing")); err != nil {
		t.Errorf("Remove(missing) = %v, want nil", err)
	}
}

// TestRemoveV2Kill exercises the v2 path of removal (cgroup.kill) on a real
// cgroup2 hierarchy, even on a hybrid host whose v2 side has no controllers.
func TestRemoveV2Kill(t *testing.T) {
	h := kernelHost(t)
	if h.v2 == "" {
		t.Skip("no cgroup2 hierarchy")
	}
	t.Cleanup(func() { checkLeftovers(t) })
	path := filepath.Join(h.v2, parentName, testName(t))
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Remove(path) })
	if !exists(filepath.Join(path, "cgroup.kill")) {
		t.Skip("kernel has no cgroup.kill (Linux < 5.14)")
	}
	g := &Group{name: testName(t), dirs: []dir{{path: path, version: V2}}, ctl: map[string]int{}}
	cmd, _, done := gated(t, "")
	if err := g.Add(cmd.Process.Pid, nil); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if err := g.Destroy(rec); err != nil {
		t.Fatal(err)
	}
	want := []string{"write " + path + "/cgroup.kill = 1", "rmdir " + path}
	if got := rec.steps(); !slices.Equal(got, want) {
		t.Errorf("steps = %q, want %q", got, want)
	}
	select {
	case err := <-done:
		done <- err
	case <-time.After(5 * time.Second):
		t.Fatal("process survived cgroup.kill")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still exists: %v", path, err)
	}
}

// TestCloneIntoOnKernel: a process started with CloneInto's attributes is
// in the group as soon as it exists, with no write to cgroup.procs (no
// step is emitted and none is made); one started without them is not.
func TestCloneIntoOnKernel(t *testing.T) {
	h := kernelHost(t)
	if h.V2Root() == "" {
		t.Skip("no cgroup v2 hierarchy: CLONE_INTO_CGROUP takes only v2 directories")
	}
	rec := &recorder{}
	g, _ := create(t, h, Limits{}, nil)
	dir := g.CloneDir()
	if dir == "" {
		t.Fatalf("a group on a %s host has no v2 directory: %v", h.Mode(), g.Paths())
	}
	start := func(into bool) int {
		cmd := exec.Command("sleep", "30")
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		if into {
			got, done, err := g.CloneInto(cmd.SysProcAttr)
			if err != nil || got != dir {
				t.Fatalf("CloneInto = %q, %v; want %s", got, err, dir)
			}
			defer done()
		}
		if err := cmd.Start(); err != nil {
			if into && CloneRefused(err) {
				t.Skipf("this kernel refuses CLONE_INTO_CGROUP: %v", err)
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd.Process.Pid
	}
	plain, born := start(false), start(true)
	want := "0::" + strings.TrimPrefix(dir, h.V2Root()) + "\n"
	if self := readFile(t, fmt.Sprintf("/proc/%d/cgroup", born)) + "\n"; !strings.Contains(self, want) {
		t.Errorf("/proc/%d/cgroup of the process cloned into %s lacks %q:\n%s", born, dir, want, self)
	}
	if self := readFile(t, fmt.Sprintf("/proc/%d/cgroup", plain)) + "\n"; strings.Contains(self, want) {
		t.Errorf("a process started without CloneInto is in %s too; the test proves nothing", dir)
	}
	pids, err := readProcs(dir)
	if err != nil || !slices.Equal(pids, []int{born}) {
		t.Errorf("%s/cgroup.procs = %v, %v; want only %d", dir, pids, err, born)
	}
	if len(rec.steps()) != 0 {
		t.Errorf("steps %v; cloning into a group writes nothing", rec.steps())
	}
}

func TestCloneRefused(t *testing.T) {
	for _, err := range []error{syscall.ENOSYS, syscall.EINVAL, syscall.E2BIG, syscall.EBADF, syscall.EACCES, syscall.EPERM,
		&os.PathError{Op: "fork/exec", Path: "/x", Err: syscall.ENOSYS}} {
		if !CloneRefused(err) {
			t.Errorf("CloneRefused(%v) = false", err)
		}
	}
	for _, err := range []error{nil, syscall.ENOENT, syscall.ENOMEM, errors.New("other")} {
		if CloneRefused(err) {
			t.Errorf("CloneRefused(%v) = true", err)
		}
	}
}
