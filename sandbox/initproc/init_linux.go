//go:build linux

package initproc

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
)

// Main plays the role this program was started for, by the name in
// argv[0]: a sandbox's init, or the chroot-escape program. Call it first
// in main (sandbox.Init does, for kcna-lab and for tests, where the
// running binary is the init). In either role it never returns; started
// under any other name, it returns at once.
func Main() {
	switch filepath.Base(os.Args[0]) {
	case Arg0:
		if len(os.Args) == 2 && os.Args[1] == KindArg {
			fmt.Println("go") // the native init answers before this runs
			os.Exit(0)
		}
		os.Exit(runInit())
	case escapeArg0:
		os.Exit(runEscape(os.Args[1:]))
	case escapeTool:
		// Run by a learner inside a chroot-mode sandbox: after the climb,
		// a shell in whatever root it reached.
		os.Exit(runEscapeShell())
	}
}

// runInit is the sandbox's first process. It already lives in the new
// namespaces (the parent cloned it so) and in its cgroup (the parent put
// it there before sending the config). It builds the root filesystem from
// inside, then starts the command and stays as its PID 1.
func runInit() int {
	// The parent passed FDConfig..FDExec, and kcna-lab's own caller maybe
	// more, without close-on-exec, and fork+exec in Go closes nothing by
	// itself: the sandbox's processes would otherwise hold the host's
	// event pipe (and could forge events), the exec socket (and could
	// take `exec` requests meant for the init) and whatever else leaked
	// in. runc does the same (CloseExecFrom).
	closeOnExecFrom(FDConfig)
	defaultIgnoredSignals()
	reserveThreads()
	// Not dumpable, before anything: processes in the sandbox can then
	// not open /proc/1/fd or /proc/1/exe, the kcna-lab binary on the host
	// (runc's CVE-2019-5736). Every execve, resume's too, makes the new
	// image dumpable again.
	dumpErr := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	// Set-up reports are held back and sent in one write just before the
	// command starts: a pipe write per step, each waking the parent, cost
	// more than the steps themselves.
	rep := &reporter{f: os.NewFile(FDEvents, "events"), held: true}
	fail := func(err error) int {
		rep.fail(err.Error())
		rep.release()
		return ExitFailed
	}
	if dumpErr != nil {
		return fail(fmt.Errorf("prctl(PR_SET_DUMPABLE, 0): %w", dumpErr))
	}
	plan, err := readPlan()
	if err != nil {
		if mismatch := (*MismatchError)(nil); errors.As(err, &mismatch) && mismatch.Theirs < firstReportProtocol {
			// A parent from before reports reads only events in JSON.
			b, _ := event.Event{Kind: event.KindResult, Err: err.Error()}.MarshalJSONLine()
			rep.buf = append(rep.buf, b...)
		}
		return fail(err)
	}
	if len(os.Args) == 3 && os.Args[1] == ResumeArg {
		// The native init built the sandbox and reported it ready.
		pid, err := strconv.Atoi(os.Args[2])
		if err != nil {
			return fail(fmt.Errorf("resume: command pid %q: %w", os.Args[2], err))
		}
		rep.release()
		return newSupervisor(plan, rep, nil).resume(pid)
	}

	// Kept open for the chroot-escape program, which is this binary:
	// O_PATH, which needs no right to read it.
	var self *os.File
	if plan.Escape {
		fd, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fail(fmt.Errorf("open /proc/self/exe: %w", err))
		}
		self = os.NewFile(uintptr(fd), "/proc/self/exe")
	}
	if err := runPlan(plan, rep); err != nil {
		return fail(err)
	}
	return newSupervisor(plan, rep, self).serve()
}

// defaultIgnoredSignals puts back to their default the signals this
// process came with ignored and Go's runtime leaves so: SIGHUP and SIGINT
// (`nohup kcna-lab run ...`), and signal 32 (33 in a cgo build), which
// the C library uses and Go never handles. An ignored signal stays
// ignored across execve, and syscall.ForkExec resets only the signals Go
// handles, so the sandbox's commands would inherit them from whatever
// started kcna-lab (make did: TestBothInitsCarryOutEveryOp saw SigIgn
// 80000000 under the Go init only). The native init and forkExecCopy
// reset every signal in the child; this is the same for ForkExec's. A
// signal Go handles reads as its handler, not SIG_IGN, and is left be.
// (A default disposition is no risk to PID 1: the kernel delivers to a
// PID namespace's init only the signals it has a handler for.)
func defaultIgnoredSignals() {
	dfl := kernelSigaction{} // SIG_DFL
	for sig := uintptr(1); sig <= 64; sig++ {
		if sig == uintptr(unix.SIGKILL) || sig == uintptr(unix.SIGSTOP) {
			continue
		}
		var old kernelSigaction
		if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
			continue
		}
		if old.handler == 1 { // SIG_IGN
			_, _, _ = unix.RawSyscall6(unix.SYS_RT_SIGACTION, sig, uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
		}
	}
}

