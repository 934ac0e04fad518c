package labhost

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Each student's user namespace maps IDsPerStudent ids starting at
// FirstID + slot*IDsPerStudent. The range is far above the 100000 that
// kcna-lab's own sandboxes use on a host, and wide enough for a lab's
// sandboxes to map their 65536 ids (from 100000) inside it.
const (
	FirstID       = 0x10000000
	IDsPerStudent = 4 * 65536
	// MaxSlots keeps every range below 2^32-1, the kernel's invalid id.
	MaxSlots = (1<<32 - 2 - FirstID) / IDsPerStudent
)

// Arg0 is the name the lab's init runs under; Init recognises it.
const Arg0 = "kcna-lab-labhost"

// ContentDir is where a lab sees the instructor's course, when the
// server has one (Config.Content).
const ContentDir = "/opt/kcna-lab/content"

// Config describes one student's lab.
type Config struct {
	// Name is the student's name, also the lab's hostname.
	Name string
	// Slot chooses the student's uid range; no two students share one.
	Slot int
	// Dir is the student's directory on the server: Dir/home is their
	// persistent home, Dir/root the mount point of the lab's root. Its
	// parents must be searchable by others (the lab's root user is
	// nobody on the host).
	Dir string
	// Bin holds the kcna-lab, kcna-lab-full and kcna-lab-init the lab runs.
	Bin string
	// Content, if not "", is a directory of lessons (kcna-lab --content)
	// the lab sees read-only at ContentDir; "" for the built-in course.
	Content string
	// Class, when set, is a server directory every lab sees read-only
	// at /opt/kcna-lab/class: what the instructor tells the class.
	Class string
	// Quota bounds the whole lab: every session and sandbox in it.
	Quota Quota
	// Log receives what the lab's init writes to its stderr (nil: dropped).
	Log io.Writer
}

// Quota is a student's share of the server.
type Quota struct {
	MemoryBytes int64
	Pids        int
	CPUs        float64
}

// HostID is the server's uid (and gid) for root in slot's lab.
func HostID(slot int) int { return FirstID + slot*IDsPerStudent }

// Lab is a running lab.
type Lab struct {
	cfg     Config
	cmd     *exec.Cmd
	ctrl    conn
	cgroups *cgroups
	journal *journal.Journal

	mu      sync.Mutex
	nextID  int
	waiting map[int]chan int // run id → its exit status, once
	done    chan struct{}    // closed when the init has gone
	stopped bool

	stopOnce sync.Once
	stopErr  error
}

// Start builds the lab and returns once its init serves.
func Start(cfg Config) (_ *Lab, err error) {
	if cfg.Slot < 0 || cfg.Slot >= MaxSlots {
		return nil, fmt.Errorf("lab slot %d is outside 0..%d", cfg.Slot, MaxSlots-1)
	}
	id := HostID(cfg.Slot)
	if err := prepareDirs(cfg, id); err != nil {
		return nil, err
	}
	j, err := journal.Create(sandbox.JournalDir(), fmt.Sprintf("lab-%s-%d", cfg.Name, time.Now().UnixNano()))
	if err != nil {
		return nil, fmt.Errorf("journal the lab of %s: %w", cfg.Name, err)
	}
	l := &Lab{cfg: cfg, journal: j, waiting: map[int]chan int{}, done: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = l.teardown()
		}
	}()
	if l.cgroups, err = makeCgroups(cfg.Name, cfg.Quota, id, j); err != nil {
		return nil, err
	}
	if err := l.startInit(id); err != nil {
		return nil, err
	}
	if err := l.configure(); err != nil {
		return nil, err
	}
	if err := l.cgroups.nest(l.cmd.Process.Pid); err != nil {
		return nil, err
	}
	go l.listen()
	return l, nil
}

// prepareDirs makes the student's directories, owned by the lab's root so
// that it can reach them, and checks that the path to them is open.
func prepareDirs(cfg Config, id int) error {
	for _, d := range []string{cfg.Dir, filepath.Join(cfg.Dir, "home"), filepath.Join(cfg.Dir, "root")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("make the lab directory %s: %w", d, err)
		}
		if err := os.Chown(d, id, id); err != nil {
			return fmt.Errorf("give %s to the lab's root (uid %d): %w", d, id, err)
		}
	}
	for _, d := range []string{filepath.Dir(cfg.Dir), cfg.Bin, cfg.Content} {
		if d == "" {
			continue
		}
		if err := Searchable(d); err != nil {
			return err
		}
	}
	return nil
}

