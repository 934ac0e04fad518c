package workshop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2/bubbletea"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/workshop/dashboard"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
	"github.com/kcna-lab/kcna-lab/workshop/roster"
)

// InstructorName is the SSH user an instructor connects as. It is no
// student's name: ValidName refuses it.
const InstructorName = "instructor"

// roleExt marks a connection authenticated by an instructor's key; only
// checkKey sets it, and only for InstructorName.
const roleExt = "kcna-lab-role"

// HomeDir is a student's home on the server, their lab's /root.
func HomeDir(state, name string) string { return filepath.Join(state, "students", name, "home") }

// progressRel is where the student's course keeps progress and activity
// in their home (lessons.DefaultStore, as root in the lab).
const progressRel = ".local/state/kcna-lab"

// ReadStudentFile reads a file the student's course wrote (progress.json,
// activity.json) from their home, never following a link of theirs out
// of it, and no bigger than the roster reads it (labhost.ReadInRootLimit).
func ReadStudentFile(state, name, file string) ([]byte, error) {
	limit := int64(roster.MaxActivityFile)
	if file == "progress.json" {
		limit = roster.MaxProgressFile
	}
	f, err := labhost.ReadInRootLimit(HomeDir(state, name), filepath.Join(progressRel, file), limit)
	return f.Data, err
}

// ParseInstructorKeys reads an authorized_keys file: one key a line,
// comments and blank lines skipped.
func ParseInstructorKeys(path string) ([]gossh.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the instructors' keys: %w", err)
	}
	var keys []gossh.PublicKey
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not an authorized_keys line (%w): give one public key a line, as ssh-keygen writes it (~/.ssh/id_ed25519.pub)", path, n+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no public key: put the instructors' keys in it, one a line", path)
	}
	return keys, nil
}

// isInstructorKey reports whether key is one of the instructors'.
func (s *Server) isInstructorKey(key gossh.PublicKey) bool {
	for _, k := range s.opts.InstructorKeys {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			return true
		}
	}
	return false
}

// instructorSession is the instructor's session: the dashboard on a
// terminal, or `class` for the results.
func (s *Server) instructorSession(sess ssh.Session) {
	if sess.Permissions().Extensions[roleExt] != InstructorName {
		s.refuse(sess, "the instructor's session needs a key listed in the server's --instructor-key file")
		return
	}
	who := fmt.Sprintf("instructor %s from %s", gossh.FingerprintSHA256(sess.PublicKey()), addrHost(sess.RemoteAddr()))
	args := sess.Command()
	if len(args) > 0 && args[0] == "kcna-lab" {
		args = args[1:]
	}
	s.log.Printf("%s: %q", who, describe(sess))
	switch {
	case len(args) > 0 && args[0] == "class":
		_ = sess.Exit(s.classCommand(sess, args[1:]))
	case len(args) > 0:
		s.refuse(sess, fmt.Sprintf("an instructor's session runs the dashboard (no command) or `class [--json|--csv]`, not %q", strings.Join(args, " ")))
	default:
		if _, _, ok := sess.Pty(); !ok {
			s.refuse(sess, "the dashboard needs a terminal: connect with ssh -t, or run `class --json`")
			return
		}
		m := dashboard.New(s.Roster(), s.Course(), s.actionsFor(who))
		bubbletea.MiddlewareWithProgramHandler(func(sess ssh.Session) *tea.Program {
			return tea.NewProgram(m, bubbletea.MakeOptions(sess)...)
		})(func(ssh.Session) {})(sess)
		_ = sess.Exit(0)
	}
}

// classCommand writes the class's results: a table, --json or --csv.
func (s *Server) classCommand(sess ssh.Session, args []string) int {
	format := "table"
	for _, a := range args {
		switch a {
		case "--json":
			format = "json"
		case "--csv":
			format = "csv"
		default:
			fmt.Fprintf(sess.Stderr(), "kcna-lab class: unknown argument %q (give --json or --csv)\r\n", a)
			return 2
		}
	}
	if err := roster.Export(sess, s.Roster(), s.Course(), format); err != nil {
		fmt.Fprintf(sess.Stderr(), "kcna-lab class: %v\r\n", err)
		return 1
	}
	return 0
}

// Roster is the live class.
func (s *Server) Roster() *roster.Roster { return s.roster }

// Course is the course the class takes.
func (s *Server) Course() *lessons.Course { return s.opts.Course }

// Actions are what an instructor does to the class, each logged with who.
type Actions struct {
	s   *Server
	who string
}

func (s *Server) actionsFor(who string) dashboard.Actions { return Actions{s: s, who: who} }

// LocalActions are the actions of the instructor at the server's own
// terminal (serve --dashboard).
func (s *Server) LocalActions() dashboard.Actions {
	return Actions{s: s, who: "instructor at the server's terminal"}
}

// Broadcast shows msg to every student until they dismiss it.
func (a Actions) Broadcast(msg string) error {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return errors.New("the message is empty")
	}
	err := a.s.updateClassroom(func(c *lessons.Classroom) {
		c.Notice, c.NoticeID, c.NoticeAt = msg, time.Now().UnixNano(), time.Now().UTC()
	})
	a.s.log.Printf("%s: broadcast %q (%v)", a.who, msg, errOK(err))
	return err
}

