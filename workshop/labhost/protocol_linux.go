package labhost

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The server and the lab's init talk over a SOCK_SEQPACKET socket pair:
// one JSON message a packet, file descriptors (a session's terminal)
// alongside as SCM_RIGHTS, so nothing in the lab needs a path on the host.
const (
	opConfig = "config" // server → init: what to build; sent once
	opReady  = "ready"  // init → server: the lab is built (or Error says why not)
	opRun    = "run"    // server → init: start a process, fds attached
	opExited = "exited" // init → server: ID ended with Status
	opSignal = "signal" // server → init: send Signal to ID's process group
	opStop   = "stop"   // server → init: SIGTERM everything, exit once it has ended (or after Grace ms)
)

// maxMessage bounds one packet; a config or a command line is far smaller.
const maxMessage = 64 << 10

type message struct {
	Op     string      `json:"op"`
	ID     int         `json:"id,omitempty"`
	Config *initConfig `json:"config,omitempty"`
	// Args, Env and Dir describe a process to run; TTY says its stdin is a
	// terminal that becomes its controlling terminal.
	Args []string `json:"args,omitempty"`
	Env  []string `json:"env,omitempty"`
	Dir  string   `json:"dir,omitempty"`
	TTY  bool     `json:"tty,omitempty"`
	PID  int      `json:"pid,omitempty"`
	// Status is an exit code, or 128+N for a process killed by signal N,
	// as a shell reports it.
	Status int    `json:"status,omitempty"`
	Signal int    `json:"signal,omitempty"`
	Grace  int    `json:"grace_ms,omitempty"`
	Error  string `json:"error,omitempty"`
}

// initConfig is what the init needs to build the lab.
type initConfig struct {
	Name     string `json:"name"`
	Hostname string `json:"hostname"`
	// Root is an empty directory on the host where the lab's root is
	// assembled before pivot_root; Home the student's persistent home;
	// Bin holds kcna-lab, kcna-lab-full and kcna-lab-init. All three are host paths the
	// lab's root user can reach.
	Root string `json:"root"`
	Home string `json:"home"`
	Bin  string `json:"bin"`
	// Class is shown read-only at /opt/kcna-lab/class ("": nothing).
	Class string `json:"class,omitempty"`
	// CgroupV2 says the lab's cgroup is delegated to it: mount cgroup2 and
	// nest below. Controllers are the ones to enable for its sandboxes.
	CgroupV2    bool     `json:"cgroup_v2"`
	Controllers []string `json:"controllers,omitempty"`
	// TmpSize caps each of /tmp, /var and /run (tmpfs, charged to the
	// lab's memory quota), e.g. "256m".
	TmpSize string `json:"tmp_size"`
	// Content, if not "", is the instructor's course (kcna-lab --content),
	// bound read-only at ContentDir.
	Content string `json:"content,omitempty"`
}

// conn is one end of the socket pair, as a *net.UnixConn: Go's poller
// owns the descriptor, so a send after the lab has gone fails instead of
// reaching whatever reused its number, and sends have a deadline.
type conn struct{ c *net.UnixConn }

// newConn takes over f (one end of the pair).
func newConn(f *os.File) (conn, error) {
	fc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return conn{}, fmt.Errorf("the lab's socket: %w", err)
	}
	uc, ok := fc.(*net.UnixConn)
	if !ok {
		_ = fc.Close()
		return conn{}, fmt.Errorf("the lab's socket is a %T, not a unix socket", fc)
	}
	return conn{uc}, nil
}

// sendTimeout bounds a send: a lab whose init stopped reading (a student
// can ptrace-stop it) must not block the server.
const sendTimeout = 5 * time.Second

func (c conn) send(m message, fds ...*os.File) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s message: %w", m.Op, err)
	}
	var oob []byte
	if len(fds) > 0 {
		ints := make([]int, len(fds))
		for i, f := range fds {
			ints[i] = int(f.Fd())
		}
		oob = unix.UnixRights(ints...)
	}
	_ = c.c.SetWriteDeadline(time.Now().Add(sendTimeout))
	if _, _, err := c.c.WriteMsgUnix(b, oob, nil); err != nil {
		return fmt.Errorf("send %s message: %w", m.Op, err)
	}
	return nil
}

func (c conn) close() error { return c.c.Close() }

// errClosed is the other end having gone away; errBadMessage a packet
// that is not a message (the other end may be hostile: it is skipped).
var (
	errClosed     = errors.New("the other end of the lab's socket closed")
	errBadMessage = errors.New("not a lab message")
)

// recv reads one message and the descriptors that came with it.
func (c conn) recv() (message, []*os.File, error) {
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, flags, _, err := c.c.ReadMsgUnix(buf, oob)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return message{}, nil, errClosed
		}
		return message{}, nil, fmt.Errorf("receive a lab message: %w", err)
	}
	if n == 0 {
		return message{}, nil, errClosed
	}
	var fds []*os.File
	if oobn > 0 {
		cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err == nil {
			for _, cm := range cmsgs {
				ints, err := unix.ParseUnixRights(&cm)
				if err != nil {
					continue
				}
				for _, fd := range ints {
					unix.CloseOnExec(fd)
					fds = append(fds, os.NewFile(uintptr(fd), "lab-fd"))
				}
			}
		}
	}
	var m message
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 || json.Unmarshal(buf[:n], &m) != nil {
		closeAll(fds)
		return message{}, nil, errBadMessage
	}
	return m, fds, nil
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}
