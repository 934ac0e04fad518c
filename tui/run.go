// Package tui is kcna-lab's Bubble Tea app: a root model that routes between
// screens (course map, lesson reader with its live pane, quiz). Shared state
// (size, styles, keys, the course and progress) lives in one context; each
// screen takes SetSize and returns a string view.
package tui

import (
	"context"
	"fmt"
	"os/exec"

	tea "charm.land/bubbletea/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
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
	// Registry holds the live demos; nil means none.
	Registry *demos.Registry
	Version  string
	// ShellCmd returns the command for a shell inside a lesson's sandbox.
	// Nil until the sandbox exists; `s` then says why there is no shell.
	ShellCmd func(lessonID string) (*exec.Cmd, error)
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