// Searchable checks that everyone may pass through dir and its parents:
// the lab's root is an unprivileged user on the host. serve checks an
// instructor's course with it too, before any lab starts.
func Searchable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("check %s: %w", d, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not searchable by other users (mode %o), so the students' labs cannot reach %s: chmod o+x %s, or use a directory outside it (for the class, e.g. /var/lib/kcna-lab/class)", d, fi.Mode().Perm(), dir, d)
		}
		if d == "/" {
			return nil
		}
	}
}

// startInit starts the lab's first process in its new namespaces, placed
// in the student's cgroup before it runs anything.
func (l *Lab) startInit(id int) error {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socketpair for the lab of %s: %w", l.cfg.Name, err)
	}
	child := os.NewFile(uintptr(pair[1]), "lab-control-child")
	defer child.Close()
	if l.ctrl, err = newConn(os.NewFile(uintptr(pair[0]), "lab-control")); err != nil {
		return err
	}

	cmd := &exec.Cmd{
		Path:       filepath.Join(l.cfg.Bin, "kcna-lab"),
		Args:       []string{Arg0},
		Env:        []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		ExtraFiles: []*os.File{child}, // fd 3
		// Not the server's own stderr: the lab's root can take over its
		// init (ptrace, as root of the lab's user namespace), so what it
		// writes reaches the server's log only as plain text, line by
		// line, under the student's name.
		Stderr: &logLines{name: l.cfg.Name, log: l.cfg.Log},
		SysProcAttr: &syscall.SysProcAttr{
			// No CLONE_NEWCGROUP here: a cgroup namespace's root is its
			// creator's cgroup, and the server's is not the student's. The
			// second stage is cloned into one from inside the student's.
			Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID |
				unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: id, Size: IDsPerStudent}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: id, Size: IDsPerStudent}},
			GidMappingsEnableSetgroups: true,
			Credential:                 &syscall.Credential{Uid: 0, Gid: 0},
			// The lab must not outlive the server: a server killed with -9
			// takes every lab with it, and `kcna-lab clean` the cgroups.
			Pdeathsig: unix.SIGKILL,
		},
	}
	if fd := l.cgroups.v2fd(); fd >= 0 {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	}
	// The init's PID is known only once it runs, so it is journaled just
	// after; Pdeathsig covers a server that dies in between.
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the lab of %s: %w", l.cfg.Name, err)
	}
	l.cmd = cmd
	start, err := journal.ProcStartTime(cmd.Process.Pid)
	if err == nil {
		err = l.journal.Record(journal.Entry{Kind: journal.Process, PID: cmd.Process.Pid, StartTime: start})
	}
	if err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("journal the lab's init: %w", err)
	}
	return l.cgroups.placeV1(cmd.Process.Pid)
}

// configure sends the init what to build and waits until it has.
func (l *Lab) configure() error {
	cfg := &initConfig{
		Name: l.cfg.Name, Hostname: l.cfg.Name,
		Root: filepath.Join(l.cfg.Dir, "root"), Home: filepath.Join(l.cfg.Dir, "home"),
		Bin: l.cfg.Bin, Class: l.cfg.Class, CgroupV2: l.cgroups.delegated(), Controllers: l.cgroups.controllers,
		TmpSize: "512m", Content: l.cfg.Content,
	}
	if err := l.ctrl.send(message{Op: opConfig, Config: cfg}); err != nil {
		return err
	}
	ready := make(chan error, 1)
	go func() {
		m, fds, err := l.ctrl.recv()
		closeAll(fds)
		switch {
		case err != nil:
			ready <- fmt.Errorf("the lab's init stopped while building the lab: %w", err)
		case m.Op != opReady:
			ready <- fmt.Errorf("the lab's init answered %q, not %q", m.Op, opReady)
		case m.Error != "":
			ready <- fmt.Errorf("build the lab of %s: %s", l.cfg.Name, m.Error)
		default:
			ready <- nil
		}
	}()
	select {
	case err := <-ready:
		return err
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the lab of %s was not built within 30s", l.cfg.Name)
	}
}

// listen delivers exit statuses until the init goes.
func (l *Lab) listen() {
	defer func() {
		l.mu.Lock()
		for id, ch := range l.waiting {
			ch <- 255
			delete(l.waiting, id)
		}
		close(l.done)
		l.mu.Unlock()
	}()
	for {
		m, fds, err := l.ctrl.recv()
		closeAll(fds)
		if errors.Is(err, errBadMessage) {
			continue // the lab's init is the student's to tamper with
		}
		if err != nil {
			return
		}
		if m.Op != opExited {
			continue
		}
		l.mu.Lock()
		if ch, ok := l.waiting[m.ID]; ok {
			ch <- m.Status
			delete(l.waiting, m.ID)
		}
		l.mu.Unlock()
	}
}

