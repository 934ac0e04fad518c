// Package workshop serves kcna-lab to a whole class over SSH: one Linux
// server, and every student joins with nothing but `ssh`.
//
// Each student gets a lab of their own (package workshop/labhost): an
// outer sandbox that is their "host", where their course, shells and
// sandboxes run, so the jails lessons 3-8 teach them to break land them
// in their own machine, never on the server or in a classmate's. The SSH
// name is the student's name; the first key that joins under a name is
// pinned to it.
//
// This package is the top of the stack: it runs the kcna-lab program
// inside labs and imports nothing of the course but the lab itself.
package workshop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	"charm.land/wish/v2"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
	"golang.org/x/time/rate"

	"github.com/kcna-lab/kcna-lab/internal/atomicfile"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
	"github.com/kcna-lab/kcna-lab/workshop/roster"
)

// Options configure a workshop server.
type Options struct {
	// Listen is the SSH address, e.g. ":2222".
	Listen string
	// State is where the class lives: host key, roll, students' homes.
	State string
	// ClassCode, when set, must be given once (password or
	// keyboard-interactive) by a new name before its key is pinned, and
	// admits students who have no key.
	ClassCode string
	// MaxStudents bounds the students connected at once.
	MaxStudents int
	// Quota is each student's share: their lab and all in it.
	Quota labhost.Quota
	// Idle closes a connection with no traffic for this long (0: never).
	Idle time.Duration
	// Linger keeps a student's lab (and their sandboxes) this long after
	// their last session ends, so that one `ssh ... -- run --detach` and
	// the next `ssh ... -- ps` see the same lab.
	Linger time.Duration
	// Shard admits only the names of this shard of the class.
	Shard Shard
	// Programs is the directory holding the kcna-lab, kcna-lab-full and
	// kcna-lab-init the labs run ("": beside this program).
	Programs string
	// Content, if not "", is the instructor's course (an absolute path,
	// checked by lint-content): every student's course and CLI use it,
	// with its challenges' checks: running in their lab.
	Content string
	// Log receives one line per connection and refusal, and every
	// instructor's action.
	Log io.Writer
	// Course is the course the class takes, which the dashboard counts
	// against (nil: the built-in course is not known here; required).
	Course *lessons.Course
	// InstructorKeys may connect as InstructorName and open the
	// dashboard; no student name accepts them.
	InstructorKeys []gossh.PublicKey
	// UsageEvery is how often each lab's memory and sandboxes are read
	// for the dashboard (2s).
	UsageEvery time.Duration
}

// Server is a running workshop server.
type Server struct {
	opts  Options
	class *Class
	bin   string
	ssh   *ssh.Server
	log   *log.Logger

	mu        sync.Mutex
	labs      map[string]*labRef
	connected map[string]int // sessions per student
	sessions  map[ssh.Session]struct{}
	limiters  map[string]*rate.Limiter
	conns     map[string]int      // open connections per address
	told      map[string]struct{} // connections told why they were refused
	guesses   map[string]guesses  // wrong codes and passwords per address
	closing   bool
	// end stops Serve (an instructor's "end the session").
	end func()

	roster *roster.Roster
}

// New prepares the class directory (host key, roll, programs) and the SSH
// server; Serve runs it.
func New(o Options) (*Server, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("serve needs root: it gives each student a user namespace with a uid range of their own and a cgroup with their quota (run: sudo kcna-lab serve)")
	}
	if o.MaxStudents <= 0 {
		o.MaxStudents = 40
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Shard.Count == 0 {
		o.Shard = Shard{0, 1}
	}
	if o.Course == nil {
		return nil, errors.New("the workshop server needs the course its class takes")
	}
	if o.UsageEvery <= 0 {
		o.UsageEvery = 2 * time.Second
	}
	s := &Server{opts: o, log: log.New(o.Log, "", log.LstdFlags), labs: map[string]*labRef{},
		connected: map[string]int{}, sessions: map[ssh.Session]struct{}{}, limiters: map[string]*rate.Limiter{}, conns: map[string]int{},
		told: map[string]struct{}{}, guesses: map[string]guesses{}}
	if err := s.prepareState(); err != nil {
		return nil, err
	}
	// A server killed with -9 left its labs' cgroups: sweep them (and any
	// other kcna-lab leftovers) before students come back.
	if _, err := sandbox.Clean(); err != nil {
		return nil, fmt.Errorf("clean up after an earlier server: %w", err)
	}
	var err error
	if s.class, err = OpenClass(o.State); err != nil {
		return nil, err
	}
	if err := s.openRoster(); err != nil {
		return nil, err
	}
	s.ssh, err = wish.NewServer(
		wish.WithAddress(o.Listen),
		// In a directory of its own: making the key makes its directory
		// private, and the class directory must stay searchable.
		wish.WithHostKeyPath(filepath.Join(o.State, "hostkey", "ssh_host_ed25519")),
		wish.WithIdleTimeout(o.Idle),
		ssh.AllocatePty(),
		func(srv *ssh.Server) error {
			// --idle is for students at work; a connection still short of
			// logging in has only as long as a person needs to type a code.
			srv.HandshakeTimeout = handshakeTimeout
			srv.ServerConfigCallback = s.authConfig
			srv.ConnCallback = s.admitConn
			srv.Handler = s.handle
			srv.ChannelHandlers = map[string]ssh.ChannelHandler{"session": countChannels}
			srv.PtyCallback = allowPty
			return nil
		},
	)
	if err != nil {
		return nil, fmt.Errorf("set up the SSH server: %w", err)
	}
	return s, nil
}

