package demos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// MaxCheckOutput is how much of a check command's output is kept to test:
// a check inspects, and what it prints past this is read and dropped, so
// a command that floods cannot fill the learner's memory.
const MaxCheckOutput = 64 << 10

// ChallengeCheck is the check of a challenge: the checks its lesson file
// gives, or else the one built in under its id. Load refuses a challenge
// that has both, so neither hides the other.
func (r *Registry) ChallengeCheck(ch lessons.Challenge) (Check, bool) {
	if len(ch.Checks) > 0 {
		return Declared(ch), true
	}
	return r.Check(ch.ID)
}

// Declared is the check of a challenge whose lesson file writes its
// checks (lessons.Check): each must hold, in order, and the first that
// does not gives the verdict its message and what it found. Nothing runs
// until Verify is called: reading or showing a lesson never runs a check.
func Declared(ch lessons.Challenge) Check {
	ks := ch.Checks
	return Check{ID: ch.ID, Verify: func(ctx context.Context) (Verdict, error) {
		var held []string
		for i, k := range ks {
			found, ok, err := runCheck(ctx, k)
			if err != nil {
				return Verdict{}, fmt.Errorf("check %d of %d (%s:%d): %w", i+1, len(ks), k.Source, k.Line, err)
			}
			if !ok {
				return Verdict{Detail: fmt.Sprintf("%s (%s)", k.Message, found)}, nil
			}
			held = append(held, found)
		}
		return Verdict{Passed: true, Detail: strings.Join(held, "; ")}, nil
	}}
}

// runCheck runs one check and says what it found, whether the check
// holds, or why it could not be run at all.
func runCheck(ctx context.Context, k lessons.Check) (found string, ok bool, err error) {
	var root *sandbox.State
	if !k.OnHost() {
		st, err := sandbox.Find(k.In)
		if errors.Is(err, sandbox.ErrNotRunning) || err == nil && !st.Running() {
			return fmt.Sprintf("no sandbox called %s is running; `kcna-lab ps` lists those that are", k.In), false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("look for sandbox %s: %w (a sandbox started with sudo is root's: check it with sudo too)", k.In, err)
		}
		root = &st
	}
	var said []string
	if k.File != "" {
		found, ok, err := checkFile(k, root)
		if err != nil || !ok {
			return found, ok, err
		}
		said = append(said, found)
	}
	if len(k.Run) > 0 {
		found, ok, err := checkRun(ctx, k)
		if err != nil || !ok {
			return found, ok, err
		}
		said = append(said, found)
	}
	return strings.Join(said, ", and "), true, nil
}

// checkRun runs the check's command where it says, bounded in time and
// output, and tests its exit status and output.
func checkRun(ctx context.Context, k lessons.Check) (string, bool, error) {
	runCtx, cancel := context.WithTimeoutCause(ctx, k.Timeout, errCheckTimeout)
	defer cancel()
	cmd := lessons.QuoteArgs(k.Run)
	var (
		r   ran
		err error
	)
	if k.OnHost() {
		r, err = runOnHost(runCtx, k.Run)
	} else {
		r, err = runInSandbox(runCtx, k.In, k.Run)
	}
	if r.cut {
		// Only the check's own deadline is the check's fault; a caller
		// that gave up (the TUI's budget, Ctrl-C) is not.
		if cause := context.Cause(runCtx); !errors.Is(cause, errCheckTimeout) {
			return "", false, fmt.Errorf("`%s` %s was stopped before it finished: %w", cmd, k.Where(), cause)
		}
		return fmt.Sprintf("%s: `%s` did not finish within %s", k.Where(), cmd, k.Timeout), false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("run `%s` %s: %w", cmd, k.Where(), err)
	}
	out, code := r.out, r.code
	what := fmt.Sprintf("%s: `%s` exited %d", k.Where(), cmd, code)
	printed := "printed nothing"
	if s := strings.TrimSpace(out); s != "" {
		printed = "printed " + quoteShort(s, 200)
		if r.truncated {
			printed += fmt.Sprintf(" (output cut at %d KiB)", MaxCheckOutput>>10)
		}
	}
	switch {
	case code != k.Exit:
		return fmt.Sprintf("%s and %s; it must exit %d", what, printed, k.Exit), false, nil
	case k.Contains != "" && !strings.Contains(out, k.Contains):
		return fmt.Sprintf("%s and %s, which does not contain %q", what, printed, k.Contains), false, nil
	}
	var m string // what output-matches matched
	if k.Matches != "" {
		re, err := regexp.Compile(k.Matches)
		if err != nil {
			return "", false, fmt.Errorf("output-matches: %w", err) // validated when read; a cache from another build?
		}
		if !re.MatchString(out) {
			return fmt.Sprintf("%s and %s, which does not match %s", what, printed, k.Matches), false, nil
		}
		m = re.FindString(out)
	}
	if k.Contains != "" {
		what += fmt.Sprintf(", its output contains %q", k.Contains)
	}
	if k.Matches != "" {
		what += fmt.Sprintf(", its output matches %s (%s)", k.Matches, quoteShort(strings.TrimSpace(m), 80))
	}
	if k.Contains == "" && k.Matches == "" && strings.TrimSpace(out) != "" {
		what += " and printed " + quoteShort(strings.TrimSpace(out), 80)
	}
	return what, true, nil
}

