// Package e2e drives the built kcna-lab binary in tmux at 80x24, the way a
// learner would: open a lesson, answer a question, quit, come back.
package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// session is one tmux server of our own, so the test never touches the
// learner's tmux.
type session struct {
	t      *testing.T
	socket string
}

func newSession(t *testing.T) *session {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux); the end-to-end test drives the app through it")
	}
	s := &session{t: t, socket: fmt.Sprintf("kcna-e2e-%d", os.Getpid())}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func (s *session) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// start runs the binary in a fresh 80x24 window with env set.
func (s *session) start(bin string, env ...string) {
	s.t.Helper()
	cmd := "env " + strings.Join(env, " ") + " " + bin + "; echo kcna-lab-exited-$?; sleep 30"
	s.tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "main", cmd)
}

func (s *session) screen() string { return s.tmux("capture-pane", "-p", "-t", "main") }

func (s *session) keys(keys ...string) {
	s.tmux(append([]string{"send-keys", "-t", "main"}, keys...)...)
}

// waitFor polls the screen until it shows text.
func (s *session) waitFor(text string) string {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		scr := s.screen()
		if strings.Contains(scr, text) {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %q; last screen:\n%s", text, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// build makes kcna-lab and, beside it, kcna-lab-init, as `make build`
// does.
func build(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := testbuild.Lab(t, dir)
	testbuild.Init(t, dir)
	return bin
}

func TestLessonQuizProgressSurvivesRestart(t *testing.T) {
	s := newSession(t)
	bin := build(t)
	state := t.TempDir()
	env := []string{"XDG_STATE_HOME=" + state, "SUDO_USER=", "TERM=xterm-256color"}

	course, probs := parse.Load(content.FS, demos.Builtin())
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	first := course.Lessons[0]
	q := first.Quiz[0]

	s.start(bin, env...)
	scr := s.waitFor(first.Title)
	if !strings.Contains(scr, "not started") {
		t.Fatalf("a fresh course map should show the lesson not started:\n%s", scr)
	}
	s.keys("Enter")
	s.waitFor("After this lesson you can")
	s.keys("z")
	s.waitFor("question 1 of")
	// Pick the right answer by its letters, as a learner would.
	for _, a := range q.Answers {
		s.keys(lessons.Letter(a))
	}
	s.keys("Enter")
	s.waitFor("Right.")
	s.keys("q") // from the quiz back to the lesson, then to the map
	s.waitFor("r run demo")
	s.keys("q")
	scr = s.waitFor("quiz 1/")
	if !strings.Contains(scr, "in progress") {
		t.Fatalf("after a right answer the lesson should be in progress:\n%s", scr)
	}
	s.quit()

	if _, err := os.Stat(filepath.Join(state, "kcna-lab", "progress.json")); err != nil {
		t.Fatalf("no progress file after quitting: %v", err)
	}

	// Start again: the course reopens in the lesson left, and the
	// progress is still there.
	s.tmux("kill-session", "-t", "main")
	s.start(bin, env...)
	s.waitFor(fmt.Sprintf("%d. %s", first.Order, first.Title))
	s.keys("q")
	scr = s.waitFor("quiz 1/")
	want := fmt.Sprintf("quiz 1/%d", len(first.Quiz))
	if !strings.Contains(scr, want) || !strings.Contains(scr, "in progress") {
		t.Fatalf("progress not kept across a restart, want %q:\n%s", want, scr)
	}
	s.quit()
}

// quit presses q on the course map. When the course asks about sandboxes
// still running (another test's, run at the same time), it keeps them:
// they are not this test's to stop.
func (s *session) quit() {
	s.t.Helper()
	s.keys("q")
	deadline := time.Now().Add(10 * time.Second)
	for {
		scr := s.screen()
		if strings.Contains(scr, "kcna-lab-exited-0") {
			return
		}
		if strings.Contains(scr, "Sandboxes still running") {
			s.keys("n")
			s.waitFor("kcna-lab-exited-0")
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the course did not quit; last screen:\n%s", scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWithoutATerminalItSaysSoAndExits2(t *testing.T) {
	bin := build(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "XDG_STATE_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want status 2; output:\n%s", err, out)
	}
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "needs a terminal") {
		t.Fatalf("want one clear line, got:\n%s", out)
	}
}