// prepareState lays out the class directory. Its parents must be
// searchable: a lab's root is an unprivileged user on the server.
func (s *Server) prepareState() error {
	dirs := []struct {
		path string
		mode os.FileMode
	}{{s.opts.State, 0o711}, {filepath.Join(s.opts.State, "students"), 0o711}, {filepath.Join(s.opts.State, "bin"), 0o755}, {filepath.Join(s.opts.State, "class"), 0o755}}
	for _, d := range dirs {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return fmt.Errorf("make the class directory %s: %w", d.path, err)
		}
		if err := os.Chmod(d.path, d.mode); err != nil {
			return fmt.Errorf("make the class directory %s: %w", d.path, err)
		}
	}
	s.bin = filepath.Join(s.opts.State, "bin")
	return s.installPrograms()
}

// installPrograms copies kcna-lab, kcna-lab-full (which kcna-lab hands
// the TUI and most commands to) and kcna-lab-init into the class, so
// the labs run a fixed copy that the students' (unprivileged) root can
// reach, even if this program lives under /root.
func (s *Server) installPrograms() error {
	src := s.opts.Programs
	if src == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find kcna-lab's own program: %w", err)
		}
		src = filepath.Dir(exe)
	}
	for _, name := range []string{"kcna-lab", "kcna-lab-full", "kcna-lab-init"} {
		in, err := os.Open(filepath.Join(src, name))
		if errors.Is(err, os.ErrNotExist) && name == "kcna-lab-init" {
			continue // sandboxes then start through kcna-lab itself
		}
		if err != nil {
			return fmt.Errorf("copy %s into the class: %w", name, err)
		}
		err = atomicfile.Copy(filepath.Join(s.bin, name), in, 0o755)
		in.Close()
		if err != nil {
			return fmt.Errorf("copy %s into the class: %w", name, err)
		}
	}
	return nil
}

// Serve accepts students on ln until ctx ends, then ends every session
// with a message, stops every lab (sessions get SIGTERM and a moment to
// save) and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.mu.Lock()
	s.end = cancel
	s.mu.Unlock()
	go func() { _ = s.roster.Watch(ctx) }()
	go s.sampleUsage(ctx, s.opts.UsageEvery)
	errc := make(chan error, 1)
	go func() { errc <- s.ssh.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, ssh.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve SSH on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	s.shutdown()
	return nil
}

// shutdown tells every student, stops every lab, then closes the server.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.closing = true
	for sess := range s.sessions {
		// A client that stops reading blocks a write: never under s.mu,
		// never waited for.
		go func() {
			_, _ = fmt.Fprint(sess.Stderr(), "\r\nThe workshop server is stopping. Your progress is saved; connect again when it is back.\r\n")
		}()
	}
	labs := make([]*labRef, 0, len(s.labs))
	for _, l := range s.labs {
		labs = append(labs, l)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range labs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-l.ready
			if l.lab != nil {
				if err := l.lab.Stop(3 * time.Second); err != nil {
					s.log.Printf("stop the lab of %s: %v", l.name, err)
				}
			}
		}()
	}
	wg.Wait()
	_ = s.ssh.Close()
}