// errCheckTimeout is the cause of a check's context when the check's own
// timeout: ran out, told apart from its caller's giving up.
var errCheckTimeout = errors.New("the check's timeout ran out")

// quoteShort quotes what a command printed, the quoted text (escapes
// and all: a NUL is four characters) cut at a character's end once it
// would pass max bytes.
func quoteShort(s string, max int) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		_, w := utf8.DecodeRuneInString(s[i:])
		q := strconv.Quote(s[i : i+w])
		q = q[1 : len(q)-1]
		if b.Len()-1+len(q) > max {
			b.WriteString(`"...`)
			return b.String()
		}
		b.WriteString(q)
		i += w
	}
	b.WriteByte('"')
	return b.String()
}

// ran is what running a check's command gave: its output (stdout and
// stderr together, at most MaxCheckOutput), its exit status, and whether
// its context ended it before it exited.
type ran struct {
	out       string
	truncated bool
	code      int
	cut       bool
}

// outputGrace is how long a command's output is still read once it has
// exited. What it wrote is in the pipe already; only a process it left
// behind (`sleep 20 &`) can keep the pipe open longer, and the check
// does not wait for that.
const outputGrace = 500 * time.Millisecond

// runOnHost runs argv on the learner's machine (their lab, on a workshop
// server), in a process group of its own: a timeout ends whatever it
// started too, and so does its exiting, since a check that leaves
// processes behind would keep them running after it.
func runOnHost(ctx context.Context, argv []string) (ran, error) {
	c, err := newCheckOutput()
	if err != nil {
		return ran{}, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// An *os.File is handed to the command as it is: Wait returns when
	// the command exits, not when every holder of the pipe has closed it
	// (and there is no WaitDelay to expire, exec.ErrWaitDelay).
	cmd.Stdout, cmd.Stderr = c.w, c.w
	if err := cmd.Start(); err != nil {
		c.finish(0)
		return ran{}, err
	}
	err = cmd.Wait()
	r := ran{cut: ctx.Err() != nil}
	// Its group outlives it while anything it started runs: end that.
	// The group's id stays reserved while it has a member, so this
	// reaches no other process.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	r.out, r.truncated = c.finish(outputGrace)
	if cmd.ProcessState == nil {
		return r, err
	}
	r.code = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.code = 128 + int(ws.Signal()) // killed by a signal, as the shell reports it
	}
	return r, nil
}

// runInSandbox runs argv inside the running sandbox name the way `kcna-lab
// exec` does (sandbox.Exec: its init forks it in all its namespaces),
// keeping at most MaxCheckOutput of its output.
func runInSandbox(ctx context.Context, name string, argv []string) (ran, error) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		return ran{}, err
	}
	defer null.Close()
	c, err := newCheckOutput()
	if err != nil {
		return ran{}, err
	}
	res, err := sandbox.Exec(ctx, name, argv, null, c.w, c.w, false)
	r := ran{code: res.ExitCode, cut: ctx.Err() != nil}
	r.out, r.truncated = c.finish(outputGrace)
	return r, err
}

// checkOutput collects a command's output through a pipe whose write
// end the command is given, keeping at most MaxCheckOutput of it.
type checkOutput struct {
	r, w *os.File
	buf  boundedBuffer
	done chan struct{}
}

func newCheckOutput() (*checkOutput, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("a pipe for the output: %w", err)
	}
	c := &checkOutput{r: r, w: w, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_, _ = io.Copy(&c.buf, r)
	}()
	return c, nil
}

// finish is called once the command has exited: it closes this side's
// write end and reads what is left, to the end or for grace at most,
// since a process the command left behind may hold the pipe open for as
// long as it runs.
func (c *checkOutput) finish(grace time.Duration) (out string, truncated bool) {
	_ = c.w.Close()
	_ = c.r.SetReadDeadline(time.Now().Add(grace))
	<-c.done
	_ = c.r.Close()
	c.buf.mu.Lock()
	defer c.buf.mu.Unlock()
	return string(c.buf.b), c.buf.truncated
}

// boundedBuffer keeps the first MaxCheckOutput bytes written to it and
// accepts (and drops) the rest, so the writer never blocks on it.
type boundedBuffer struct {
	mu        sync.Mutex
	b         []byte
	truncated bool
}

