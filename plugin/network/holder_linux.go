//go:build linux

package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// The network holder is how an unprivileged user gets a bridge, as
// rootless container runtimes do it (rootlesskit's "holder" of the
// network namespace, without slirp: nothing here reaches beyond the
// host). It is kcna-lab itself, started again in a user namespace of the
// user's own (where it is root) with a network namespace that user
// namespace owns. The bridge lives there. Sandboxes on it are cloned by
// the holder, so their user namespaces are children of its own and it may
// plug veths into their network namespaces; it also serves their DNS and
// their published ports (the listening socket is made on the host's
// loopback by the client and handed over). It exits, taking its namespace
// and everything in it along, when its last client hangs up.

// holderArg0 and holderEnv mark a process started as the holder: argv[0]
// and the kcna-lab state directory it serves.
const (
	holderArg0 = "kcna-lab-netholder"
	holderEnv  = "KCNA_LAB_NET_HOLDER"
)

// Any program that imports this package can be the holder: it starts
// itself again (/proc/self/exe), and the holder's work begins before the
// program's own main.
func init() {
	if dir := os.Getenv(holderEnv); dir != "" && len(os.Args) > 0 && os.Args[0] == holderArg0 {
		os.Exit(runHolder(dir))
	}
}

// holderSocket is where the holder listens, in the user's state dir.
func holderSocket(stateDir string) string {
	return filepath.Join(stateDir, "network", "holder.sock")
}

// holderMsg is one request to the holder (one SOCK_SEQPACKET message,
// with its files as SCM_RIGHTS).
type holderMsg struct {
	Op string `json:"op"` // "spawn", "attach", "detach", "links"

	// spawn: the init to clone; its files are the message's, stdin,
	// stdout and stderr first. The maps are as the holder sees them.
	Path       string                 `json:"path,omitempty"`
	Args       []string               `json:"args,omitempty"`
	Env        []string               `json:"env,omitempty"`
	Cloneflags uintptr                `json:"cloneflags,omitempty"`
	UIDMap     []syscall.SysProcIDMap `json:"uid_map,omitempty"`
	GIDMap     []syscall.SysProcIDMap `json:"gid_map,omitempty"`
	Setpgid    bool                   `json:"setpgid,omitempty"`
	Setsid     bool                   `json:"setsid,omitempty"`
	Setctty    bool                   `json:"setctty,omitempty"`
	Ctty       int                    `json:"ctty,omitempty"`

	// attach: the sandbox and network; one listening socket per Publish.
	Bridge  string        `json:"bridge,omitempty"`
	Subnet  netip.Prefix  `json:"subnet,omitzero"`
	Name    string        `json:"name,omitempty"`
	PID     int           `json:"pid,omitempty"`
	Publish []PortMapping `json:"publish,omitempty"`
}

// holderReply is one message back: an event on the way, or the outcome.
type holderReply struct {
	Event  *event.Event `json:"event,omitempty"`
	Err    string       `json:"err,omitempty"`
	PID    int          `json:"pid,omitempty"`
	Status *int         `json:"status,omitempty"` // spawn: the init's wait status
	IP     netip.Addr   `json:"ip,omitzero"`
	Bridge string       `json:"bridge,omitempty"`
	Links  []LinkInfo   `json:"links,omitempty"`
	Done   bool         `json:"done,omitempty"`
	Holder int          `json:"holder,omitempty"` // the holder's PID
}

// runHolder is the holder's main: it reports on fd 3 whether it is ready
// ("ok" or what failed), then serves until its last client leaves.
func runHolder(stateDir string) int {
	ready := os.NewFile(3, "ready")
	_ = os.Unsetenv(holderEnv) // the inits it starts are not holders
	holderStateDir = stateDir
	h, err := newHolder(stateDir)
	if err != nil {
		_, _ = fmt.Fprintf(ready, "%v", err)
		return 1
	}
	_, _ = io.WriteString(ready, "ok")
	_ = ready.Close()
	h.serve()
	return 0
}

// holder is the running holder.
type holder struct {
	ln      *net.UnixListener
	sock    string
	journal *journal.Journal

	mu      sync.Mutex
	clients int
	// reserved is the place of the client that started the holder, until
	// its first connection takes it (or startGrace passes without one).
	reserved bool
}

// startGrace is how long a new holder waits for the client that started
// it to connect before it counts it gone.
const startGrace = 10 * time.Second

