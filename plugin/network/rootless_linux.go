//go:build linux

package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// SpawnInit has the holder clone a rootless sandbox's init (see
// holder_linux.go for why), starting the holder first if none runs.
func (plugin) SpawnInit(cmd *exec.Cmd, sink event.Sink) (sandbox.InitProcess, error) {
	attr := cmd.SysProcAttr
	if attr == nil || attr.Cloneflags&syscall.CLONE_NEWUSER == 0 {
		return nil, errors.New("a rootless sandbox on a network needs its own user namespace (user in --isolate)")
	}
	stdio, err := newStdio(cmd)
	if err != nil {
		return nil, err
	}
	m := holderMsg{
		Op: "spawn", Path: cmd.Path, Args: cmd.Args, Env: cmd.Env,
		Cloneflags: attr.Cloneflags, Setpgid: attr.Setpgid,
		Setsid: attr.Setsid, Setctty: attr.Setctty, Ctty: attr.Ctty,
		UIDMap: inHolder(attr.UidMappings, os.Geteuid()), GIDMap: inHolder(attr.GidMappings, os.Getegid()),
	}
	// A holder whose last client just left may accept this connection
	// as it ends; it then hangs up before it starts anything, and a
	// second try starts a new holder.
	var c *net.UnixConn
	var r holderReply
	for try := 0; ; try++ {
		if c, err = dialHolder(sink); err == nil {
			if err = sendMsg(c, m, append(stdio.child[:], cmd.ExtraFiles...)); err == nil {
				err = recvReply(c, &r, sink)
			}
			if err != nil {
				_ = c.Close()
			}
		}
		if err == nil || !errors.Is(err, errHolderGone) || try == 1 {
			break
		}
	}
	stdio.closeChild()
	if err != nil {
		stdio.abort()
		return nil, fmt.Errorf("have the network holder start the sandbox's init: %w", err)
	}
	p := &heldInit{conn: c, pid: r.PID, stdio: stdio}
	if attr.Foreground {
		// The holder has no terminal; the group is given it from here.
		if f, ok := cmd.Stdin.(*os.File); ok {
			foreground(f, r.PID)
		}
	}
	return p, nil
}

// inHolder rewrites user namespace maps from the host's ids to the
// holder's: its namespace maps root to the user (and nothing else), so
// the user's id there is 0.
func inHolder(m []syscall.SysProcIDMap, own int) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		if e.HostID == own && e.Size == 1 {
			e.HostID = 0
		}
		out[i] = e
	}
	return out
}

// heldInit is an init the holder cloned: signals go to it directly (it
// runs as the user), its wait status comes from the holder.
type heldInit struct {
	conn  *net.UnixConn
	pid   int
	stdio *stdio

	once sync.Once
	ws   syscall.WaitStatus
	err  error

	mu   sync.Mutex
	done bool // waited for: its PID may be someone else's by now
}

func (p *heldInit) Pid() int { return p.pid }

func (p *heldInit) Signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return os.ErrProcessDone
	}
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("signal %v: not a syscall.Signal", sig)
	}
	return unix.Kill(p.pid, s)
}

// Wait reads the init's wait status from the holder, once, then waits for
// its output to be copied, as exec.Cmd.Wait does.
func (p *heldInit) Wait() (syscall.WaitStatus, error) {
	p.once.Do(func() {
		var r holderReply
		if err := recvReply(p.conn, &r, event.Discard); err != nil {
			p.err = fmt.Errorf("wait for the sandbox's init through the network holder: %w", err)
		} else if r.Status == nil {
			p.err = errors.New("wait for the sandbox's init: the network holder sent no status")
		} else {
			p.ws = syscall.WaitStatus(*r.Status)
		}
		p.mu.Lock()
		p.done = true
		p.mu.Unlock()
		_ = p.conn.Close()
		p.stdio.wait()
	})
	return p.ws, p.err
}

// stdio gives the init real files for stdin, stdout and stderr (the
// holder can pass on only those), with copies to and from the Cmd's
// readers and writers where they are not files.
type stdio struct {
	child  [3]*os.File
	made   []*os.File  // the init's ends made here, closed once sent
	closeW []io.Closer // our ends, closed on abort
	copies sync.WaitGroup
}

