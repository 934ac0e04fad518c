//go:build linux

package sandbox

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ptyRelay gives a process started by `exec` a terminal of its own, as
// `docker exec -t` does: a new pseudo-terminal whose far end becomes the
// process's controlling terminal inside the sandbox, while kcna-lab puts
// the learner's terminal in raw mode and copies bytes both ways. Without
// it the shell would get the learner's terminal, which already controls
// their own session and so cannot control the sandbox's: no job control,
// and ^C only through kcna-lab.
type ptyRelay struct {
	master, peer *os.File
	term         *os.File // the learner's terminal
	saved        *unix.Termios
	winch        chan os.Signal
	output       sync.WaitGroup
}

// newPTYRelay opens a pseudo-terminal sized like term and puts term in
// raw mode. The pty comes from the sandbox's own devpts (initPID's root),
// so that inside, `tty` names it; else from the host's. An error means
// term is not a terminal or no pty is to be had; the caller then passes
// its files as they are.
func newPTYRelay(term *os.File, initPID int) (*ptyRelay, error) {
	saved, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("stdin is not a terminal: %w", err)
	}
	fd, err := openSandboxPTMX(initPID)
	if err != nil {
		fd, err = unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	// Non-blocking, so that Go's poller serves it and closing it ends a
	// read in progress: a background job in the sandbox may keep the pty
	// open after the command is done.
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	master := os.NewFile(uintptr(fd), "ptmx")
	peer, err := openPeer(master)
	if err != nil {
		_ = master.Close()
		return nil, err
	}
	r := &ptyRelay{master: master, peer: peer, term: term, saved: saved, winch: make(chan os.Signal, 1)}
	r.resize()
	raw := *saved
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(term.Fd()), unix.TCSETS, &raw); err != nil {
		r.close()
		return nil, fmt.Errorf("put the terminal in raw mode: %w", err)
	}
	return r, nil
}

// openSandboxPTMX opens /dev/pts/ptmx inside the sandbox whose init is
// pid. The path is resolved with the sandbox's root as "/" (openat2
// RESOLVE_IN_ROOT): the sandbox owns its /dev, and a symlink it planted
// there must not lead kcna-lab, as host root, to a host file.
func openSandboxPTMX(pid int) (int, error) {
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(root)
	fd, err := unix.Openat2(root, "dev/pts/ptmx", &unix.OpenHow{
		Flags:   unix.O_RDWR | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 5 || unix.Minor(st.Rdev) != 2 {
		_ = unix.Close(fd)
		return -1, fmt.Errorf("the sandbox's /dev/pts/ptmx is not the pty multiplexer")
	}
	return fd, nil
}

// openPeer opens the pty's other end: by TIOCGPTPEER where the kernel
// has it (4.13), which cannot be raced, else by its /dev/pts name.
func openPeer(master *os.File) (*os.File, error) {
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return nil, fmt.Errorf("unlock the pty: %w", err)
	}
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno == 0 {
		return os.NewFile(fd, "pty"), nil
	}
	n, err := unix.IoctlGetUint32(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return nil, fmt.Errorf("find the pty's number: %w", err)
	}
	return os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
}

// start copies the learner's keys in and the process's output out, and
// follows the terminal's size.
func (r *ptyRelay) start(out io.Writer) {
	signal.Notify(r.winch, unix.SIGWINCH)
	go func() {
		for range r.winch {
			r.resize()
		}
	}()
	// The key copier ends when the learner's terminal does (or with the
	// process kcna-lab is): a read from a terminal cannot be interrupted.
	go func() { _, _ = io.Copy(r.master, r.term) }()
	r.output.Add(1)
	go func() {
		defer r.output.Done()
		_, _ = io.Copy(out, r.master) // EIO once nothing in the sandbox holds the pty
	}()
}

// closePeer drops kcna-lab's copy of the far end once the sandbox has its
// own, so that the output copier ends when the sandbox's copies close.
func (r *ptyRelay) closePeer() { _ = r.peer.Close() }

// finish waits briefly for the last output, then gives the terminal back
// as it was.
func (r *ptyRelay) finish() {
	done := make(chan struct{})
	go func() { r.output.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(200 * time.Millisecond): // a background job still holds the pty
	}
	r.close()
}

func (r *ptyRelay) close() {
	signal.Stop(r.winch)
	close(r.winch)
	_ = unix.IoctlSetTermios(int(r.term.Fd()), unix.TCSETS, r.saved)
	_ = r.peer.Close()
	_ = r.master.Close()
}

func (r *ptyRelay) resize() {
	if ws, err := unix.IoctlGetWinsize(int(r.term.Fd()), unix.TIOCGWINSZ); err == nil {
		_ = unix.IoctlSetWinsize(int(r.master.Fd()), unix.TIOCSWINSZ, ws)
	}
}
