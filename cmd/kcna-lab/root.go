package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"charm.land/fang/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

// app is what every subcommand shares: the global flags and how to reach
// the course and the learner's progress.
type app struct {
	contentDir string
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
}

// exitError carries a process's exit status through cobra without being
// printed as an error: `kcna-lab run` exits with its command's status.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run executes the CLI with args and returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := fang.Execute(ctx, root,
		fang.WithVersion(buildVersion()),
		fang.WithNotifySignal(os.Interrupt, syscall.SIGTERM),
		fang.WithErrorHandler(handleError),
		fang.WithoutManpage(), // newManCmd's instead
	)
	var ee exitError
	var ce codedError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ce):
		return ce.code
	default:
		return 1
	}
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "kcna-lab",
		Short: "Learn how containers really work, live on your own kernel",
		Long: `kcna-lab is an interactive lab for the containers and orchestration parts
of the CNCF KCNA exam (containerization, Kubernetes' core concepts,
networking, security, storage, troubleshooting). Run it with no arguments in a terminal to open the course;
every lesson explains a concept and then shows it live on your own Linux
kernel: chroot jails, namespaces, cgroups, overlay filesystems and more.

The subcommands below work without the full-screen app, for scripts,
workshops and quick practice.`,
		Example: `  # open the course
  kcna-lab

  # list the lessons and your progress
  kcna-lab lessons

  # read lesson 2 in the terminal
  kcna-lab show 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runTUI(cmd.Context())
		},
	}
	root.PersistentFlags().StringVar(&a.contentDir, "content", "",
		"load lessons from this `DIR` instead of the built-in course (see lint-content)")
	root.AddCommand(
		newLessonsCmd(a),
		newShowCmd(a),
		newProgressCmd(a),
		newLintContentCmd(a),
		newDemoCmd(a),
		newRunCmd(a),
		newShellCmd(a),
		newExecCmd(a),
		newPsCmd(a),
		newLogsCmd(a),
		newLayersCmd(a),
		newChallengeCmd(a),
		newOCICmd(a),
		newStopCmd(a),
		newDoctorCmd(a),
		newAppArmorCmd(a),
		newCleanCmd(a),
		newOrchestrateCmd(a),
		newQuizCmd(a),
		newExamCmd(a),
		newGlossaryCmd(a),
		newMeshCmd(a),
		newServeCmd(a),
		newClassCmd(a),
		newBuildCmd(a),
		newRegistryCmd(a),
		newPushCmd(a),
		newPullCmd(a),
		newManCmd(a),
	)
	plainFlagHelp(root)
	addCompletions(root, a)
	return root
}

// course loads the built-in lessons, or the instructor's with --content.
func (a *app) course() (*lessons.Course, error) {
	reg := demos.Builtin()
	dir, err := a.courseDir()
	if err != nil {
		return nil, err
	}
	if dir != "" {
		c, probs := lessons.LoadDir(dir, reg)
		if len(probs) > 0 {
			return nil, contentProblems(dir, probs)
		}
		return c, nil
	}
	c, probs := loadBuiltin(reg)
	if len(probs) > 0 {
		// The built-in course is tested; this is a broken build.
		return nil, fmt.Errorf("the built-in course is broken (please report this):\n%w", probs)
	}
	return c, nil
}

// contentProblems is the error for a directory of lessons that does not
// load: every problem, and how to check again without starting.
func contentProblems(dir string, probs lessons.Problems) error {
	return fmt.Errorf("the lessons in %s have %d problem(s):\n%w\n\nFix them and try again; `kcna-lab lint-content %s` checks without starting", dir, len(probs), probs, dir)
}

// courseDir is the directory of lessons to load, "" for the built-in
// course. In a student's lab on a workshop server (KCNA_LAB_WORKSHOP) the
// course is the server's: KCNA_LAB_CONTENT, which serve sets and a
// student's SSH client cannot. A --content of the student's own would
// load challenges of theirs under the instructor's ids, whose checks
// pass at will (and run as their lab's root), so it is refused.
func (a *app) courseDir() (string, error) {
	student := os.Getenv("KCNA_LAB_WORKSHOP")
	if student == "" {
		return a.contentDir, nil
	}
	server := os.Getenv("KCNA_LAB_CONTENT")
	if a.contentDir == "" || server != "" && filepath.Clean(a.contentDir) == server {
		return server, nil
	}
	course := "the built-in course"
	if server != "" {
		course = "the instructor's course in " + server
	}
	return "", fmt.Errorf("this workshop server checks your challenges against %s, so --content %s is refused here: a course of your own would decide your passes with its own checks. Try your lessons with kcna-lab --content on your own machine", course, a.contentDir)
}

// loadBuiltin loads the built-in course, kept parsed between runs in
// kcna-lab's cache directory (lessons.LoadCached) for this very program;
// without a cache directory (never a shared one such as /tmp, where
// another user could plant a course), or when the program cannot be told
// apart from another build, it is parsed.
func loadBuiltin(reg lessons.Registry) (*lessons.Course, lessons.Problems) {
	dir, err := sandbox.CacheDir()
	program, perr := programIdentity()
	if err != nil || perr != nil {
		return lessons.Load(content.FS, reg)
	}
	return lessons.LoadCached(content.FS, reg, dir, program)
}

// programIdentity tells this kcna-lab executable from any other build:
// its path, size, modification time and inode change with every build
// and upgrade, and a stat costs microseconds where hashing 20 MB would
// cost milliseconds.
func programIdentity() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return "", err
	}
	id := fmt.Sprintf("%s %d %d", exe, fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id += fmt.Sprintf(" %d:%d", st.Dev, st.Ino)
	}
	return id, nil
}

// progress opens the learner's store and reads it, printing to stderr a
// notice (a corrupt file kept aside) if there is one.
func (a *app) progress() (*lessons.Store, *lessons.Progress, error) {
	store, p, notice, err := a.openProgress()
	if notice != "" {
		fmt.Fprintln(a.stderr, notice)
	}
	return store, p, err
}

// openProgress is progress for the TUI, which shows the notice itself.
func (a *app) openProgress() (*lessons.Store, *lessons.Progress, string, error) {
	store, err := lessons.DefaultStore()
	if err != nil {
		return nil, nil, "", err
	}
	p, notice, err := store.Load()
	if err != nil {
		return nil, nil, "", err
	}
	return store, p, notice, nil
}

// handleError is fang's error handler with the message printed as
// written: fang's own capitalises its first word, adds a full stop and
// wraps at the terminal's width, breaking a word at a hyphen, which turns
// "open /home/ana/x" into "Open /home/ana/x." and a lesson id into one
// that does not exist ("service-" and "mesh"). The terminal wraps instead.
func handleError(w io.Writer, styles fang.Styles, err error) {
	var ee exitError
	if errors.As(err, &ee) {
		return // the command already said what happened
	}
	if f, ok := w.(term.File); ok && !term.IsTerminal(f.Fd()) {
		_, _ = fmt.Fprintln(w, err.Error()) // fang's way too: plain off a terminal
		return
	}
	_, _ = fmt.Fprintln(w, styles.ErrorHeader.String())
	text := styles.ErrorText.UnsetTransform().UnsetWidth()
	_, _ = fmt.Fprintln(w, text.Render(err.Error()))
	_, _ = fmt.Fprintln(w)
	if usageError(err) {
		_, _ = fmt.Fprintln(w, text.Render("Try --help for usage."))
		_, _ = fmt.Fprintln(w)
	}
}

// usageError reports whether err is cobra's or pflag's complaint about
// the command line, which fang recognises by its words as well.
func usageError(err error) bool {
	s := err.Error()
	for _, prefix := range []string{"flag needs an argument:", "unknown flag:", "unknown shorthand flag:", "unknown command", "invalid argument"} {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// printJSON is every command's --json: v, indented, on stdout.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
