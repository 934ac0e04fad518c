package tui

import (
	"context"

	tea "charm.land/bubbletea/v2"

	"github.com/kcna-lab/kcna-lab/event"
)

// Lab is what the app runs live: each lesson's demos and each challenge's
// check, by the ids the lesson files name. It is all the app needs of
// lessons/demos, so the app does not link the demos' kernel code (netlink,
// the DNS server, the mesh); cmd/kcna-lab wires the built-in registry in,
// and another front end (a workshop server) can wire in its own.
type Lab interface {
	// Demo returns the demo with this id, if this build has it.
	Demo(id string) (Demo, bool)
	// Check returns the check of the challenge with this id, if any.
	Check(id string) (Check, bool)
}

// Demo is one live demonstration.
type Demo struct {
	Title string
	// Run performs the demo, reporting every step on sink, and returns an
	// error saying plainly why this host cannot run it, if it cannot.
	Run func(ctx context.Context, sink event.Sink) error
}

// Check verifies one challenge against live state.
type Check struct {
	Verify func(ctx context.Context) (Verdict, error)
	// Setup, if not nil, builds the broken state a troubleshooting
	// challenge starts from and says what is broken and where to look.
	// It may be run again to start over.
	Setup func(ctx context.Context, sink event.Sink) (string, error)
}

// Verdict is a check's outcome.
type Verdict struct {
	Passed bool
	// Detail says what was found, e.g. "pids.max is 20".
	Detail string
}

// Limits is a Lab that also knows which lessons' challenges this host
// cannot run, so that such a lesson can be completed without them ("done
// here") and says why. A Lab without it can run every challenge.
type Limits interface {
	// CannotRun maps a lesson's id to why this host cannot run its
	// challenges, as `kcna-lab doctor` says. It may take a second (doctor
	// tries sandboxes), so the app asks it in the background, at most
	// once a run, and only when the answer decides a lesson's status.
	CannotRun() map[string]string
}

// limitsMsg carries the lab's answer to the root.
type limitsMsg struct{ why map[string]string }

// askLimits asks the lab, if it knows its limits, which challenges this
// host cannot run, off the UI goroutine and once a run: only when that
// decides a status (a lesson read, its quiz right, a challenge left), so
// that doctor's throw-away sandboxes start only when they tell something.
func (m Model) askLimits() tea.Cmd {
	l, ok := m.ctx.opts.Lab.(Limits)
	if !ok || m.ctx.limitsAsked {
		return nil
	}
	for _, lesson := range m.ctx.course.Lessons {
		if m.ctx.progress.OnlyChallengesLeft(lesson) {
			m.ctx.limitsAsked = true
			return func() tea.Msg { return limitsMsg{why: l.CannotRun()} }
		}
	}
	return nil
}
