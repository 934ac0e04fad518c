package labhost

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Init runs the lab's init when this process was started as one (argv[0]
// is Arg0) and never returns then; otherwise it returns at once. Call it
// first thing in main.
//
// A lab starts in two stages. The first (the process the server starts,
// in a user namespace of its own) builds the lab's root and pivots into
// it; the second, its child in a further user namespace with its own
// mount, PID, network, IPC and UTS namespaces, is the lab's PID 1. The
// kernel locks the mounts a less privileged user namespace inherits, so
// root in the lab cannot remount /usr, /etc or kcna-lab's programs
// read-write: they were made read-only one user namespace up.
func Init() {
	if filepath.Base(os.Args[0]) != Arg0 {
		return
	}
	// The server's socket must not reach the lab's processes: exec
	// clears close-on-exec for inherited files, so set it again.
	unix.CloseOnExec(3)
	c, err := newConn(os.NewFile(3, "lab-control"))
	if err == nil {
		if cfgJSON := os.Getenv(stageEnv); cfgJSON != "" {
			err = serveLab(c, cfgJSON)
		} else {
			err = mountLab(c)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kcna-lab lab init:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// stageEnv carries the config from the first stage to the second, which
// it also marks.
const stageEnv = "KCNA_LAB_STAGE_CONFIG"

// mountLab is the first stage: it reads the config, builds the root,
// starts the second stage in it, hands it the socket, and lives as long
// as it does.
func mountLab(c conn) error {
	m, fds, err := c.recv()
	closeAll(fds)
	if err != nil {
		return err
	}
	if m.Op != opConfig || m.Config == nil {
		return fmt.Errorf("expected the lab's config first, got %q", m.Op)
	}
	child, err := startSecondStage(c, m.Config)
	if err != nil {
		_ = c.send(message{Op: opReady, Error: err.Error()})
		return err
	}
	_ = c.close() // the second stage has its own copy
	if err := child.Wait(); err != nil {
		return fmt.Errorf("the lab ended: %w", err)
	}
	return nil
}

// startSecondStage builds the root, pivots into it and starts the lab's PID 1.
func startSecondStage(c conn, cfg *initConfig) (*exec.Cmd, error) {
	if err := buildRoot(cfg); err != nil {
		return nil, err
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	sock, err := c.c.File()
	if err != nil {
		return nil, fmt.Errorf("pass the lab's socket on: %w", err)
	}
	defer sock.Close()
	ids := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: IDsPerStudent}}
	cmd := &exec.Cmd{
		Path:       "/opt/kcna-lab/bin/kcna-lab",
		Args:       []string{Arg0},
		Env:        []string{stageEnv + "=" + string(cfgJSON), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		ExtraFiles: []*os.File{sock}, // fd 3
		Stderr:     os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			// The cgroup namespace too, made at clone so that all of PID
			// 1's threads are in it (unshare would move only the calling
			// thread). Its root is this stage's cgroup, the student's: the
			// server put this stage there before sending the config.
			Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID |
				unix.CLONE_NEWNET | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWCGROUP,
			UidMappings: ids, GidMappings: ids, GidMappingsEnableSetgroups: true,
			Credential: &syscall.Credential{Uid: 0, Gid: 0},
			Pdeathsig:  unix.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the lab's first process: %w", err)
	}
	return cmd, nil
}

// serveLab is the second stage, the lab's PID 1: it finishes the lab,
// says it is ready, then runs what the server asks until the server goes.
func serveLab(c conn, cfgJSON string) error {
	var cfg initConfig
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		return fmt.Errorf("the lab's config: %w", err)
	}
	if err := build(&cfg); err != nil {
		_ = c.send(message{Op: opReady, Error: err.Error()})
		return err
	}
	if err := c.send(message{Op: opReady}); err != nil {
		return err
	}
	r := &runner{c: c, byPID: map[int]int{}}
	go r.reap()
	for {
		m, fds, err := c.recv()
		if errors.Is(err, errBadMessage) {
			continue
		}
		if err != nil {
			// The server is gone or stopping the lab: everything in it
			// ends with this process, PID 1.
			return nil
		}
		switch m.Op {
		case opRun:
			r.start(m, fds)
		case opSignal:
			r.signal(m)
		case opStop:
			drain(time.Duration(m.Grace) * time.Millisecond)
			return nil
		}
		closeAll(fds)
	}
}

// build finishes the lab from inside its namespaces: its own /proc, /sys, terminals and cgroups, hostname and
// loopback.
func build(cfg *initConfig) error {
	if err := kernelDirs("/", cfg.CgroupV2); err != nil {
		return err
	}
	if err := terminals("/dev"); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fmt.Errorf("set the hostname: %w", err)
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	if cfg.CgroupV2 {
		return nestCgroups()
	}
	return nil
}

// nestCgroups moves the lab's PID 1 out of the lab's cgroup root into a
// leaf: cgroup v2 lets only a group without processes of its own hand
// controllers down. The server then moves the first stage there too and
// enables the controllers (the first stage is outside this PID namespace,
// so only the server can name it).
func nestCgroups() error {
	leaf := "/sys/fs/cgroup/" + initLeaf
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("make %s: %w", leaf, err)
	}
	if err := os.WriteFile(leaf+"/cgroup.procs", []byte("0"), 0o644); err != nil {
		return fmt.Errorf("move the lab's init into %s: %w", leaf, err)
	}
	return nil
}

// loopbackUp brings lo up, as any host has it.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}

// runner starts the server's jobs and reports their ends. As PID 1 it
// also reaps every orphan in the lab (a detached sandbox's supervisor).
type runner struct {
	c  conn
	mu sync.Mutex
	// byPID maps a job's pid to its id. start holds mu from fork until the
	// pid is recorded, so reap, which looks up under mu, never misses a
	// job that ends at once.
	byPID map[int]int
}

func (r *runner) start(m message, fds []*os.File) {
	if len(fds) != 3 || len(m.Args) == 0 {
		_ = r.c.send(message{Op: opExited, ID: m.ID, Status: 127})
		return
	}
	attr := &syscall.ProcAttr{
		Dir:   m.Dir,
		Env:   m.Env,
		Files: []uintptr{fds[0].Fd(), fds[1].Fd(), fds[2].Fd()},
		// Its own session, so a signal for the job reaches all of it.
		Sys: &syscall.SysProcAttr{Setsid: true, Setctty: m.TTY, Ctty: 0},
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	pid, err := syscall.ForkExec(m.Args[0], m.Args, attr)
	if err != nil {
		fmt.Fprintf(fds[2], "kcna-lab: cannot start %s in your lab: %v\r\n", m.Args[0], err)
		_ = r.c.send(message{Op: opExited, ID: m.ID, Status: 127})
		return
	}
	r.byPID[pid] = m.ID
}

func (r *runner) signal(m message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, id := range r.byPID {
		if id == m.ID {
			_ = unix.Kill(-pid, unix.Signal(m.Signal))
		}
	}
}

// drain asks every process in the lab to end (SIGTERM: the course saves
// progress on it) and waits until they have, or grace is over; whatever
// is left dies with PID 1 when it returns.
func drain(grace time.Duration) {
	_ = unix.Kill(-1, unix.SIGTERM) // from PID 1: everyone in the lab but itself
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && othersAlive() {
		time.Sleep(20 * time.Millisecond)
	}
}

// othersAlive reports whether the lab has a process besides PID 1 (the
// reaper collects the ended ones, so zombies do not count for long).
func othersAlive() bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != 1 {
			return true
		}
	}
	return false
}

// reap waits for every child of PID 1 and reports the server's jobs.
func (r *runner) reap() {
	ch := make(chan os.Signal, 16)
	signal.Notify(ch, unix.SIGCHLD)
	for range ch {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			st := ws.ExitStatus()
			if ws.Signaled() {
				st = 128 + int(ws.Signal())
			}
			r.mu.Lock()
			if id, ok := r.byPID[pid]; ok {
				delete(r.byPID, pid)
				_ = r.c.send(message{Op: opExited, ID: id, Status: st})
			}
			r.mu.Unlock()
		}
	}
}