func (w *boundedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	room := MaxCheckOutput - len(w.b)
	if len(p) > room {
		w.truncated = true
		w.b = append(w.b, p[:max(room, 0)]...)
	} else {
		w.b = append(w.b, p...)
	}
	return len(p), nil
}

// checkFile tests the check's file as seen where it runs: on the host, or
// inside a sandbox's root (through its init's /proc/PID/root, its
// symlinks resolved within it), with the owner as that side numbers it.
func checkFile(k lessons.Check, in *sandbox.State) (string, bool, error) {
	var (
		st  unix.Stat_t
		err error
	)
	if in == nil {
		err = unix.Stat(k.File, &st)
	} else {
		err = statInside(in.InitPID, k.File, &st)
	}
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return fmt.Sprintf("%s: there is no %s", k.Where(), k.File), false, nil
		}
		return "", false, fmt.Errorf("look at %s %s: %w", k.File, k.Where(), err)
	}
	uid := st.Uid
	passwd := func() ([]byte, error) { return os.ReadFile("/etc/passwd") }
	if in != nil {
		uid = uidInside(in.InitPID, st.Uid)
		passwd = func() ([]byte, error) { return readInside(in.InitPID, "/etc/passwd") }
	}
	mode := st.Mode & 0o7777
	what := fmt.Sprintf("%s: %s exists, owner uid %d, mode %04o", k.Where(), k.File, uid, mode)
	if k.Owner != "" {
		want, err := wantUID(k.Owner, passwd)
		if err != nil {
			return fmt.Sprintf("%s; the owner it must have, %s, %v", what, k.Owner, err), false, nil
		}
		if uid != want {
			return fmt.Sprintf("%s; it must belong to %s (uid %d)", what, k.Owner, want), false, nil
		}
	}
	if k.ModeSet && mode != k.Mode {
		return fmt.Sprintf("%s; its mode must be %04o", what, k.Mode), false, nil
	}
	return what, true, nil
}

// statInside stats path inside the root of the process pid, resolving
// it, its ".." and its symlinks within that root as the sandbox's own
// processes would.
func statInside(pid int, path string, st *unix.Stat_t) error {
	fd, err := openInside(pid, path, unix.O_PATH)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fstat(fd, st)
}

// readInside reads the file path inside the root of the process pid, as
// statInside finds it.
func readInside(pid int, path string) ([]byte, error) {
	fd, err := openInside(pid, path, unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 1<<20))
}

// openInside opens path inside the root of the process pid with
// openat2's RESOLVE_IN_ROOT (Linux 5.6): its ".." and absolute symlinks
// stay within that root. The older way, a path through /proc/PID/root,
// does not: a ".." climbs out of it and an absolute link means the
// host's file, so a kernel without openat2 is told it needs one.
func openInside(pid int, path string, flags int) (int, error) {
	root := filepath.Join("/proc", strconv.Itoa(pid), "root")
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dir)
	how := &unix.OpenHow{Flags: uint64(flags) | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT}
	for tries := 0; ; tries++ {
		fd, err := unix.Openat2(dir, path, how)
		switch {
		case errors.Is(err, unix.ENOSYS):
			return -1, fmt.Errorf("looking inside a sandbox's root needs openat2, in Linux 5.6 and later: this kernel has none (uname -r says which it is)")
		case errors.Is(err, unix.EAGAIN) && tries < 10:
			// A rename or mount inside the root raced the lookup:
			// RESOLVE_IN_ROOT asks for a retry rather than guess.
			continue
		}
		return fd, err
	}
}

// uidInside turns a uid as this process sees it into the uid the
// process pid's user namespace gives it, by its uid_map; an unmapped one
// is the overflow uid, as the kernel shows it inside.
func uidInside(pid int, uid uint32) uint32 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/uid_map", pid))
	if err != nil {
		return uid
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var inside, outside, count uint32
		if _, err := fmt.Sscan(sc.Text(), &inside, &outside, &count); err == nil && uid >= outside && uid-outside < count {
			return inside + (uid - outside)
		}
	}
	return 65534
}

// wantUID reads owner: a uid as digits, or a user name looked up in
// the passwd file of the side the check runs on, which passwd reads.
func wantUID(owner string, passwd func() ([]byte, error)) (uint32, error) {
	if n, err := strconv.ParseUint(owner, 10, 32); err == nil {
		return uint32(n), nil
	}
	b, err := passwd()
	if err != nil {
		return 0, fmt.Errorf("cannot be looked up: %w", err)
	}
	for _, line := range lines(string(b)) {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[0] == owner {
			if n, err := strconv.ParseUint(f[2], 10, 32); err == nil {
				return uint32(n), nil
			}
		}
	}
	return 0, fmt.Errorf("is no user in its /etc/passwd")
}