// newHolder sets up the holder's namespace and starts listening.
func newHolder(stateDir string) (*holder, error) {
	// Nothing mounted here reaches the host; a sysfs of this network
	// namespace's own makes /sys/class/net show the bridge and its ports
	// (sysfs shows the namespace of whoever mounted it).
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("make the holder's mounts private: %w", err)
	}
	// Without it (a kernel that refuses), the bridge still works: only
	// the wait for a new port to forward (waitForwarding) is skipped.
	_ = unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	j, err := journal.Create(filepath.Join(stateDir, "journals"), "kcna-netholder-"+strconv.Itoa(os.Getpid()))
	if err != nil {
		return nil, err
	}
	sock := holderSocket(stateDir)
	// Journaled first, so `kcna-lab clean` removes the socket of a holder
	// that was killed. Its namespaces need no entry: they end with it.
	if err := j.Record(journal.Entry{Kind: journal.File, Path: sock, Shell: "rm " + sock}); err != nil {
		_ = j.Rollback(func(journal.Entry) error { return nil })
		return nil, err
	}
	_ = os.Remove(sock) // a dead holder's; the client holds the start lock
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		_ = j.Rollback(func(journal.Entry) error { return nil })
		return nil, fmt.Errorf("listen on %s: %w", sock, err)
	}
	ln.SetUnlinkOnClose(false)
	return &holder{ln: ln, sock: sock, journal: j}, nil
}

// serve handles clients until the last one hangs up (or, if the one that
// started it never connects, straight away).
func (h *holder) serve() {
	h.mu.Lock()
	h.clients, h.reserved = 1, true
	h.mu.Unlock()
	time.AfterFunc(startGrace, func() {
		h.mu.Lock()
		r := h.reserved
		h.reserved = false
		h.mu.Unlock()
		if r {
			h.leave()
		}
	})
	for {
		c, err := h.ln.AcceptUnix()
		if err != nil {
			select {} // closing: leave is ending the process
		}
		h.mu.Lock()
		if h.reserved {
			h.reserved = false
		} else {
			h.clients++
		}
		h.mu.Unlock()
		go func() {
			defer h.leave()
			h.handle(c)
		}()
	}
}

// leave counts a client out; the last one ends the holder. The socket is
// removed before the listener closes: a client dialling then gets
// ECONNREFUSED or ENOENT and starts a new holder.
func (h *holder) leave() {
	h.mu.Lock()
	h.clients--
	if h.clients > 0 {
		h.mu.Unlock()
		return
	}
	// The lock stays held: no client is counted in while the holder ends.
	_ = os.Remove(h.sock)
	_ = h.ln.Close()
	_ = h.journal.Close()
	_ = os.Remove(h.journal.Path())
	os.Exit(0)
}

// handle serves one connection: its first message says what for.
func (h *holder) handle(c *net.UnixConn) {
	defer func() { _ = c.Close() }()
	var m holderMsg
	files, err := recvMsg(c, &m)
	if err != nil {
		return
	}
	switch m.Op {
	case "spawn":
		h.spawn(c, m, files)
	case "attach":
		h.attach(c, m, files)
	case "links":
		closeFiles(files)
		links, err := Links(m.Bridge)
		_ = sendMsg(c, holderReply{Links: links, Err: errString(err), Done: true, Holder: os.Getpid()}, nil)
	default:
		closeFiles(files)
		_ = sendMsg(c, holderReply{Err: fmt.Sprintf("unknown request %q", m.Op)}, nil)
	}
}

// spawn clones a sandbox's init, reports its PID, and then its wait
// status when it ends. A client that hangs up first takes the init with
// it, as the init's parent-death signal would have.
func (h *holder) spawn(c *net.UnixConn, m holderMsg, files []*os.File) {
	defer func() { closeFiles(files) }() // until the init has its copies
	if len(files) < 3 {
		_ = sendMsg(c, holderReply{Err: "spawn: want stdin, stdout and stderr"}, nil)
		return
	}
	cmd := &exec.Cmd{
		Path: m.Path, Args: m.Args, Env: m.Env,
		Stdin: files[0], Stdout: files[1], Stderr: files[2], ExtraFiles: files[3:],
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:  m.Cloneflags,
			UidMappings: m.UIDMap, GidMappings: m.GIDMap,
			// This user namespace was made by an unprivileged user, so
			// setgroups is denied in it and in every child.
			GidMappingsEnableSetgroups: false,
			Setpgid:                    m.Setpgid,
			Setsid:                     m.Setsid,
			Setctty:                    m.Setctty,
			Ctty:                       m.Ctty,
			Pdeathsig:                  syscall.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		_ = sendMsg(c, holderReply{Err: err.Error()}, nil)
		return
	}
	closeFiles(files)
	files = nil
	if err := sendMsg(c, holderReply{PID: cmd.Process.Pid, Holder: os.Getpid()}, nil); err != nil {
		_ = cmd.Process.Kill()
	}
	hangup := make(chan struct{})
	go func() {
		// The client sends nothing more; a read returns when it leaves.
		var buf [1]byte
		_, _, _, _, _ = c.ReadMsgUnix(buf[:], nil)
		close(hangup)
	}()
	exited := make(chan struct{})
	go func() {
		select {
		case <-hangup:
			_ = cmd.Process.Kill()
		case <-exited:
		}
	}()
	_ = cmd.Wait()
	close(exited)
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	status := int(ws)
	if sendMsg(c, holderReply{Status: &status}, nil) == nil {
		<-hangup
	}
}

