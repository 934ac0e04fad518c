// Package tui is kcna-lab's Bubble Tea app, the course every lesson is
// read, run, quizzed and examined in: a root model holding its screens
// (course map, lesson reader with its live and challenge panes, quiz, mock
// exam) behind one interface. Shared state (size, styles, the course and
// progress) lives in one context; the root alone changes it.
//
// The app runs lessons' demos and checks through Lab, which its caller
// wires in, so it links no kernel code of its own.
package tui

import (
	"context"
	"fmt"
	"os/exec"

	tea "charm.land/bubbletea/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// Saver keeps progress; *lessons.Store is one.
type Saver interface {
	Save(*lessons.Progress) error
}

// Options is what the app needs from its caller.
type Options struct {
	Course   *lessons.Course
	Progress *lessons.Progress
	// Saver is nil in tests: progress then stays in memory.
	Saver Saver
	// Notice is shown once above the course map, e.g. that a corrupt
	// progress file was kept aside.
	Notice string
	// Lab runs the lessons' demos and checks; nil means none, and the
	// live pane says so.
	Lab     Lab
	Version string
	// ShellCmd returns the command for a shell in a sandbox set up like
	// that of the lesson's demo demoID (the one the learner picked with d;
	// "" for a lesson without demos). Nil: `s` says there is no shell.
	ShellCmd func(lessonID, demoID string) (*exec.Cmd, error)
	// KeptSandboxes lists, by name, the sandboxes still running that this
	// session's shells kept, and the others running on the machine,
	// asked on quitting; nil skips the question. Only the kept ones are
	// offered to be stopped: the others are someone else's (a `run
	// --detach`, another course session) and are only shown.
	KeptSandboxes func() (kept, others []string, err error)
	// StopSandbox stops one of the kept ones, when the learner agrees on
	// quitting.
	StopSandbox func(name string) error
	// Workshop is set on a workshop server: the course reports what the
	// learner does to the instructor and shows the class's notices and
	// pace (workshop.go).
	Workshop *Workshop
}

// Run shows the app on the terminal until the learner quits.
func Run(ctx context.Context, o Options) error {
	p := tea.NewProgram(New(o), tea.WithContext(ctx))
	m, err := p.Run()
	if err != nil {
		return fmt.Errorf("run the course: %w", err)
	}
	// Save once more on the way out: a save started by the last answer may
	// not have finished when the program quit.
	if app, ok := m.(Model); ok && o.Saver != nil {
		if err := o.Saver.Save(app.ctx.progress); err != nil {
			return fmt.Errorf("your latest progress could not be saved: %w", err)
		}
	}
	return nil
}
