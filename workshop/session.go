package workshop

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"charm.land/ssh"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

// labRef is a student's lab, shared by their sessions.
type labRef struct {
	name  string
	lab   *labhost.Lab
	err   error
	ready chan struct{} // closed once lab or err is set
	refs  int
	// linger stops the lab once its last session has been gone a while;
	// gone is closed once a stopping lab is torn down, before which no
	// new lab of the same student may start (they share a cgroup name).
	linger *time.Timer
	gone   chan struct{}
}

// labFor returns the student's running lab, starting it for their first
// session. Release it with s.release when the session ends.
func (s *Server) labFor(st Student) (*labhost.Lab, error) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil, errors.New("the workshop server is stopping")
	}
	ref, ok := s.labs[st.Name]
	for ok {
		if ref.gone == nil && ref.lab != nil && ended(ref.lab.Done()) {
			// Its init died (killed by the OOM killer, or by its student):
			// clear it away before a new one takes the name.
			s.stopInBackground(ref)
		}
		if ref.gone == nil {
			break
		}
		s.mu.Unlock()
		<-ref.gone
		s.mu.Lock()
		ref, ok = s.labs[st.Name]
	}
	if !ok {
		ref = &labRef{name: st.Name, ready: make(chan struct{})}
		s.labs[st.Name] = ref
		go s.startLab(ref, st)
	}
	ref.refs++
	if ref.linger != nil {
		ref.linger.Stop()
		ref.linger = nil
	}
	s.mu.Unlock()
	<-ref.ready
	if ref.err != nil {
		s.mu.Lock()
		if ref.refs--; ref.refs == 0 && s.labs[st.Name] == ref {
			delete(s.labs, st.Name) // the next session tries afresh
		}
		s.mu.Unlock()
		return nil, ref.err
	}
	return ref.lab, nil
}

func ended(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

func (s *Server) startLab(ref *labRef, st Student) {
	defer close(ref.ready)
	ref.lab, ref.err = labhost.Start(labhost.Config{
		Name: st.Name, Slot: st.Slot, Dir: filepath.Join(s.opts.State, "students", st.Name),
		Bin: s.bin, Content: s.opts.Content, Class: filepath.Join(s.opts.State, "class"), Quota: s.opts.Quota, Log: s.opts.Log,
	})
	if ref.err == nil {
		s.log.Printf("%s: lab started (init pid %d, uid range from %d)", st.Name, ref.lab.InitPID(), labhost.HostID(st.Slot))
	}
}

// release drops a session's hold on the lab; the last one out starts the
// linger, after which the lab and everything in it stops.
func (s *Server) release(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.labs[name]
	if !ok {
		return
	}
	if ref.refs--; ref.refs > 0 {
		return
	}
	if s.opts.Linger <= 0 {
		s.stopLocked(ref)
		return
	}
	ref.linger = time.AfterFunc(s.opts.Linger, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.stopLocked(ref)
	})
}

// stopLocked stops ref's lab in the background unless a session took it
// again; s.mu is held.
func (s *Server) stopLocked(ref *labRef) {
	if ref.refs > 0 || ref.gone != nil || s.labs[ref.name] != ref {
		return
	}
	s.stopInBackground(ref)
}

// stopInBackground stops ref's lab; ref stays in s.labs, marked gone,
// until its cgroups are removed. s.mu is held.
func (s *Server) stopInBackground(ref *labRef) {
	ref.gone = make(chan struct{})
	go func() {
		if err := ref.lab.Stop(2 * time.Second); err != nil {
			s.log.Printf("%s: stop the lab: %v", ref.name, err)
		} else {
			s.log.Printf("%s: lab stopped, nothing left", ref.name)
		}
		s.mu.Lock()
		if s.labs[ref.name] == ref {
			delete(s.labs, ref.name)
		}
		close(ref.gone)
		s.mu.Unlock()
	}()
}

// refused are commands that mean nothing to a student: the server is
// not theirs to serve or sweep.
var refused = map[string]string{
	"serve":    "serve runs a workshop server; you are already on one",
	"class":    "class lists the whole class's results, which are the instructor's to see; yours are in: progress",
	"apparmor": "apparmor writes a profile for the server's administrator to install; your lab needs none",
}