func newStdio(cmd *exec.Cmd) (*stdio, error) {
	s := &stdio{}
	var err error
	switch in := cmd.Stdin.(type) {
	case *os.File:
		s.child[0] = in
	case nil:
		if s.child[0], err = os.Open(os.DevNull); err == nil {
			s.made = append(s.made, s.child[0])
		}
	default:
		var r, w *os.File
		if r, w, err = os.Pipe(); err == nil {
			s.child[0] = r
			s.made = append(s.made, r)
			s.closeW = append(s.closeW, w)
			go func() { _, _ = io.Copy(w, in); _ = w.Close() }()
		}
	}
	if err != nil {
		return nil, err
	}
	for i, out := range []io.Writer{cmd.Stdout, cmd.Stderr} {
		switch o := out.(type) {
		case *os.File:
			s.child[i+1] = o
		case nil:
			if s.child[i+1], err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
				return nil, err
			}
			s.made = append(s.made, s.child[i+1])
		default:
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			s.child[i+1] = w
			s.made = append(s.made, w)
			s.closeW = append(s.closeW, r)
			s.copies.Add(1)
			go func() { defer s.copies.Done(); _, _ = io.Copy(o, r); _ = r.Close() }()
		}
	}
	return s, nil
}

// closeChild closes this process's copies of the init's ends of pipes
// (files the Cmd was given stay open: they are the caller's).
func (s *stdio) closeChild() {
	for _, f := range s.made {
		_ = f.Close()
	}
}

func (s *stdio) abort() {
	for _, c := range s.closeW {
		_ = c.Close()
	}
}

func (s *stdio) wait() { s.copies.Wait() }

// foreground gives the terminal to the init's process group.
func foreground(tty *os.File, pgid int) {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	_ = unix.IoctlSetPointerInt(int(tty.Fd()), unix.TIOCSPGRP, pgid)
}

// dialHolder connects to the user's holder, starting one if none
// listens. The start is serialized with a lock file, so two kcna-labs
// starting at once share one holder.
func dialHolder(sink event.Sink) (*net.UnixConn, error) {
	dir := sandbox.StateDir()
	sock := holderSocket(dir)
	if c, err := dialSeq(sock); err == nil {
		return c, nil
	}
	if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(sock), err)
	}
	lk, err := lockFile(filepath.Join(filepath.Dir(sock), "holder.lock"))
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	if c, err := dialSeq(sock); err == nil {
		return c, nil // another kcna-lab started it meanwhile
	}
	if err := startHolder(dir, sink); err != nil {
		return nil, err
	}
	c, err := dialSeq(sock)
	if err != nil {
		return nil, fmt.Errorf("connect to the network holder: %w", err)
	}
	return c, nil
}

func dialSeq(sock string) (*net.UnixConn, error) {
	return net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: sock, Net: "unixpacket"})
}

// startHolder starts kcna-lab again as the holder, in a new user
// namespace (root there is the user) with its own network and mount
// namespaces, in a session of its own so that it outlives this process
// while other sandboxes use it. It returns once the holder listens.
func startHolder(dir string, sink event.Sink) error {
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer func() { _ = readyR.Close() }()
	self, err := os.Executable()
	if err != nil {
		_ = readyW.Close()
		return fmt.Errorf("find kcna-lab's own program to start the network holder: %w", err)
	}
	cmd := &exec.Cmd{
		Path: self, Args: []string{holderArg0},
		Dir:        "/", // not the caller's cwd, which it would hold busy for as long as it lives
		Env:        []string{holderEnv + "=" + dir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GOMAXPROCS=2"},
		ExtraFiles: []*os.File{readyW},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:                 syscall.CLONE_NEWUSER | syscall.CLONE_NEWNET | syscall.CLONE_NEWNS,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
			GidMappingsEnableSetgroups: false,
			Setsid:                     true,
		},
	}
	event.Narrate(sink, "Starting kcna-lab's network holder: kcna-lab again, in a user namespace where you are root and a network namespace that user namespace owns. The bridge lives there, as rootless container runtimes keep theirs (rootlesskit); it goes when its last sandbox does.")
	err = event.Step(sink, "clone(CLONE_NEWUSER|CLONE_NEWNET|CLONE_NEWNS)  # the network holder",
		"unshare --user --map-root-user --net --mount kcna-lab  # the network holder", cmd.Start)
	_ = readyW.Close()
	if err != nil {
		if blocked := sandbox.UserNamespaceBlocked(); blocked != nil {
			return fmt.Errorf("start the network holder: %w; %w", err, blocked)
		}
		return fmt.Errorf("start the network holder: %w", err)
	}
	go func() { _ = cmd.Wait() }() // reaped here if it ends while this process runs
	msg, _ := io.ReadAll(io.LimitReader(readyR, 4096))
	if string(msg) != "ok" {
		if len(msg) == 0 {
			msg = []byte("it exited without saying why")
		}
		if blocked := sandbox.UserNamespaceBlocked(); blocked != nil {
			return fmt.Errorf("start the network holder: %s; %w", msg, blocked)
		}
		return fmt.Errorf("start the network holder: %s", msg)
	}
	return nil
}