// Job is a process to run in the lab.
type Job struct {
	Args []string
	Env  []string
	Dir  string
	// Stdio are the process's stdin, stdout and stderr. With TTY they are
	// one terminal (pass it three times), which becomes the process's
	// controlling terminal.
	Stdio [3]*os.File
	TTY   bool
}

// Proc is a process running in the lab.
type Proc struct {
	lab    *Lab
	id     int
	exited chan int
}

// Run starts job in the lab. Run only sends: a failure to start comes
// back as exit status 127, with the reason written to the job's stderr
// by the init.
func (l *Lab) Run(job Job) (*Proc, error) {
	l.mu.Lock()
	if l.stopped || l.gone() {
		l.mu.Unlock()
		return nil, errors.New("the lab has stopped")
	}
	l.nextID++
	p := &Proc{lab: l, id: l.nextID, exited: make(chan int, 1)}
	l.waiting[p.id] = p.exited
	l.mu.Unlock()
	m := message{Op: opRun, ID: p.id, Args: job.Args, Env: job.Env, Dir: job.Dir, TTY: job.TTY}
	if err := l.ctrl.send(m, job.Stdio[0], job.Stdio[1], job.Stdio[2]); err != nil {
		l.mu.Lock()
		delete(l.waiting, p.id)
		l.mu.Unlock()
		return nil, err
	}
	return p, nil
}

// Wait returns the process's exit status (128+N when killed by signal N),
// or 255 when the lab went first.
func (p *Proc) Wait() int {
	select {
	case st := <-p.exited:
		return st
	case <-p.lab.done:
		select {
		case st := <-p.exited:
			return st
		default:
			return 255
		}
	}
}

// gone reports whether the lab's init has ended.
func (l *Lab) gone() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process's whole process group.
func (p *Proc) Signal(sig unix.Signal) error {
	return p.lab.ctrl.send(message{Op: opSignal, ID: p.id, Signal: int(sig)})
}

// Done is closed when the lab's init has gone.
func (l *Lab) Done() <-chan struct{} { return l.done }

// InitPID is the lab's PID 1 (its second stage) as the server sees it.
func (l *Lab) InitPID() int {
	pid := l.cmd.Process.Pid
	// A child is listed under the thread that forked it, which in a Go
	// program can be any of its threads: read them all.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
			if child, err := strconv.Atoi(f[0]); err == nil {
				return child
			}
		}
	}
	return pid
}

// Stop ends every process in the lab, gives SIGTERM'd processes grace to
// save, then removes the lab's cgroups. Namespaces and the lab's mounts
// go with the init. Calls after the first wait for it and return its
// result.
func (l *Lab) Stop(grace time.Duration) error {
	l.stopOnce.Do(func() {
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		if grace > 0 {
			_ = l.ctrl.send(message{Op: opStop, Grace: int(grace / time.Millisecond)})
			select {
			case <-l.done:
			case <-time.After(grace + time.Second):
			}
		}
		l.stopErr = l.teardown()
	})
	return l.stopErr
}

// teardown kills the init (its namespace's processes die with it) and
// undoes the journal: the cgroups, emptied.
func (l *Lab) teardown() error {
	if l.ctrl.c != nil {
		_ = l.ctrl.close()
	}
	if l.cmd != nil && l.cmd.Process != nil {
		_ = l.cmd.Process.Kill()
		_ = l.cmd.Wait()
	}
	if l.cgroups != nil {
		l.cgroups.closeFD()
	}
	return l.journal.Rollback(sandbox.Undo)
}

// logLines passes a lab's stderr on as printable text: each line prefixed
// with the student's name, control characters (terminal escapes) dropped,
// at most 512 bytes a line.
type logLines struct {
	name string
	log  io.Writer
	mu   sync.Mutex
	line []byte
}

func (w *logLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range p {
		switch {
		case c == '\n':
			w.flush()
		case c < 0x20 || c == 0x7f:
		case len(w.line) < 512:
			w.line = append(w.line, c)
		}
	}
	return len(p), nil
}

func (w *logLines) flush() {
	if w.log != nil && len(w.line) > 0 {
		fmt.Fprintf(w.log, "%s's lab: %s\n", w.name, strings.ToValidUTF8(string(w.line), "?"))
	}
	w.line = w.line[:0]
}