// job turns the session into what runs in the lab: the course when there
// is no command (it needs a terminal: ssh -t), else the kcna-lab command.
// drained returns once the session has had all of the job's output.
func (s *Server) job(sess ssh.Session) (job labhost.Job, drained func(), err error) {
	args := sess.Command()
	if len(args) > 0 && args[0] == "kcna-lab" {
		args = args[1:] // `ssh host -- kcna-lab progress` means the same
	}
	if len(args) > 0 {
		if why, ok := refused[args[0]]; ok {
			return labhost.Job{}, nil, fmt.Errorf("%s", why)
		}
	}
	pty, _, hasPty := sess.Pty()
	if len(args) == 0 && !hasPty {
		return labhost.Job{}, nil, fmt.Errorf("the course needs a terminal: connect with ssh -t (or without a command); for one command, give it: ssh ... %s@HOST -- progress", sess.User())
	}
	job = labhost.Job{
		Args: append([]string{"/opt/kcna-lab/bin/kcna-lab"}, args...),
		Env:  s.env(sess, pty.Term),
		Dir:  "/root",
	}
	var done sync.WaitGroup
	if hasPty {
		job.TTY = true
		job.Stdio = [3]*os.File{pty.Slave, pty.Slave, pty.Slave}
		return job, done.Wait, nil
	}
	stdio, err := pipeSession(sess, &done)
	if err != nil {
		return labhost.Job{}, nil, err
	}
	job.Stdio = stdio
	return job, done.Wait, nil
}

// pipeSession connects a session without a terminal through pipes: the
// lab gets the pipes' far ends, the copies end with the job.
func pipeSession(sess ssh.Session, done *sync.WaitGroup) ([3]*os.File, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return [3]*os.File{}, fmt.Errorf("pipe for the session: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return [3]*os.File{}, fmt.Errorf("pipe for the session: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return [3]*os.File{}, fmt.Errorf("pipe for the session: %w", err)
	}
	go func() { _, _ = io.Copy(inW, sess); inW.Close() }()
	done.Add(2)
	go func() { defer done.Done(); _, _ = io.Copy(sess, outR); outR.Close() }()
	go func() { defer done.Done(); _, _ = io.Copy(sess.Stderr(), errR); errR.Close() }()
	return [3]*os.File{inR, outW, errW}, nil
}

// clientEnv are the variables a student's SSH client may set in their lab:
// how their terminal draws, nothing that changes what runs.
var clientEnv = []string{"LANG", "LC_ALL", "LC_CTYPE", "COLORTERM", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE"}

func (s *Server) env(sess ssh.Session, term string) []string {
	if term == "" {
		term = "dumb"
	}
	env := []string{
		"HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/sh", "TERM=" + term,
		"PATH=/opt/kcna-lab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"KCNA_LAB_WORKSHOP=" + sess.User(),
		"KCNA_LAB_CLASSROOM=/opt/kcna-lab/class/" + lessons.ClassroomFile,
	}
	if _, err := os.Stat(filepath.Join(s.bin, "kcna-lab-init")); err == nil {
		env = append(env, "KCNA_LAB_INIT=/opt/kcna-lab/bin/kcna-lab-init")
	}
	// Named, as the init is: in the lab's user namespace the programs'
	// owner (the server's root) is nobody, whom kcna-lab does not trust
	// to run beside it unnamed.
	env = append(env, "KCNA_LAB_FULL=/opt/kcna-lab/bin/kcna-lab-full")
	// The instructor's course goes in the environment, which a student
	// cannot set (clientEnv), not in the arguments, which they write:
	// cobra takes a flag's last value, so their own --content after ours
	// would load a course of theirs whose checks pass at will. kcna-lab
	// refuses a --content of their own on a workshop server.
	if s.opts.Content != "" {
		env = append(env, "KCNA_LAB_CONTENT="+labhost.ContentDir)
	}
	// KCNA_LAB_INIT names the sandboxes' init: it is root-owned on the
	// server, so nobody's in the lab, and kcna-lab would not trust it by
	// its owner.
	for _, kv := range sess.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, allowed := range clientEnv {
			if k == allowed {
				env = append(env, kv)
			}
		}
	}
	if !hasKey(env, "LANG") {
		env = append(env, "LANG=C.UTF-8")
	}
	return env
}

func hasKey(env []string, k string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			return true
		}
	}
	return false
}

// showPassword tells a student who joined without a key the password now
// pinned to their name, once, before anything else runs. On a terminal
// it waits for enter, so the course's screen does not wipe it.
func showPassword(sess ssh.Session, name, password string) {
	msg := fmt.Sprintf("\r\nWelcome, %s. You joined without an SSH key, so your name is kept for you by a password:\r\n\r\n    %s\r\n\r\nWrite it down: next time, ssh asks for it (nobody else can be %s without it).\r\nWith a key you would not need it: ssh-keygen -t ed25519, then connect as a new name.\r\n", name, password, name)
	pty, _, ok := sess.Pty()
	if !ok {
		_, _ = io.WriteString(sess.Stderr(), msg)
		return
	}
	_, _ = io.WriteString(pty.Slave, msg+"\r\nPress enter to start. ")
	// The terminal is in its canonical mode: a read returns a line.
	_ = pty.Slave.SetReadDeadline(time.Now().Add(5 * time.Minute))
	_, _ = pty.Slave.Read(make([]byte, 256))
	_ = pty.Slave.SetReadDeadline(time.Time{})
}
