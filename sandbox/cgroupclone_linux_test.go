//go:build linux

package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestInitIsBornInItsCgroup: with a cgroup v2 hierarchy (pure v2, or the
// unified one of a hybrid host), each init, Go and native, is cloned
// straight into the sandbox's v2 directory. The kernel must show it there
// from outside (/proc/PID/cgroup, the directory's cgroup.procs) and at
// the root of its cgroup namespace from inside ("0::/"), and nothing may
// have written its PID into that directory's cgroup.procs: a regression
// to the write shows as that step, a clone that missed the group as
// /proc/PID/cgroup.
func TestInitIsBornInItsCgroup(t *testing.T) {
	needRoot(t)
	v2 := v2Root(t)
	inits := map[string]string{"go": ""}
	if testbuild.Native() == nil {
		bin, native := testbuild.Init(t, sharedDir(t, "kcna-test-init-", 0o755))
		if native {
			inits["native"] = bin
		}
	}
	for kind, bin := range inits {
		t.Run(kind, func(t *testing.T) {
			leaveNoTrace(t)
			if bin != "" {
				t.Setenv(sandbox.InitProgramEnv, bin)
			} else {
				t.Setenv(sandbox.InitProgramEnv, "/proc/self/exe")
			}
			rec, sb := startCatCgroup(t, "kl-born-"+kind)
			dir := cloneDir(t, sb, v2)
			checkInGroup(t, sb.PID(), dir, v2, rec)
			var clone3 bool
			for _, e := range rec.Of(event.KindStep) {
				if strings.HasPrefix(e.Action, "clone3(") && strings.Contains(e.Action, "CLONE_INTO_CGROUP, cgroup="+dir+")") {
					clone3 = true
				}
				if strings.HasPrefix(e.Action, "write "+filepath.Join(dir, "cgroup.procs")) {
					t.Errorf("the init was moved into %s (%s), not cloned into it", dir, e.Action)
				}
			}
			if !clone3 {
				t.Errorf("no clone3(...CLONE_INTO_CGROUP, cgroup=%s) step among %v", dir, steps(rec))
			}
		})
	}
}

// TestCloneIntoFallsBackToAWrite: where the kernel refuses
// CLONE_INTO_CGROUP, the init is cloned plainly and moved in with a
// cgroup.procs write, which the trace shows. The refusal is real: the
// clone is handed a descriptor of /proc, which is no cgroup (EBADF), as a
// kernel before 5.7 or a seccomp filter would refuse the flag.
func TestCloneIntoFallsBackToAWrite(t *testing.T) {
	needRoot(t)
	v2 := v2Root(t)
	leaveNoTrace(t)
	notCgroup, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(notCgroup)
	defer sandbox.OnCloneInto(func(a *syscall.SysProcAttr) { a.CgroupFD = notCgroup })()

	rec, sb := startCatCgroup(t, "kl-born-fallback")
	dir := cloneDir(t, sb, v2)
	checkInGroup(t, sb.PID(), dir, v2, rec)
	var refused, wrote bool
	for _, e := range rec.Of(event.KindNarration) {
		refused = refused || strings.Contains(e.Text, "refused CLONE_INTO_CGROUP")
	}
	for _, e := range rec.Of(event.KindStep) {
		wrote = wrote || e.Action == "write "+filepath.Join(dir, "cgroup.procs")+" = "+strconv.Itoa(sb.PID())
	}
	if !refused || !wrote {
		t.Errorf("refusal narrated: %v, init moved in by a write: %v; steps %v", refused, wrote, steps(rec))
	}
}

// v2Root skips unless this host mounts a cgroup v2 hierarchy.
func v2Root(t *testing.T) string {
	t.Helper()
	h, err := cgroup.Detect()
	if err != nil || h.V2Root() == "" {
		t.Skipf("no cgroup v2 hierarchy to clone into (%v)", err)
	}
	return h.V2Root()
}

// startCatCgroup starts a sandbox whose command prints its own
// /proc/self/cgroup and then waits, and waits for the print.
func startCatCgroup(t *testing.T, name string) (*recorder, *sandbox.Sandbox) {
	t.Helper()
	rec := &recorder{}
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{
		Name: name, Args: []string{"sh", "-c", "cat /proc/self/cgroup; echo done; exec sleep 3600"},
	}, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopSandbox(sb) })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(rec.output(), "done\n") {
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox printed no cgroup: %q", rec.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return rec, sb
}

// cloneDir is the sandbox's directory in the v2 hierarchy.
func cloneDir(t *testing.T, sb *sandbox.Sandbox, v2 string) string {
	t.Helper()
	i := slices.IndexFunc(sb.Cgroups(), func(p string) bool { return strings.HasPrefix(p, v2+"/") })
	if i < 0 {
		t.Fatalf("no directory under %s among the sandbox's cgroups %v", v2, sb.Cgroups())
	}
	return sb.Cgroups()[i]
}

// checkInGroup checks, as the kernel reports it, that pid is in dir (its
// "0::" line, dir's cgroup.procs) and that its command saw the root of
// its cgroup namespace ("0::/").
func checkInGroup(t *testing.T, pid int, dir, v2 string, rec *recorder) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatal(err)
	}
	if want := "0::" + strings.TrimPrefix(dir, v2) + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("/proc/%d/cgroup lacks %q:\n%s", pid, want, b)
	}
	procs, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil || !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(pid)) {
		t.Errorf("%s/cgroup.procs = %q, %v; want the init %d in it", dir, procs, err, pid)
	}
	if !slices.Contains(strings.Split(rec.output(), "\n"), "0::/") {
		t.Errorf("inside, /proc/self/cgroup has no \"0::/\" (the sandbox's cgroup as its namespace's root):\n%s", rec.output())
	}
}

func steps(rec *recorder) []string {
	var out []string
	for _, e := range rec.Of(event.KindStep) {
		out = append(out, e.Action)
	}
	return out
}

// TestCloneIntoRefusalIsNarratedOnlyWhenItWasTheCgroups: an init that
// cannot run fails the clone into the cgroup with the same errno a
// refused CLONE_INTO_CGROUP gives (EACCES here). The plain clone then
// fails too, and the trace blames the init program, not the kernel's
// cgroup clone.
func TestCloneIntoRefusalIsNarratedOnlyWhenItWasTheCgroups(t *testing.T) {
	needRoot(t)
	v2Root(t)
	leaveNoTrace(t)
	bad := filepath.Join(t.TempDir(), "kcna-lab-init")
	if err := os.WriteFile(bad, []byte("not a program\n"), 0o644); err != nil { // no x bit: execve says EACCES
		t.Fatal(err)
	}
	t.Setenv(sandbox.InitProgramEnv, bad)
	rec := &recorder{}
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{Name: "kl-born-badinit", Args: []string{"true"}}, rec)
	if err == nil {
		stopSandbox(sb)
		t.Fatal("a sandbox started with an init that cannot run")
	}
	if !errors.Is(err, syscall.EACCES) && !strings.Contains(err.Error(), "permission denied") {
		t.Errorf("the error is not the init's exec failing: %v", err)
	}
	for _, e := range rec.Of(event.KindNarration) {
		if strings.Contains(e.Text, "refused CLONE_INTO_CGROUP") {
			t.Errorf("the trace blames the cgroup clone for the init's own failure: %q", e.Text)
		}
	}
}
