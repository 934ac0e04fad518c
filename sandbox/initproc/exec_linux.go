//go:build linux

package initproc

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// serveExec accepts exec requests on the socket the parent passed in.
func (s *supervisor) serveExec() {
	f := os.NewFile(FDExec, "exec.sock")
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
	reply := func(r ExecReply) {
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
		reply(ExecReply{Error: "the request did not carry stdin, stdout and stderr"})
		closeAll(fds)
		return
	}
	defer func() { closeAll(fds) }()
	var req ExecRequest
	if err := json.Unmarshal(buf[:n], &req); err != nil || len(req.Args) == 0 {
		reply(ExecReply{Error: "malformed exec request"})
		return
	}
	env := req.Env
	if env == nil {
		env = s.plan.Env
	}
	path, err := lookPath(req.Args[0], env)
	if err != nil {
		reply(ExecReply{Error: err.Error()})
		return
	}
	done := make(chan unix.WaitStatus, 1)
	files := []uintptr{uintptr(fds[0]), uintptr(fds[1]), uintptr(fds[2])}
	pid, err := s.start(spawnRequest{path: path, args: req.Args, env: env, files: files, setsid: true, ctty: req.Tty, wait: done})
	if err != nil {
		reply(ExecReply{Error: fmt.Sprintf("start %s: %v", req.Args[0], err)})
		return
	}
	closeAll(fds)
	fds = nil
	reply(ExecReply{Started: true, PID: pid})

	go func() {
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			var m struct{ Signal int }
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Signal > 0 {
				_ = unix.Kill(-pid, syscall.Signal(m.Signal)) // its whole session's group
			}
		}
	}()
	r := ResultOf(<-done)
	reply(ExecReply{Result: &r})
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