// lockFile takes an exclusive flock on path, waiting up to lockWait.
func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &fileLock{f: f}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) || time.Now().After(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// errHolderGone is a holder hanging up before it answered.
var errHolderGone = errors.New("the network holder hung up")

// recvReply reads replies, passing events to sink, until one that is not
// an event; its Err becomes the error.
func recvReply(c *net.UnixConn, r *holderReply, sink event.Sink) error {
	for {
		*r = holderReply{}
		files, err := recvMsg(c, r)
		closeFiles(files)
		if errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET) {
			return errHolderGone
		}
		if err != nil {
			return err
		}
		if r.Event != nil {
			sink.Emit(*r.Event)
			continue
		}
		if r.Err != "" {
			return errors.New(r.Err)
		}
		return nil
	}
}

// rootlessAttach asks the holder to plug the sandbox (which it cloned)
// into the bridge. Published ports listen here, on the host's loopback;
// the holder accepts on those sockets and connects from its namespace.
func rootlessAttach(n sandbox.Net, name string, pid int, sink event.Sink) (_ *sandbox.Attachment, err error) {
	var lns []*os.File
	defer func() { closeFiles(lns) }() // the listeners as they are at return, not now
	for _, m := range n.Publish {
		shell := fmt.Sprintf("socat TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork EXEC:'nsenter --user --net --preserve-credentials --target HOLDER_PID socat STDIO TCP:SANDBOX_IP:%d'", m.HostPort, m.ContainerPort)
		ln, err := listenPublished(m.HostPort, fmt.Sprintf("port %d of sandbox %s (served by the network holder)", m.ContainerPort, name), m.ContainerPort, shell, sink)
		if err != nil {
			return nil, fmt.Errorf("--publish %s: %w", m, err)
		}
		f, err := ln.(*net.TCPListener).File()
		_ = ln.Close()
		if err != nil {
			return nil, fmt.Errorf("--publish %s: %w", m, err)
		}
		lns = append(lns, f)
	}
	c, err := dialHolder(sink)
	if err != nil {
		return nil, err
	}
	m := holderMsg{Op: "attach", Bridge: n.Bridge, Subnet: n.Subnet, Name: name, PID: pid, Publish: n.Publish}
	var r holderReply
	if err = sendMsg(c, m, lns); err == nil {
		err = recvReply(c, &r, sink)
	}
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	event.Narrate(sink, fmt.Sprintf("Sandbox %s is %s on %s, in the network holder's namespace (process %d; see it with nsenter --user --net --target %d ip link). Its DNS server and published ports are served from there too.", name, r.IP, r.Bridge, r.Holder, r.Holder))
	det := closerFunc(func() error {
		defer func() { _ = c.Close() }()
		if err := sendMsg(c, holderMsg{Op: "detach"}, nil); err != nil {
			return fmt.Errorf("take %s off %s: %w", name, r.Bridge, err)
		}
		var done holderReply
		return recvReply(c, &done, sink)
	})
	return &sandbox.Attachment{Bridge: r.Bridge, IP: r.IP, ResolvConf: ResolvConf(), Closers: []io.Closer{det}}, nil
}

// HolderPID is the PID of the user's running network holder, whose
// network namespace holds the bridge when kcna-lab runs without root; 0
// as root or when none runs.
func HolderPID() int {
	if os.Geteuid() == 0 {
		return 0
	}
	c, err := dialSeq(holderSocket(sandbox.StateDir()))
	if err != nil {
		return 0
	}
	defer func() { _ = c.Close() }()
	var r holderReply
	if sendMsg(c, holderMsg{Op: "links", Bridge: DefaultBridge}, nil) != nil || recvReply(c, &r, event.Discard) != nil {
		return 0
	}
	return r.Holder
}

// rootlessLinks asks a running holder for the bridge map; no holder means
// no bridge.
func rootlessLinks(bridge string) ([]LinkInfo, error) {
	c, err := dialSeq(holderSocket(sandbox.StateDir()))
	if err != nil {
		return nil, nil
	}
	defer func() { _ = c.Close() }()
	var r holderReply
	if err := sendMsg(c, holderMsg{Op: "links", Bridge: bridge}, nil); err != nil {
		return nil, err
	}
	if err := recvReply(c, &r, event.Discard); err != nil {
		return nil, fmt.Errorf("the bridge map from the network holder: %w", err)
	}
	return r.Links, nil
}