// admitConn rate-limits new connections per source address, before any
// handshake, and bounds how many each address and the server hold open:
// a flood from one address cannot starve the class.
func (s *Server) admitConn(_ ssh.Context, c net.Conn) net.Conn {
	host := addrHost(c.RemoteAddr())
	s.mu.Lock()
	defer s.mu.Unlock()
	lim, ok := s.limiters[host]
	if !ok {
		if len(s.limiters) > 10000 {
			clear(s.limiters) // addresses come and go; a fresh bucket is full
		}
		// A whole room may share one address behind a NAT and join in
		// the same minute: the burst takes every student twice over; a
		// flood from one address is held to 10 new connections a second.
		lim = rate.NewLimiter(10, max(40, 2*s.opts.MaxStudents))
		s.limiters[host] = lim
	}
	total := 0
	for _, n := range s.conns {
		total += n
	}
	switch {
	case !lim.Allow():
		s.log.Printf("refused a connection from %s: too many new connections from that address", host)
		return nil
	case s.conns[host] >= 3*s.opts.MaxStudents+10:
		s.log.Printf("refused a connection from %s: %d connections open from that address", host, s.conns[host])
		return nil
	case total >= 6*s.opts.MaxStudents+20:
		s.log.Printf("refused a connection from %s: %d connections open in all", host, total)
		return nil
	}
	s.conns[host]++
	return &countedConn{Conn: c, done: func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.conns[host]--; s.conns[host] <= 0 {
			delete(s.conns, host)
		}
	}}
}

// countedConn gives its place back when closed.
type countedConn struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.done)
	return c.Conn.Close()
}

// A connection carries a few sessions (the course, a command), each with
// at most one terminal: more is refused before the server makes a pty.
const maxChannelsPerConn = 4

// handshakeTimeout bounds how long a connection may take to log in: a
// student typing the class code and then a password, not a slot held
// open by a client that never does (--idle would allow hours).
var handshakeTimeout = 2 * time.Minute

// maxEnvPerSession bounds a session's env requests: the server keeps
// each one it accepts, and a client may send as many as it likes.
const maxEnvPerSession = 16

type channelCount struct{}

// countChannels refuses a connection's session channels past
// maxChannelsPerConn, and its pty requests past as many.
func countChannels(srv *ssh.Server, conn *gossh.ServerConn, newChan gossh.NewChannel, ctx ssh.Context) {
	n := channelCounter(ctx)
	if n.Add(1) > maxChannelsPerConn {
		n.Add(-1)
		_ = newChan.Reject(gossh.ResourceShortage, fmt.Sprintf("kcna-lab: at most %d sessions on one connection", maxChannelsPerConn))
		return
	}
	defer n.Add(-1)
	ssh.DefaultSessionHandler(srv, conn, boundedEnv{newChan}, ctx)
}

// boundedEnv is a session channel whose env requests are refused unless
// they name a variable of clientEnv, and past maxEnvPerSession: the
// rest could only grow the server's memory.
type boundedEnv struct{ gossh.NewChannel }

func (c boundedEnv) Accept() (gossh.Channel, <-chan *gossh.Request, error) {
	ch, reqs, err := c.NewChannel.Accept()
	if err != nil {
		return ch, reqs, err
	}
	out := make(chan *gossh.Request)
	go func() {
		defer close(out)
		envs := 0
		for req := range reqs {
			if req.Type == "env" {
				envs++
				var kv struct{ Key, Value string }
				if envs > maxEnvPerSession || gossh.Unmarshal(req.Payload, &kv) != nil || !slices.Contains(clientEnv, kv.Key) {
					_ = req.Reply(false, nil)
					continue
				}
			}
			out <- req
		}
	}()
	return ch, out, nil
}

func channelCounter(ctx ssh.Context) *atomic.Int32 {
	ctx.Lock()
	defer ctx.Unlock()
	if n, ok := ctx.Value(channelCount{}).(*atomic.Int32); ok {
		return n
	}
	n := new(atomic.Int32)
	ctx.SetValue(channelCount{}, n)
	return n
}

type ptyCount struct{}

// allowPty bounds the ptys one connection may have made.
func allowPty(ctx ssh.Context, _ ssh.Pty) bool {
	ctx.Lock()
	defer ctx.Unlock()
	n, _ := ctx.Value(ptyCount{}).(int)
	if n >= maxChannelsPerConn {
		return false
	}
	ctx.SetValue(ptyCount{}, n+1)
	return true
}