// Pace opens lessons 1 to through and marks the later ones "wait for the
// instructor"; 0 opens all.
func (a Actions) Pace(through int) error {
	if through < 0 || through > len(a.s.opts.Course.Lessons) {
		return fmt.Errorf("pace: give a lesson from 1 to %d, or 0 for all", len(a.s.opts.Course.Lessons))
	}
	err := a.s.updateClassroom(func(c *lessons.Classroom) { c.PaceThrough = through })
	a.s.log.Printf("%s: pace the class through lesson %d (%v)", a.who, through, errOK(err))
	return err
}

// StopSandboxes stops every sandbox running in the student's lab, as
// their own `kcna-lab stop` would.
func (a Actions) StopSandboxes(name string) error {
	err := a.s.stopSandboxes(name)
	a.s.log.Printf("%s: stop the sandboxes of %s (%v)", a.who, name, errOK(err))
	return err
}

// ResetLab stops the student's lab with everything in it; their progress
// stays in their home. Their sessions end; the next starts a fresh lab.
func (a Actions) ResetLab(name string) error {
	err := a.s.resetLab(name)
	a.s.log.Printf("%s: reset the lab of %s (%v)", a.who, name, errOK(err))
	return err
}

// EndSession stops the server for everyone: sessions told, labs stopped,
// progress saved.
func (a Actions) EndSession() error {
	a.s.log.Printf("%s: end the session for everyone", a.who)
	a.s.mu.Lock()
	end := a.s.end
	a.s.mu.Unlock()
	if end == nil {
		return errors.New("the server is not serving")
	}
	end()
	return nil
}

func errOK(err error) string {
	if err != nil {
		return "failed: " + err.Error()
	}
	return "done"
}

// updateClassroom changes the classroom file every lab reads.
func (s *Server) updateClassroom(change func(*lessons.Classroom)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := filepath.Join(s.opts.State, "class", lessons.ClassroomFile)
	var c lessons.Classroom
	if _, err := lessons.ReadJSON(path, &c); err != nil {
		return err
	}
	change(&c)
	return lessons.WriteJSON(path, c, 0o644)
}

func (s *Server) runningLab(name string) (*labhost.Lab, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ref, ok := s.labs[name]
	if !ok || ref.gone != nil || !ended(ref.ready) || ref.lab == nil {
		return nil, false
	}
	return ref.lab, true
}

func (s *Server) stopSandboxes(name string) error {
	lab, ok := s.runningLab(name)
	if !ok {
		return fmt.Errorf("%s has no lab running", name)
	}
	u, err := lab.Usage()
	if err != nil {
		return err
	}
	var failed []string
	for _, sb := range u.Sandboxes {
		if st := s.runQuiet(name, lab, "/opt/kcna-lab/bin/kcna-lab", "stop", "--timeout", "3s", sb.Name); st != 0 {
			failed = append(failed, sb.Name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not stop %s", strings.Join(failed, ", "))
	}
	return nil
}

// runQuietTimeout bounds a command the instructor runs in a lab: the
// student's lab is theirs, and what runs in it may hang (a sandbox that
// ignores its stop, a lab whose memory is full).
var runQuietTimeout = 30 * time.Second

// runQuiet runs a command in a student's lab, its output dropped, and
// returns its exit status; after runQuietTimeout its process group is
// killed. Both ends are logged: the instructor's action waits on it.
func (s *Server) runQuiet(name string, lab *labhost.Lab, args ...string) int {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 255
	}
	defer null.Close()
	s.log.Printf("%s's lab: run %q", name, args)
	p, err := lab.Run(labhost.Job{Args: args, Dir: "/root", Stdio: [3]*os.File{null, null, null},
		Env: []string{"HOME=/root", "PATH=/opt/kcna-lab/bin:/usr/sbin:/usr/bin:/sbin:/bin"}})
	if err != nil {
		s.log.Printf("%s's lab: run %q: %v", name, args, err)
		return 255
	}
	exited := make(chan int, 1)
	go func() { exited <- p.Wait() }()
	var st int
	select {
	case st = <-exited:
	case <-time.After(runQuietTimeout):
		s.log.Printf("%s's lab: %q still running after %s: killed", name, args, runQuietTimeout)
		_ = p.Signal(unix.SIGKILL)
		select {
		case st = <-exited:
		case <-time.After(5 * time.Second):
			st = 255 // the lab did not report it; its stop will end it
		}
	}
	s.log.Printf("%s's lab: %q exited with status %d", name, args, st)
	return st
}

func (s *Server) resetLab(name string) error {
	s.mu.Lock()
	ref, ok := s.labs[name]
	if !ok || ref.gone != nil || !ended(ref.ready) || ref.lab == nil {
		s.mu.Unlock()
		return fmt.Errorf("%s has no lab running", name)
	}
	for sess := range s.sessions {
		if sess.User() == name {
			go func() {
				_, _ = fmt.Fprint(sess.Stderr(), "\r\nYour instructor reset your lab: your sandboxes are gone, your progress is kept. Connect again for a fresh lab.\r\n")
			}()
		}
	}
	s.stopInBackground(ref)
	gone := ref.gone
	s.mu.Unlock()
	select {
	case <-gone:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the lab of %s did not stop within 30s", name)
	}
}

// sampleUsage tells the roster, every interval, what the kernel reports
// of each lab: memory has no event to wait for.
func (s *Server) sampleUsage(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, name := range s.roster.Names() {
			lab, ok := s.runningLab(name)
			if !ok {
				s.roster.SetUsage(name, labhost.Usage{}, false)
				continue
			}
			u, err := lab.Usage()
			s.roster.SetUsage(name, u, err == nil)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
