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

	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
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
	// With a terminal, the command gets a pseudo-terminal of its own.
	var relay *ptyRelay
	out := stdout
	if tty {
		if relay, err = newPTYRelay(stdin, st.InitPID); err != nil {
			relay, tty = nil, false
		} else {
			defer relay.finish()
			stdin, stdout, stderr = relay.peer, relay.peer, relay.peer
		}
	}
	req, err := json.Marshal(initproc.ExecRequest{Args: args, Tty: tty})
	if err != nil {
		return Result{}, err
	}
	rights := unix.UnixRights(int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd()))
	if _, _, err := conn.WriteMsgUnix(append(req, '\n'), rights, nil); err != nil {
		return Result{}, fmt.Errorf("send exec request to sandbox %s: %w", name, err)
	}
	if relay != nil {
		relay.closePeer()
		relay.start(out)
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
		var r initproc.ExecReply
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
