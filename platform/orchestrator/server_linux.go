//go:build linux

package orchestrator

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// server answers the API on the controller's unix socket: one JSON
// Request per connection, one Response back. It is how `kcna-lab
// orchestrate scale|update|rollback|status` reach a running controller,
// as kubectl reaches the API server.
type server struct {
	ln   net.Listener
	path string
	wg   sync.WaitGroup
}

// serve opens the socket where only root can reach it (whoever can call
// it starts sandboxes), journaled first so that `kcna-lab clean` removes
// it after a crash.
func (c *Controller) serve() (*server, error) {
	s := &server{path: SocketPath(c.cfg.Deployment.Name)}
	dir := filepath.Dir(s.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("orchestrate: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("orchestrate: %w", err)
	}
	if err := c.journal.Record(journal.Entry{Kind: journal.File, Path: s.path, Shell: "rm -f " + s.path}); err != nil {
		return nil, err
	}
	// A socket whose server is gone (setUp checked that none answers) is
	// only in the way.
	_ = os.Remove(s.path)
	err := event.Step(c.sink,
		fmt.Sprintf("socket(AF_UNIX); bind(%s)  # the orchestrator's API", s.path),
		fmt.Sprintf("socat UNIX-LISTEN:%s,fork -", s.path),
		func() (err error) {
			s.ln, err = net.Listen("unix", s.path)
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("orchestrate: API socket: %w", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := s.ln.Accept()
			if err != nil {
				return // closed
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				c.answer(conn)
			}()
		}
	}()
	return s, nil
}

// answer handles one connection.
func (c *Controller) answer(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var req Request
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&req); err != nil {
		_ = json.NewEncoder(conn).Encode(Response{Error: "a request is one JSON object, e.g. {\"op\":\"status\"}: " + err.Error()})
		return
	}
	resp := c.handle(req)
	st := c.Status()
	resp.Status = &st
	_ = json.NewEncoder(conn).Encode(resp)
}

// handle carries out one API request.
func (c *Controller) handle(req Request) Response {
	name := c.cfg.Deployment.Name
	var err error
	var msg string
	switch req.Op {
	case "status":
	case "scale":
		if err = c.Scale(req.Replicas); err == nil {
			msg = fmt.Sprintf("%s scaled to %d replica(s)", name, req.Replicas)
		}
	case "update":
		if err = c.Update(req.Version); err == nil {
			msg = fmt.Sprintf("%s is rolling out %s, one replica at a time", name, req.Version)
		}
	case "rollback":
		if err = c.Rollback(); err == nil {
			msg = fmt.Sprintf("%s is rolling back to %s", name, c.Status().Version)
		}
	default:
		err = fmt.Errorf("unknown operation %q: use status, scale, update or rollback", req.Op)
	}
	if err != nil {
		return Response{Error: err.Error()}
	}
	return Response{Message: msg}
}

// close stops accepting, waits for the requests being answered, and
// removes the socket.
func (s *server) close() error {
	err := s.ln.Close()
	s.wg.Wait()
	if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