// spareThreads is how many idle OS threads the init keeps beyond the
// ones Go's runtime starts with. The init's goroutines are few and seldom
// block outside the network poller (a pipe write to a parent that reads
// slowly, an exec request's set-up), so this many are never all busy.
const spareThreads = 4

// reserveThreads makes the OS threads this init will ever need now,
// before its command starts (moving a process into a cgroup is not
// refused for its pids, so it does not matter whether the parent has
// moved this one yet). pids.max counts threads,
// and Go's runtime cannot go on when it is refused one: were the command
// to fill the pids limit (a fork bomb), a thread the init asked for later
// would kill PID 1 and with it the sandbox. The runtime keeps idle threads
// for reuse and never ends them, so threads made now are there later.
//
// Each goroutine below, locked to a thread and blocked, holds that thread
// until all of them are; the scheduler must start a new thread for each.
// Only once every one has unlocked and ended are their threads idle, for
// the runtime to take instead of making new ones.
func reserveThreads() {
	// os/signal's first Notify starts a goroutine locked to a thread of
	// its own and one that waits for signals in the kernel, holding
	// another: start both now. SIGURG is the runtime's own preemption
	// signal, which a Notify leaves working.
	signal.Notify(make(chan os.Signal, 1), unix.SIGURG)
	var locked, release, done sync.WaitGroup
	locked.Add(spareThreads)
	done.Add(spareThreads)
	release.Add(1)
	for range spareThreads {
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			locked.Done()
			release.Wait()
			runtime.UnlockOSThread()
		}()
	}
	locked.Wait()
	release.Done()
	done.Wait()
}

// readPlan reads the parent's plan. All of it is read, so that the
// parent's write never meets a closed pipe.
func readPlan() (*Plan, error) {
	f := os.NewFile(FDConfig, "config")
	b, err := io.ReadAll(f)
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("read the sandbox plan from the parent: %w", err)
	}
	p, err := UnmarshalPlan(b)
	if err != nil {
		exe, _ := os.Executable()
		return nil, fmt.Errorf("the sandbox init %s cannot read the plan kcna-lab sent: %w; rebuild both with `make build`, or remove it to let kcna-lab act as its own init", exe, err)
	}
	return p, nil
}

// closeOnExecFrom marks every descriptor from first on close-on-exec.
func closeOnExecFrom(first int) {
	if unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	// Before Linux 5.11: one by one, as /proc lists them.
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= first {
			unix.CloseOnExec(fd)
		}
	}
}

// lockMainThread keeps a sandbox init's main goroutine on the process's
// main thread (LockOSThread in an init function does that), which serve
// needs. Other processes are unaffected.
func init() {
	if filepath.Base(os.Args[0]) == Arg0 {
		runtime.LockOSThread()
	}
}

// reporter writes the init's reports to the parent, a line each. While
// held it gathers them; release sends what it has and ends holding.
type reporter struct {
	mu   sync.Mutex
	f    *os.File
	held bool
	buf  []byte
}

func (r *reporter) send(rep Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held {
		r.buf = rep.AppendLine(r.buf)
		return
	}
	_, _ = r.f.Write(rep.AppendLine(nil))
}

// step runs fn as event part of the plan's step op and reports it with
// its time and error; it returns fn's error unchanged.
func (r *reporter) step(op, part int, fn func() error) error {
	start := time.Now()
	err := fn()
	rep := Report{Kind: ReportStep, Op: int64(op), Part: int64(part), Took: time.Since(start)}
	if err != nil {
		rep.Text = err.Error()
	}
	r.send(rep)
	return err
}

func (r *reporter) narrate(op int)   { r.send(Report{Kind: ReportNarrate, Op: int64(op)}) }
func (r *reporter) say(text string)  { r.send(Report{Kind: ReportSay, Text: text}) }
func (r *reporter) ready()           { r.send(Report{Kind: ReportReady}) }
func (r *reporter) fail(text string) { r.send(Report{Kind: ReportFail, Text: text}) }
func (r *reporter) exit(code, sig int) {
	r.send(Report{Kind: ReportExit, Code: int64(code), Signal: int64(sig)})
}

// release sends the held reports and lets later ones through at once.
func (r *reporter) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) > 0 {
		_, _ = r.f.Write(r.buf)
	}
	r.buf, r.held = nil, false
}
