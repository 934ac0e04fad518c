package workshop

// What the workshop tests share: the programs and a class directory, SSH
// clients as students, a student's course on a terminal, and the host's
// view of what labs could leave behind.

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

// programs puts kcna-lab and kcna-lab-init in a directory, as serve finds
// them beside itself, and skips the test where a server cannot run.
func programs(t *testing.T) (dir, kcnaLab string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("serve needs root: it maps uid ranges and makes cgroups")
	}
	if err := testbuild.Available(); err != nil {
		t.Skip(err)
	}
	dir = t.TempDir()
	kcnaLab = testbuild.Lab(t, dir)
	testbuild.Init(t, dir)
	return dir, kcnaLab
}

// classDir is a directory for --state whose parents the students' labs
// can pass through, as serve requires.
func classDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != "/tmp" && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "class")
}

// serveProcess starts `kcna-lab serve` as a learner's instructor would, on
// a free loopback port, its output in a log the test prints if it fails.
func serveProcess(t *testing.T, kcnaLab, state string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	addr := freeAddr(t)
	log, err := os.CreateTemp(filepath.Dir(state), "serve-*.log")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("serve's log:\n%s", tail(string(b), 4000))
		}
		log.Close()
	})
	cmd := exec.Command(kcnaLab, append([]string{"serve", "--listen", addr, "--state", state}, args...)...)
	cmd.Stdout, cmd.Stderr = log, log
	// A test killed by its timeout must not leave a server running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitListening(t, addr)
	return cmd, addr
}

// course is a student's course on a terminal, over SSH.
type course struct {
	conn   *gossh.Client
	sess   *gossh.Session
	stdin  io.WriteCloser
	screen *syncBuffer
}

// openCourse connects c with a rows x cols terminal and waits for the
// course map (or wherever the course reopens).
func openCourse(addr string, c *client, rows, cols int, screen *syncBuffer) (*course, error) {
	conn, err := c.dial(addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w (told %q)", err, c.told)
	}
	co := &course{conn: conn, screen: screen}
	if co.sess, err = conn.NewSession(); err != nil {
		conn.Close()
		return nil, err
	}
	if err := co.sess.RequestPty("xterm-256color", rows, cols, gossh.TerminalModes{}); err != nil {
		conn.Close()
		return nil, err
	}
	if co.stdin, err = co.sess.StdinPipe(); err != nil {
		conn.Close()
		return nil, err
	}
	co.sess.Stdout, co.sess.Stderr = screen, screen // a terminal shows both
	if err := co.sess.Shell(); err != nil {
		conn.Close()
		return nil, err
	}
	return co, nil
}

func (co *course) close() { co.conn.Close() }

// press types keys and waits for want to appear on the screen.
func (co *course) press(keys, want string, within time.Duration) error {
	if _, err := io.WriteString(co.stdin, keys); err != nil {
		return fmt.Errorf("type %q: %w", keys, err)
	}
	if err := waitScreen(co.screen, want, within); err != nil {
		return fmt.Errorf("after %q: %w", keys, err)
	}
	return nil
}

// syncBuffer is a terminal's output as it arrives; frames, if set, gets
// the time of each arrival (dropped when full).
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	frames chan time.Time
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.frames != nil {
		select {
		case s.frames <- time.Now():
		default:
		}
	}
	return s.b.Write(p)
}

// Reset forgets what arrived so far: a wait then sees only what comes next.
func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newKey(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// client is how a student connects: a key (or none) and what they answer
// when asked something; told collects what the server tells them.
type client struct {
	user string
	key  gossh.Signer
	code string
	told []string
}

func (c *client) dial(addr string) (*gossh.Client, error) {
	var auths []gossh.AuthMethod
	if c.key != nil {
		auths = append(auths, gossh.PublicKeys(c.key))
	}
	auths = append(auths, gossh.KeyboardInteractive(func(_, instruction string, questions []string, _ []bool) ([]string, error) {
		if instruction != "" {
			c.told = append(c.told, instruction)
		}
		answers := make([]string, len(questions))
		for i := range answers {
			answers[i] = c.code
		}
		return answers, nil
	}))
	return gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User: c.user, Auth: auths, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
}

// run runs one command over SSH without a terminal.
func (c *client) run(t *testing.T, addr, command string) (stdout, stderr string, status int) {
	t.Helper()
	conn, err := c.dial(addr)
	if err != nil {
		t.Fatalf("%s: dial: %v (told %q)", c.user, err, c.told)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errOut
	err = sess.Run(command)
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		status = ee.ExitStatus()
	case err != nil:
		t.Fatalf("%s: %s: %v", c.user, command, err)
	}
	return out.String(), errOut.String(), status
}

// leftovers lists what labs could leave on the host, as the kernel shows
// it: students' cgroups, processes in a student's uid range, lab journals.
func leftovers(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	cgs, _ := filepath.Glob("/sys/fs/cgroup/*/kcna-lab/kcna-student-*")
	v2, _ := filepath.Glob("/sys/fs/cgroup/kcna-lab/kcna-student-*")
	for _, c := range append(cgs, v2...) {
		fmt.Fprintln(&b, "cgroup", c)
	}
	// A lab's init killed with its server is reparented to the host's PID
	// 1, which reaps it in its own time: a zombie holds nothing but its
	// PID, and is not counted.
	out, _ := exec.Command("ps", "-e", "-o", "uid=,stat=,pid=,args=").Output()
	for _, line := range strings.Split(string(out), "\n") {
		var uid int
		var stat string
		if _, err := fmt.Sscan(line, &uid, &stat); err == nil && uid >= labhost.FirstID && !strings.HasPrefix(stat, "Z") {
			fmt.Fprintln(&b, "process", strings.TrimSpace(line))
		}
	}
	js, _ := filepath.Glob(filepath.Join(sandbox.JournalDir(), "lab-*"))
	for _, j := range js {
		fmt.Fprintln(&b, "journal", j)
	}
	return b.String()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]`)

// plain is the terminal stream without escape sequences: text that the
// renderer wrote in one run reads as it does on screen.
func plain(s string) string { return ansi.ReplaceAllString(s, "") }

func waitScreen(screen *syncBuffer, want string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for !strings.Contains(plain(screen.String()), want) {
		if time.Now().After(deadline) {
			return fmt.Errorf("%q did not appear within %v; screen ends:\n%s", want, d, tail(plain(screen.String()), 600))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitListening(t *testing.T, addr string) {
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("serve did not listen on %s", addr)
}

// rssKB is a process's resident memory, from /proc/PID/status.
func rssKB(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

func statUID(fi os.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// builtinCourse is the course the server's labs run, for the roster.
func builtinCourse(t *testing.T) *lessons.Course {
	t.Helper()
	c, probs := parse.Load(content.FS, demos.Builtin())
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return c
}