// attach plugs a sandbox the holder cloned into the bridge, serves its DNS
// and published ports, and takes it off again when the client says
// "detach" or hangs up. Events go back to the client as they happen.
func (h *holder) attach(c *net.UnixConn, m holderMsg, files []*os.File) {
	sink := event.SinkFunc(func(e event.Event) { _ = sendMsg(c, holderReply{Event: &e}, nil) })
	var closers []io.Closer
	undo := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i].Close()
		}
	}
	fail := func(err error) {
		closeFiles(files)
		undo()
		_ = sendMsg(c, holderReply{Err: err.Error()}, nil)
	}
	if len(files) != len(m.Publish) {
		fail(fmt.Errorf("attach: %d listening sockets for %d published ports", len(files), len(m.Publish)))
		return
	}
	ep, err := Attach(Config{Bridge: m.Bridge, Subnet: m.Subnet}, m.Name, m.PID, h.journal, sink)
	if err != nil {
		fail(err)
		return
	}
	closers = append(closers, closerFunc(func() error { return ep.Detach(sink) }))
	dns, err := ServeDNS(m.PID, Lookup(ep.Bridge))
	if err != nil {
		fail(fmt.Errorf("start the DNS server for %s: %w", m.Name, err))
		return
	}
	closers = append(closers, dns)
	for i, f := range files {
		ln, err := net.FileListener(f)
		if err != nil {
			fail(fmt.Errorf("--publish %s: the listening socket: %w", m.Publish[i], err))
			return
		}
		closers = append(closers, serveProxy(ln, netip.AddrPortFrom(ep.IP, uint16(m.Publish[i].ContainerPort))))
	}
	closeFiles(files)
	if err := sendMsg(c, holderReply{IP: ep.IP, Bridge: ep.Bridge, Holder: os.Getpid()}, nil); err != nil {
		undo()
		return
	}
	var next holderMsg
	extra, err := recvMsg(c, &next) // "detach", or the client is gone
	closeFiles(extra)
	undo()
	if err == nil {
		_ = sendMsg(c, holderReply{Done: true}, nil)
	}
}

// sendMsg sends one message with files.
func sendMsg(c *net.UnixConn, v any, files []*os.File) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			fds[i] = int(f.Fd())
		}
		oob = unix.UnixRights(fds...)
	}
	_, _, err = c.WriteMsgUnix(b, oob, nil)
	return err
}

// maxFiles bounds the files one message carries (stdio, the init's
// config and event pipes, its exec socket and the volumes).
const maxFiles = 64

// recvMsg reads one message and the files it carries.
func recvMsg(c *net.UnixConn, v any) ([]*os.File, error) {
	buf := make([]byte, 1<<20)
	oob := make([]byte, unix.CmsgSpace(maxFiles*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	var files []*os.File
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, fmt.Errorf("read the files sent: %w", err)
		}
		for _, cm := range cmsgs {
			fds, err := unix.ParseUnixRights(&cm)
			if err != nil {
				continue
			}
			for _, fd := range fds {
				files = append(files, os.NewFile(uintptr(fd), "fd"))
			}
		}
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		closeFiles(files)
		return nil, errors.New("message truncated")
	}
	if n == 0 {
		closeFiles(files)
		return nil, io.EOF // a SOCK_SEQPACKET peer that hung up
	}
	if err := json.Unmarshal(buf[:n], v); err != nil {
		closeFiles(files)
		return nil, fmt.Errorf("read message: %w", err)
	}
	return files, nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		_ = f.Close()
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
