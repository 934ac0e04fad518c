//go:build linux

package initproc

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
)

// supervisor is the init after the root is built: PID 1 of the sandbox.
// It starts the command, starts more processes on `exec` requests, reaps
// every child (orphans are re-parented to PID 1), forwards signals, and
// exits with the command's status, which ends the PID namespace.
type supervisor struct {
	plan *Plan
	rep  *reporter
	self *os.File

	// spawn carries fork requests to the one OS thread whose credentials
	// the sandbox's processes inherit (see spawner).
	spawn chan spawnRequest

	// forkCopy is set once the kernel has refused to share memory with
	// a child (forkExec).
	forkCopy bool

	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
	mainPID int
}

type spawnRequest struct {
	path   string
	args   []string
	env    []string
	files  []uintptr
	setsid bool
	// ctty makes the new session's stdin, a terminal of its own (the
	// pty that `exec -t` passes), its controlling terminal.
	ctty bool
	// wait receives the exit status; nil for none.
	wait  chan unix.WaitStatus
	reply chan spawnReply
}

type spawnReply struct {
	pid int
	err error
}

func newSupervisor(p *Plan, rep *reporter, self *os.File) *supervisor {
	return &supervisor{
		plan: p, rep: rep, self: self,
		spawn:   make(chan spawnRequest),
		waiters: map[int]chan unix.WaitStatus{},
	}
}

// serve runs the sandbox on the calling thread, which must be the main
// thread locked by lockMainThread, the one that ran the plan: time
// offsets can only be written for the thread group leader
// (/proc/self/timens_offsets), and namespaces for children, the
// capability bounding set and no_new_privs are per-thread. So this thread
// sets them all and does every fork; children inherit them from it.
//
// The command is forked right here, as soon as the sandbox is built:
// handing it to another goroutine first would cost thread hand-offs
// (GOMAXPROCS is 1 and this thread is locked), milliseconds on every
// sandbox's start.
func (s *supervisor) serve() int {
	s.rep.ready()
	s.rep.release()
	if s.plan.Hold {
		s.rep.say("The init holds the sandbox's namespaces and waits; `kcna-lab exec` starts processes in it.")
		go s.serveExec()
		return s.loop(s.watchSignals(), 0, nil)
	}
	path, args, code := s.command()
	if code != 0 {
		return code
	}
	main := make(chan unix.WaitStatus, 1)
	reply := make(chan spawnReply, 1)
	s.fork(spawnRequest{path: path, args: args, env: s.plan.Env, files: []uintptr{0, 1, 2}, wait: main, reply: reply})
	r := <-reply
	if r.err != nil {
		s.rep.fail(fmt.Sprintf("start %s: %v", args[0], r.err))
		if errors.Is(r.err, unix.ENOENT) {
			return 127
		}
		return 126
	}
	s.mu.Lock()
	s.mainPID = r.pid
	s.mu.Unlock()
	// Signals are watched only now, while the command already runs; a
	// child that ended before that is collected by the first reap.
	sigs := s.watchSignals()
	s.reap()
	go s.serveExec()
	return s.loop(sigs, r.pid, main)
}

// resume takes over a sandbox from the native init, which built it,
// started its command (pid) and then, when the first `exec` request
// arrived, executed this program in its own place: only the Go init
// serves those. The command runs on, still this process's child.
func (s *supervisor) resume(pid int) int {
	// Not dumpable now (runInit), PID 1 needs its guard no longer; the
	// processes it starts must not get it.
	if err := dropGuard(s.plan); err != nil {
		s.rep.fail(err.Error())
		return ExitFailed
	}
	main := make(chan unix.WaitStatus, 1)
	s.mu.Lock()
	s.mainPID = pid
	s.waiters[pid] = main
	s.mu.Unlock()
	sigs := s.watchSignals()
	s.reap() // the command may have ended while this program started
	go s.serveExec()
	return s.loop(sigs, pid, main)
}

// command is what the sandbox runs: the learner's command found in the
// sandbox's PATH, or this program as the chroot-escape tool. A non-zero
// code is the exit status for a command that cannot start.
func (s *supervisor) command() (path string, args []string, code int) {
	if s.plan.Escape {
		return fmt.Sprintf("/proc/self/fd/%d", s.self.Fd()), append([]string{escapeArg0}, s.plan.Args...), 0
	}
	p, err := lookPath(s.plan.Args[0], s.plan.Env)
	if err != nil {
		s.rep.fail(err.Error())
		return "", nil, 127
	}
	return p, s.plan.Args, 0
}

