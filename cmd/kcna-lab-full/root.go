package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
	"github.com/kcna-lab/kcna-lab/plugin/image/distribution"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// app is what every subcommand shares: the global flags and how to reach
// the course and the learner's progress.
type app struct {
	contentDir string
	stdin      io.Reader
	stdout     io.Writer
	stderr     io.Writer
	shared     *cli.App // the same streams, for the commands in cmd/internal/cli
}

// run executes the CLI with args and returns the process exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	code, err := cli.Execute(ctx, newRootCmd(a), args, a.cli(), runFang)
	if err != nil {
		// Only the slim front hands over; here it is a bug.
		fmt.Fprintf(stderr, "kcna-lab: internal error: %v, in kcna-lab-full itself\n", err)
		return 70
	}
	return code
}

// cli is a as the shared commands take it.
func (a *app) cli() *cli.App {
	if a.shared == nil {
		a.shared = &cli.App{Stdin: a.stdin, Stdout: a.stdout, Stderr: a.stderr, Pull: distribution.Pull}
	}
	a.shared.ContentDir = a.contentDir
	return a.shared
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
		cli.NewLessonsCmd(a.cli(), a.courseSource()),
		newShowCmd(a),
		cli.NewProgressCmd(a.cli(), a.courseSource()),
		newLintContentCmd(a),
		newDemoCmd(a),
		cli.NewRunCmd(a.cli()),
		cli.NewShellCmd(a.cli()),
		cli.NewExecCmd(a.cli()),
		cli.NewPsCmd(a.cli()),
		cli.NewLogsCmd(a.cli()),
		cli.NewLayersCmd(a.cli()),
		newChallengeCmd(a),
		newOCICmd(a),
		cli.NewStopCmd(a.cli()),
		newDoctorCmd(a),
		cli.NewAppArmorCmd(a.cli()),
		cli.NewCleanCmd(a.cli()),
		newOrchestrateCmd(a),
		newQuizCmd(a),
		newExamCmd(a),
		cli.NewGlossaryCmd(a.cli(), a.courseSource()),
		newMeshCmd(a),
		newServeCmd(a),
		newClassCmd(a),
		newBuildCmd(a),
		newRegistryCmd(a),
		newPushCmd(a),
		newPullCmd(a),
		newManCmd(a),
		printErrorCmd(),
	)
	cli.PlainFlagHelp(root)
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
		c, probs := parse.LoadDir(dir, reg)
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
func contentProblems(dir string, probs parse.Problems) error {
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
// kcna-lab's cache directory (parse.LoadCached) for this very program;
// without a cache directory (never a shared one such as /tmp, where
// another user could plant a course), or when the program cannot be told
// apart from another build, it is parsed.
func loadBuiltin(reg lessons.Registry) (*lessons.Course, parse.Problems) {
	dir, err := sandbox.CacheDir()
	program, perr := programIdentity()
	if err != nil || perr != nil {
		return parse.Load(content.FS, reg)
	}
	return parse.LoadCached(content.FS, reg, dir, program)
}

// programIdentity is this running program's (cli.RunningIdentity).
func programIdentity() (string, error) { return cli.RunningIdentity() }

// progress opens the learner's store and reads it, printing to stderr a
// notice (a corrupt file kept aside) if there is one.
func (a *app) progress() (*lessons.Store, *lessons.Progress, error) {
	return a.cli().Progress()
}

// courseSource is where lessons and progress take the course from: this
// program parses it (or reads its cache) and asks doctor.
func (a *app) courseSource() cli.Course {
	return cli.Course{Load: a.course, HostCannotRun: askDoctor, Progress: a.progressOnly}
}

// progressOnly is progress without the store, as lessons takes it.
func (a *app) progressOnly() (*lessons.Progress, error) {
	_, p, err := a.progress()
	return p, err
}

// openProgress is progress for the TUI, which shows the notice itself.
func (a *app) openProgress() (*lessons.Store, *lessons.Progress, string, error) {
	return cli.OpenProgress()
}

// printJSON is every command's --json: v, indented, on stdout.
func (a *app) printJSON(v any) error { return a.cli().PrintJSON(v) }
