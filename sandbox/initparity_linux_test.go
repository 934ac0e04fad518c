//go:build linux

package sandbox_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// goOnly are the steps the native init does not take, by design, and
// why: a plan with one is never marked native (initproc.BuildPlan), so
// the Go init takes it. Every other step must be taken in parityCases.
var goOnly = map[string]string{
	"escape_tool": "the chroot lesson's escape program is the Go init's alone: it binds the running Go program",
}

// parityProbe prints, from inside, what the kernel shows of the sandbox,
// then waits so that the host can read the command's namespaces. All on
// stdout: stderr is another pipe, whose lines may arrive out of order.
const parityProbe = `exec 2>&1
for f in mountinfo status cgroup; do echo "== $f"; cat /proc/self/$f; done
echo "== hostname"; hostname
echo "== cwd"; pwd
echo "== lo"; cat /sys/class/net/lo/flags
echo "== uptime"; cut -d. -f1 /proc/uptime
echo "== resolv.conf"; cat /etc/resolv.conf
echo "== volume"; ls /data; touch /data/new
echo "== end"; exec sleep 600`

// parityCases between them take every step but goOnly's, each in a plan
// the native init may run (no terminal, not held, no pids limit).
func parityCases(vol string) []struct {
	name string
	spec sandbox.Spec
} {
	args := []string{"sh", "-c", parityProbe}
	return []struct {
		name string
		spec sandbox.Spec
	}{
		{"pivot, every namespace, a volume, a bridge", sandbox.Spec{
			Name: "kl-parity", Args: args, Dir: "/work/here", CapDrop: []string{"NET_RAW"},
			Volumes: []sandbox.Volume{{Host: vol, Target: "/data", ReadOnly: true}},
			Net:     &sandbox.Net{Bridge: testBridge, Subnet: testSubnet},
		}},
		// No user namespace: root inside is the host's, and the plan
		// narrates why CAP_MKNOD goes too.
		{"chroot over an overlay, no user namespace", sandbox.Spec{
			Name: "kl-parity", Args: args, Root: sandbox.RootChroot, Overlay: true,
			Isolate: slices.DeleteFunc(sandbox.DefaultIsolation(), func(n sandbox.Namespace) bool { return n == sandbox.NSUser }),
		}},
	}
}

// TestBothInitsCarryOutEveryOp runs every step of the plan through both
// inits, the Go init (kcna-lab-init-go) and the native one, with the
// same specs, and compares what the kernel shows of each sandbox from
// inside (the mount table, the command's status: capabilities,
// no_new_privs, seccomp, signals; its cgroup, hostname, working
// directory, loopback, clocks, resolver file, volume) and from the host
// (which namespaces the command shares with the host), and what each
// init's reports narrate. It fails when a step is taken by neither, so a
// new step needs a case here or a reason in goOnly.
func TestBothInitsCarryOutEveryOp(t *testing.T) {
	needRoot(t)
	if err := testbuild.Native(); err != nil {
		t.Skip(err)
	}
	leaveNoTrace(t)
	nativeBin, native := testbuild.Init(t, sharedDir(t, "kcna-test-init-", 0o755))
	if !native {
		t.Fatalf("%s has no native init", nativeBin)
	}
	t.Setenv(testbuild.NativeEnv, "0")
	goBin, native := testbuild.Init(t, sharedDir(t, "kcna-test-init-go-", 0o755))
	if native {
		t.Fatalf("%s has the native init; want the Go init alone", goBin)
	}

	// Started with signal 32 ignored, as make passes it on, and SIGHUP,
	// as nohup does: an ignored signal survives execve, and each init
	// must give the command every signal at its default all the same.
	ignoreSignal(t, 32)
	// SIGHUP through os/signal: Go handles it, and a raw SIG_IGN would be
	// undone in every child Go's runtime forks.
	signal.Ignore(syscall.SIGHUP)
	defer signal.Reset(syscall.SIGHUP)

	var mu sync.Mutex
	var plans []*initproc.Plan
	defer sandbox.OnPlan(func(p *initproc.Plan) {
		mu.Lock()
		defer mu.Unlock()
		plans = append(plans, p)
	})()
	taken := map[initproc.OpKind]bool{}
	vol := hostDir(t)
	if err := os.WriteFile(filepath.Join(vol, "from-host"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range parityCases(vol) {
		t.Run(c.name, func(t *testing.T) {
			seen := map[string]string{}
			for _, in := range []struct{ kind, bin string }{{"go", goBin}, {"native", nativeBin}} {
				t.Setenv(sandbox.InitProgramEnv, in.bin)
				mu.Lock()
				plans = nil
				mu.Unlock()
				view, rec := kernelView(t, c.spec, in.kind == "native")
				// Not only the same: none ignored, as a fresh process has it.
				if !strings.Contains(view, "SigIgn: 0000000000000000\n") {
					t.Errorf("%s init: the command came with signals ignored:\n%s", in.kind, view)
				}
				mu.Lock()
				if len(plans) != 1 || !plans[0].Native {
					t.Fatalf("%s init: want one plan the native init may run, got %d (%+v)", in.kind, len(plans), plans)
				}
				seen[in.kind] = view + narration(rec, plans[0])
				for _, op := range plans[0].Ops {
					taken[op.Kind] = true
				}
				mu.Unlock()
			}
			if seen["go"] != seen["native"] {
				t.Errorf("the kernel shows the two inits' sandboxes differently:\n%s", lineDiff(seen["go"], seen["native"]))
			}
		})
	}

	for name := range goOnly {
		if !slices.ContainsFunc(initproc.OpKinds(), func(k initproc.OpKind) bool { return k.String() == name }) {
			t.Errorf("goOnly names %q, which is no step", name)
		}
	}
	for _, k := range initproc.OpKinds() {
		why, excused := goOnly[k.String()]
		switch {
		case excused && taken[k]:
			t.Errorf("step %s, which goOnly says the native init never takes (%s), was in a native plan", k, why)
		case !excused && !taken[k]:
			t.Errorf("step %s was taken by neither init here: add a case that takes it to parityCases, or say in goOnly why the native init cannot", k)
		}
	}
}

// ignoreSignal sets sig's disposition to SIG_IGN in this process, which
// the sandboxes' inits inherit, until the test ends. The raw system call:
// signal 32 is the C library's, which Go's runtime never handles and
// os/signal does not offer.
func ignoreSignal(t *testing.T, sig uintptr) {
	t.Helper()
	type sigaction struct {
		handler, flags, restorer uintptr
		mask                     uint64
	}
	ign, old := sigaction{handler: 1}, sigaction{} // SIG_IGN
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&ign)), uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		t.Fatalf("rt_sigaction(%d, SIG_IGN): %v", sig, e)
	}
	t.Cleanup(func() {
		_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	})
}