// watchSignals asks for the signals PID 1 handles: SIGCHLD to reap, the
// rest to pass on to the command.
func (s *supervisor) watchSignals() chan os.Signal {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, unix.SIGCHLD, unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	if s.plan.Tty {
		// The terminal sends ^C and ^\ to the whole foreground group, the
		// command included; forwarding them too would deliver them twice.
		signal.Ignore(unix.SIGTTOU, unix.SIGTTIN, unix.SIGTSTP)
	}
	return sigs
}

// loop is PID 1's life after the start: it forks for `exec`, reaps every
// child, passes signals on to the command (pid), and returns the
// command's exit status when main reports it. With no command (pid 0,
// main nil: Hold), it waits, like a pod's pause container, until it is
// told to stop.
func (s *supervisor) loop(sigs chan os.Signal, pid int, main chan unix.WaitStatus) int {
	for {
		select {
		case req := <-s.spawn:
			s.fork(req)
		case ws := <-main:
			r := ResultOf(ws)
			sig := 0
			if ws.Signaled() {
				sig = int(ws.Signal())
			}
			s.rep.exit(r.ExitCode, sig)
			return r.ExitCode
		case sig := <-sigs:
			switch {
			case sig == unix.SIGCHLD:
				s.reap()
			case pid == 0 && (sig == unix.SIGTERM || sig == unix.SIGINT || sig == unix.SIGHUP):
				s.rep.exit(0, 0)
				return 0
			case pid == 0 || s.plan.Tty && (sig == unix.SIGINT || sig == unix.SIGQUIT):
				// No command to pass it to, or the terminal sent it to
				// the command's group already.
			default:
				_ = unix.Kill(pid, sig.(syscall.Signal))
			}
		}
	}
}

// start asks the spawner thread to fork and exec a process.
func (s *supervisor) start(req spawnRequest) (int, error) {
	reply := make(chan spawnReply, 1)
	req.reply = reply
	s.spawn <- req
	r := <-reply
	return r.pid, r.err
}

func (s *supervisor) fork(req spawnRequest) {
	// A process started by `exec` gets a session of its own, so that a
	// signal meant for it reaches its whole group and nothing else.
	// The command of `shell` stays in the learner's terminal session,
	// where its shell finds the terminal for job control.
	s.mu.Lock() // hold off the reaper until the child is registered
	pid, err := s.forkExec(req)
	if err == nil && req.wait != nil {
		s.waiters[pid] = req.wait
	}
	s.mu.Unlock()
	req.reply <- spawnReply{pid: pid, err: err}
}

// forkExec starts the process as syscall.ForkExec does, sharing this
// process's memory until execve, which is cheapest. Before Linux 6.2 the
// kernel refuses that (EINVAL) once this thread has unshared a time
// namespace: from then on a copy of the memory is forked instead, which
// the kernel lets enter the namespace (see forkExecCopy).
func (s *supervisor) forkExec(req spawnRequest) (int, error) {
	if !s.forkCopy {
		attr := &syscall.ProcAttr{Env: req.env, Files: req.files, Sys: &syscall.SysProcAttr{Setsid: req.setsid, Setctty: req.ctty, Ctty: 0}}
		pid, err := syscall.ForkExec(req.path, req.args, attr)
		if !errors.Is(err, unix.EINVAL) || !s.plan.has(OpTimeNS) {
			return pid, err
		}
		s.forkCopy = true
	}
	return forkExecCopy(req.path, req.args, req.env, req.files, req.setsid, req.ctty)
}

// reap collects every exited child; orphans in the sandbox are
// re-parented to PID 1, so without this they would stay zombies.
func (s *supervisor) reap() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		s.mu.Lock()
		if w, ok := s.waiters[pid]; ok {
			delete(s.waiters, pid)
			w <- ws
		}
		s.mu.Unlock()
	}
}

// ResultOf converts a wait status to the shell's convention.
func ResultOf(ws unix.WaitStatus) event.Result {
	if ws.Signaled() {
		sig := ws.Signal()
		return event.Result{ExitCode: 128 + int(sig), Signal: unix.SignalName(sig)}
	}
	return event.Result{ExitCode: ws.ExitStatus()}
}

// Result is how the command ended, as an exit report says, with the
// signal named as ResultOf names it: the parent names it, for both inits.
func (r Report) Result() event.Result {
	res := event.Result{ExitCode: int(r.Code)}
	if r.Signal != 0 {
		res.Signal = unix.SignalName(syscall.Signal(r.Signal))
	}
	return res
}

// lookPath finds a command in the PATH of the sandbox's environment,
// inside the sandbox's root (this process already lives there).
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: command not found in the sandbox (PATH=%s)", name, path)
}