// handle is one SSH session: a student's course (with a terminal) or one
// CLI command, run in their lab.
func (s *Server) handle(sess ssh.Session) {
	name := sess.User()
	if name == InstructorName {
		s.instructorSession(sess)
		return
	}
	st, password, err := s.admitSession(sess)
	if err != nil {
		s.refuse(sess, err.Error())
		return
	}
	switch s.enter(sess, name) {
	case full:
		s.refuse(sess, fmt.Sprintf("The class is full: %d students are connected, the most this server takes. Ask your instructor, and try again in a moment.", s.opts.MaxStudents))
		return
	case tooMany:
		s.refuse(sess, fmt.Sprintf("You have %d sessions open already, the most one student may: close one first.", maxSessionsPerStudent))
		return
	case closing:
		s.refuse(sess, "The workshop server is stopping.")
		return
	}
	defer s.leave(sess, name)
	job, drained, err := s.job(sess)
	if err != nil {
		s.refuse(sess, err.Error())
		return
	}
	lab, err := s.labFor(st)
	if err != nil {
		closeStdio(job)
		drained()
		s.log.Printf("%s: %v", name, err)
		s.refuse(sess, "Your lab could not be started: "+err.Error()+". Tell your instructor.")
		return
	}
	defer s.release(name)
	if password != "" {
		showPassword(sess, name, password)
	}
	s.log.Printf("%s: %q from %s", name, describe(sess), sess.RemoteAddr())
	status := s.runJob(sess, lab, job)
	drained()
	_ = sess.Exit(status)
}

// runJob runs job in lab until it ends or the session goes.
func (s *Server) runJob(sess ssh.Session, lab *labhost.Lab, job labhost.Job) int {
	p, err := lab.Run(job)
	closeStdio(job) // the lab holds its own copies now
	if err != nil {
		_, _ = fmt.Fprintf(sess.Stderr(), "kcna-lab: %v\r\n", err)
		return 1
	}
	status := make(chan int, 1)
	go func() { status <- p.Wait() }()
	select {
	case st := <-status:
		if job.TTY {
			// Let the session copy the last of the terminal's output.
			time.Sleep(100 * time.Millisecond)
		}
		return st
	case <-sess.Context().Done():
		// The student went: the job goes too, as a shell's would on hang-up.
		_ = p.Signal(unix.SIGHUP)
		select {
		case st := <-status:
			return st
		case <-time.After(3 * time.Second):
			_ = p.Signal(unix.SIGKILL)
		}
		select {
		case st := <-status:
			return st
		case <-time.After(5 * time.Second):
			// The lab's init does not answer (its student may have stopped
			// it); the session ends anyway, and the lab's stop kills all.
			return 255
		}
	}
}

// refuse tells the student why, on the session's stderr, and ends it.
func (s *Server) refuse(sess ssh.Session, why string) {
	s.log.Printf("refused %q from %s: %q", sess.User(), sess.RemoteAddr(), why)
	_, _ = fmt.Fprintf(sess.Stderr(), "kcna-lab: %s\r\n", strings.ReplaceAll(why, "\n", "\r\n"))
	_ = sess.Exit(1)
}

// entry is whether a session may come in.
type entry int

const (
	admitted entry = iota
	full           // the class has MaxStudents connected
	tooMany        // this student has maxSessionsPerStudent open
	closing        // the server is stopping
)

// maxSessionsPerStudent bounds one student's open sessions (each holds a
// pty and a process): the course, a CLI command or two, a second terminal.
const maxSessionsPerStudent = 6

// enter counts a session in, unless the class is full (a student's
// second session always fits) or the student has too many open.
func (s *Server) enter(sess ssh.Session, name string) entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		return closing
	case s.connected[name] == 0 && len(s.connected) >= s.opts.MaxStudents:
		return full
	case s.connected[name] >= maxSessionsPerStudent:
		return tooMany
	}
	s.connected[name]++
	s.sessions[sess] = struct{}{}
	s.roster.Sessions(name, +1)
	return admitted
}

func (s *Server) leave(sess ssh.Session, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess)
	s.roster.Sessions(name, -1)
	if s.connected[name]--; s.connected[name] <= 0 {
		delete(s.connected, name)
	}
}

func describe(sess ssh.Session) string {
	if len(sess.Command()) == 0 {
		return "the course"
	}
	return "kcna-lab " + strings.Join(sess.Command(), " ")
}

func closeStdio(job labhost.Job) {
	seen := map[*os.File]bool{}
	for _, f := range job.Stdio {
		if f != nil && !seen[f] {
			seen[f] = true
			if !job.TTY {
				_ = f.Close()
			}
		}
	}
}

// publicKeyExt is where charm.land/ssh looks for the session's public key
// in the connection's permissions (sess.PublicKey()); the auth callbacks
// here are gossh's own, so they put it there themselves.
const publicKeyExt = "gliderlabs/ssh.PublicKey"

// openRoster puts every student on the roll on the class's roster.
func (s *Server) openRoster() error {
	s.roster = roster.New(s.opts.Course, roster.Options{})
	students, err := s.class.Students()
	if err != nil {
		return err
	}
	for _, st := range students {
		s.roster.AddIn(st.Name, HomeDir(s.opts.State, st.Name), progressRel)
	}
	return nil
}
