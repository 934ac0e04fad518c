//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exec runs a command inside the running sandbox called name, in all of
// its namespaces, its root and its cgroup: the sandbox's init forks it,
// the way a pod's containers join the namespaces its pause container
// holds. The command's stdin, stdout and stderr are passed to the init as
// file descriptors. It returns the command's result.
func Exec(ctx context.Context, name string, args []string, stdin, stdout, stderr *os.File, tty bool) (Result, error) {
	if len(args) == 0 {
		return Result{}, errors.New("exec: no command given; e.g. kcna-lab exec NAME -- ps")
	}
	st, err := Find(name)
	if err != nil {
		return Result{}, err
	}
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: st.ExecSocket, Net: "unix"})
	if err != nil {
		return Result{}, fmt.Errorf("connect to sandbox %s at %s: %w", name, st.ExecSocket, err)
	}
	defer func() { _ = conn.Close() }()
	req, err := json.Marshal(execRequest{Args: args, Tty: tty})
	if err != nil {
		return Result{}, err
	}
	rights := unix.UnixRights(int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd()))
	if _, _, err := conn.WriteMsgUnix(append(req, '\n'), rights, nil); err != nil {
		return Result{}, fmt.Errorf("send exec request to sandbox %s: %w", name, err)
	}

	// Signals for the command travel over the connection, since the
	// command lives in another PID namespace.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				b, _ := json.Marshal(map[string]int{"signal": int(s.(syscall.Signal))})
				_, _ = conn.Write(append(b, '\n'))
			case <-ctx.Done():
				b, _ := json.Marshal(map[string]int{"signal": int(syscall.SIGKILL)})
				_, _ = conn.Write(append(b, '\n'))
				return
			}
		}
	}()

	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		var r execReply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return Result{}, fmt.Errorf("read reply from sandbox %s: %w", name, err)
		}
		switch {
		case r.Error != "":
			return Result{ExitCode: 127}, fmt.Errorf("sandbox %s: %s", name, r.Error)
		case r.Result != nil:
			return *r.Result, nil
		}
	}
	return Result{}, fmt.Errorf("sandbox %s ended before the command finished", name)
}

// serveExec accepts exec requests on the socket the parent passed in.
func (s *supervisor) serveExec() {
	f := os.NewFile(fdExec, "exec.sock")
	ln, err := net.FileListener(f)
	_ = f.Close()
	if err != nil {
		return
	}
	ul, ok := ln.(*net.UnixListener)
	if !ok {
		return
	}
	for {
		conn, err := ul.AcceptUnix()
		if err != nil {
			return
		}
		go s.handleExec(conn)
	}
}

func (s *supervisor) handleExec(conn *net.UnixConn) {
	defer func() { _ = conn.Close() }()
	reply := func(r execReply) {
		b, _ := json.Marshal(r)
		_, _ = conn.Write(append(b, '\n'))
	}
	buf := make([]byte, 64<<10)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	fds, err := receivedFDs(oob[:oobn])
	if err != nil || len(fds) != 3 {
		reply(execReply{Error: "the request did not carry stdin, stdout and stderr"})
		closeAll(fds)
		return
	}
	defer func() { closeAll(fds) }()
	var req execRequest
	if err := json.Unmarshal(buf[:n], &req); err != nil || len(req.Args) == 0 {
		reply(execReply{Error: "malformed exec request"})
		return
	}
	env := req.Env
	if env == nil {
		env = s.cfg.Env
	}
	path, err := lookPath(req.Args[0], env)
	if err != nil {
		reply(execReply{Error: err.Error()})
		return
	}
	done := make(chan unix.WaitStatus, 1)
	files := []uintptr{uintptr(fds[0]), uintptr(fds[1]), uintptr(fds[2])}
	pid, err := s.start(path, req.Args, env, files, true, done)
	if err != nil {
		reply(execReply{Error: fmt.Sprintf("start %s: %v", req.Args[0], err)})
		return
	}
	closeAll(fds)
	fds = nil
	reply(execReply{Started: true, PID: pid})

	go func() {
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			var m struct{ Signal int }
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Signal > 0 {
				_ = unix.Kill(-pid, syscall.Signal(m.Signal)) // its whole session's group
			}
		}
	}()
	r := resultOf(<-done)
	reply(execReply{Result: &r})
}

func receivedFDs(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for _, m := range msgs {
		f, err := unix.ParseUnixRights(&m)
		if err != nil {
			return nil, err
		}
		fds = append(fds, f...)
	}
	return fds, nil
}

func closeAll(fds []int) {
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
}
