package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/tui"
)

// noTerminal is printed, instead of Bubble Tea's raw TTY error, when the
// course is started without a terminal (in a pipe, cron, CI).
const noTerminal = "kcna-lab: the course needs a terminal; without one, try `kcna-lab lessons`, `kcna-lab show LESSON`, `kcna-lab progress` or `kcna-lab --help`"

func (a *app) runTUI(ctx context.Context) error {
	_, inOK := terminal(a.stdin)
	_, outOK := terminal(a.stdout)
	if !inOK || !outOK {
		fmt.Fprintln(a.stderr, noTerminal)
		return exitError{code: 2}
	}
	course, err := a.course()
	if err != nil {
		return err
	}
	store, p, notice, err := a.openProgress()
	if err != nil {
		return err
	}
	defer a.mentionKeptSandboxes()
	return tui.Run(ctx, tui.Options{
		Course:   course,
		Progress: p,
		Saver:    store,
		Notice:   notice,
		Lab:      lab{reg: demos.Builtin(), course: course},
		Version:  buildVersion(),
		ShellCmd: func(lessonID string) (*exec.Cmd, error) {
			return shellFor(course, lessonID)
		},
		KeptSandboxes: keptSandboxes,
		StopSandbox:   stopSandbox,
	})
}

// lab hands the built-in demos and checks to the TUI, which declares
// what it needs of them (tui.Lab) so that it does not link their code.
type lab struct {
	reg    *demos.Registry
	course *lessons.Course
}

// CannotRun is tui.Limits: by lesson, why this host cannot run its
// challenges, as doctor finds.
func (l lab) CannotRun() map[string]string {
	return cannotRun(l.course, l.reg, sandbox.Doctor())
}

func (l lab) Demo(id string) (tui.Demo, bool) {
	d, ok := l.reg.Demo(id)
	return tui.Demo{Title: d.Title, Run: d.Run}, ok
}

func (l lab) Check(id string) (tui.Check, bool) {
	c, ok := l.reg.Check(id)
	if !ok {
		return tui.Check{}, false
	}
	verify := func(ctx context.Context) (tui.Verdict, error) {
		v, err := c.Verify(ctx)
		return tui.Verdict{Passed: v.Passed, Detail: v.Detail}, err
	}
	return tui.Check{Verify: verify, Setup: c.Setup}, true
}

// keptSandboxes names the sandboxes still running, for the question the
// TUI asks on quitting.
func keptSandboxes() ([]string, error) {
	list, err := sandbox.List()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = s.Name
	}
	return names, nil
}

// stopSandbox is `kcna-lab stop NAME`, run as its own process so that the
// TUI stops a sandbox exactly as the learner would; its output says what
// went wrong.
func stopSandbox(name string) error {
	out, err := exec.Command("/proc/self/exe", "stop", name).CombinedOutput()
	if err != nil {
		return fmt.Errorf("kcna-lab stop %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// mentionKeptSandboxes says which sandboxes are still running after the
// course closes: a lesson's `s` keeps its sandbox for the challenge check,
// and nothing should keep running unnoticed.
func (a *app) mentionKeptSandboxes() {
	list, err := sandbox.List()
	if err != nil || len(list) == 0 {
		return
	}
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = s.Name
	}
	fmt.Fprintf(a.stderr, "kcna-lab: still running: %s. `kcna-lab ps` lists them, `kcna-lab stop NAME` ends one.\n", strings.Join(names, ", "))
}

// shellFor is `kcna-lab shell` with the flags of the lesson's demo, for
// the TUI's `s`: the learner's terminal is handed to it and comes back.
func shellFor(course *lessons.Course, lessonID string) (*exec.Cmd, error) {
	l, ok := course.Lesson(lessonID)
	if !ok {
		return nil, fmt.Errorf("no lesson %q", lessonID)
	}
	args := []string{"shell"}
	reg := demos.Builtin()
	for _, id := range l.Demos {
		if d, ok := reg.Demo(id); ok {
			args = append(args, d.ShellFlags...)
			break
		}
	}
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Env = os.Environ()
	return cmd, nil
}