// kernelView starts spec, checks which init runs it (the native init is
// one thread, the Go runtime several) and returns what the kernel shows
// of it, with what differs from run to run (mount ids, device numbers,
// host PIDs, uptime) taken out, and the events of its start.
func kernelView(t *testing.T, spec sandbox.Spec, native bool) (string, *recorder) {
	t.Helper()
	rec := &recorder{}
	sb, err := sandbox.Start(context.Background(), spec, rec)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	defer stopSandbox(sb)
	waitFor(t, "the probe", func() bool { return strings.Contains(rec.output(), "== end\n") })
	pid := sb.PID()
	if n := threads(t, pid); native != (n == 1) {
		t.Fatalf("native=%v, but PID 1 runs %d threads: the wrong init ran the plan", native, n)
	}
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	cmd, _ := strconv.Atoi(strings.TrimSpace(string(children)))
	if err != nil || cmd == 0 {
		t.Fatalf("the command's PID from /proc/%d/task/%d/children: %q, %v", pid, pid, children, err)
	}
	var ns strings.Builder
	ns.WriteString("== namespaces\n")
	for _, n := range sandbox.AllNamespaces {
		host, err := os.Readlink("/proc/self/ns/" + string(n))
		if err != nil {
			continue // not on this kernel
		}
		own, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", cmd, n))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&ns, "%s own=%v\n", n, own != host)
	}
	return normalize(t, rec.output()) + ns.String(), rec
}

// narration is what the learner reads of the init's work: each event in
// the words of a step of plan, in order, with the clocks' offsets taken
// out. The native init's joining of the time namespace, which the Go
// init cannot do (native.c, join_time), is in no step's words: it is
// left out.
func narration(rec *recorder, plan *initproc.Plan) string {
	words := map[string]bool{}
	for _, op := range plan.Ops {
		words[op.Action], words[op.AltAction], words[op.Text] = true, true, true
	}
	delete(words, "")
	offsets := regexp.MustCompile(`(--boottime|--monotonic) -?[0-9]+`)
	var b strings.Builder
	b.WriteString("== narration\n")
	for _, e := range rec.Events() {
		switch {
		case e.Kind == event.KindStep && words[e.Action]:
			fmt.Fprintf(&b, "%s  $ %s  error=%q\n", e.Action, offsets.ReplaceAllString(e.Shell, "$1 N"), e.Err)
		case e.Kind == event.KindNarration && words[e.Text]:
			b.WriteString("# " + e.Text + "\n")
		}
	}
	return b.String()
}

// statusFields are the lines of /proc/PID/status both inits must leave
// the same; the rest are host PIDs, memory and counters.
// (Not NSpid: the Go runtime's threads take PIDs of the sandbox's
// namespace, so the same process has a higher one under the Go init.)
var statusFields = []string{"Umask", "Uid", "Gid", "Groups", "SigBlk", "SigIgn", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters"}

func normalize(t *testing.T, out string) string {
	t.Helper()
	var b strings.Builder
	section := ""
	for _, line := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(line, "== "); ok {
			section = s
			b.WriteString(line + "\n")
			continue
		}
		switch section {
		case "mountinfo":
			// id parent major:minor root point options [tags] - type source super
			f := strings.Fields(line)
			if len(f) < 7 {
				continue
			}
			for i := 6; i < len(f) && f[i] != "-"; i++ {
				f[i], _, _ = strings.Cut(f[i], ":") // shared:N, master:N
			}
			b.WriteString(strings.Join(f[3:], " ") + "\n")
		case "status":
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimSpace(value)
			if slices.Contains(statusFields, name) {
				b.WriteString(name + ": " + value + "\n")
			}
		case "uptime":
			if line == "" {
				continue
			}
			secs, err := strconv.Atoi(line)
			if err != nil {
				t.Fatalf("uptime %q: %v", line, err)
			}
			// A new time namespace starts near zero; the host's has run longer.
			fmt.Fprintf(&b, "under a minute: %v\n", time.Duration(secs)*time.Second < time.Minute)
		default:
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// lineDiff shows the lines of a and b that the other lacks.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var d strings.Builder
	for _, l := range al {
		if !slices.Contains(bl, l) {
			d.WriteString("- go:     " + l + "\n")
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			d.WriteString("+ native: " + l + "\n")
		}
	}
	if d.Len() == 0 {
		return "(the same lines in another order)\n--- go:\n" + a + "\n--- native:\n" + b
	}
	return d.String()
}
