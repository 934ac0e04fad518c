package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/sandbox"
	"github.com/kcna-lab/kcna-lab/tui"
)

// noTerminal is printed, instead of Bubble Tea's raw TTY error, when the
// course is started without a terminal (in a pipe, cron, CI).
const noTerminal = "kcna-lab: the course needs a terminal; without one, try `kcna-lab lessons`, `kcna-lab show LESSON`, `kcna-lab progress` or `kcna-lab --help`"

func (a *app) runTUI(ctx context.Context) error {
	cli.LongLived()
	_, inOK := cli.Terminal(a.stdin)
	_, outOK := cli.Terminal(a.stdout)
	if !inOK || !outOK {
		fmt.Fprintln(a.stderr, noTerminal)
		return cli.ExitError{Code: 2}
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
	kept := &sessionSandboxes{}
	return tui.Run(ctx, tui.Options{
		Course:   course,
		Progress: p,
		Saver:    store,
		Notice:   notice,
		Lab:      lab{reg: demos.Builtin(), course: course},
		Version:  cli.BuildVersion(),
		ShellCmd: func(lessonID, demoID string) (*exec.Cmd, error) {
			cmd, name, err := shellFor(course, lessonID, demoID)
			if err == nil && name != "" {
				kept.add(name)
			}
			return cmd, err
		},
		KeptSandboxes: kept.running,
		StopSandbox:   stopSandbox,
		Workshop:      workshopLink(store),
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

// Check is the check of the course's challenge id: the checks its lesson
// file writes, or the one built in.
func (l lab) Check(id string) (tui.Check, bool) {
	_, ch, err := findChallenge(l.course, id)
	if err != nil {
		return tui.Check{}, false
	}
	c, ok := l.reg.ChallengeCheck(ch)
	if !ok {
		return tui.Check{}, false
	}
	verify := func(ctx context.Context) (tui.Verdict, error) {
		v, err := c.Verify(ctx)
		return tui.Verdict{Passed: v.Passed, Detail: v.Detail}, err
	}
	return tui.Check{Verify: verify, Setup: c.Setup}, true
}

// sessionSandboxes are the sandboxes this course session's shells kept
// (each lesson's demo names one, lab-*, in its ShellFlags), the only ones
// the question on quitting may stop: others running on the machine (a
// `run --detach`, an orchestrator's replicas, the mesh, another
// session's) are not the course's to end.
type sessionSandboxes struct {
	mu    sync.Mutex
	names []string
}

func (s *sessionSandboxes) add(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.Contains(s.names, name) {
		s.names = append(s.names, name)
	}
}

// running splits the sandboxes running now into the session's and the
// others, for the question the TUI asks on quitting.
func (s *sessionSandboxes) running() (kept, others []string, err error) {
	list, err := sandbox.List()
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range list {
		if slices.Contains(s.names, b.Name) {
			kept = append(kept, b.Name)
		} else {
			others = append(others, b.Name)
		}
	}
	return kept, others, nil
}

// stopSandbox is `kcna-lab stop NAME`, run as its own process so that the
// TUI stops a sandbox exactly as the learner would; its output says what
// went wrong. "--" keeps a name from being read as a flag.
func stopSandbox(name string) error {
	out, err := exec.Command("/proc/self/exe", "stop", "--", name).CombinedOutput()
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

// shellFor is `kcna-lab shell` with the flags of the lesson's demo
// demoID (the learner's pick; "" for the first this build has), for the
// TUI's `s`: the learner's terminal is handed to it and comes back. name
// is the sandbox it keeps, if its flags name one.
func shellFor(course *lessons.Course, lessonID, demoID string) (cmd *exec.Cmd, name string, err error) {
	l, ok := course.Lesson(lessonID)
	if !ok {
		return nil, "", fmt.Errorf("no lesson %q", lessonID)
	}
	if demoID != "" && !slices.Contains(l.Demos, demoID) {
		return nil, "", fmt.Errorf("lesson %s has no demo %q (its demos: %s)", lessonID, demoID, strings.Join(l.Demos, ", "))
	}
	args := []string{"shell"}
	reg := demos.Builtin()
	for _, id := range l.Demos {
		if demoID != "" && id != demoID {
			continue
		}
		if d, ok := reg.Demo(id); ok {
			args = append(args, d.ShellFlags...)
			name = keptName(d.ShellFlags)
			break
		}
	}
	cmd = exec.Command("/proc/self/exe", args...)
	cmd.Env = os.Environ()
	return cmd, name, nil
}

// keptName is the sandbox shell flags name and keep, or "".
func keptName(flags []string) string {
	if !slices.Contains(flags, "--keep") {
		return ""
	}
	for i, f := range flags {
		if f == "--name" && i+1 < len(flags) {
			return flags[i+1]
		}
		if v, ok := strings.CutPrefix(f, "--name="); ok {
			return v
		}
	}
	return ""
}

// workshopLink connects the course to the instructor on a workshop
// server (the server sets KCNA_LAB_WORKSHOP and KCNA_LAB_CLASSROOM in
// the student's lab): the activity goes beside progress.
func workshopLink(store *lessons.Store) *tui.Workshop {
	if os.Getenv("KCNA_LAB_WORKSHOP") == "" || store == nil {
		return nil
	}
	return &tui.Workshop{
		ActivityPath:  filepath.Join(filepath.Dir(store.Path), lessons.ActivityFile),
		ClassroomPath: os.Getenv("KCNA_LAB_CLASSROOM"),
	}
}
