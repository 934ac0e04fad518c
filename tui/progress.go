package tui

import (
	tea "charm.land/bubbletea/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// Changes to progress. Screens send them as commands; the root alone
// applies them (record) and saves, so there is one writer of the store.
// The root then passes each on to the screen that sent it (Model.owner),
// whichever screen is on top, which may show the change.
type (
	answeredMsg struct {
		q      *lessons.Question
		picked []int
	}
	challengePassedMsg struct{ lesson, challenge string }
	demoRunMsg         struct{ lesson string }
	examTakenMsg       struct{ result lessons.ExamResult }
)

// savedMsg reports how a save went.
type savedMsg struct{ err error }

// record applies a progress message and reports whether msg was one.
func (m Model) record(msg tea.Msg) bool {
	p := m.ctx.progress
	switch msg := msg.(type) {
	case answeredMsg:
		p.RecordAnswer(msg.q, msg.picked, m.ctx.now())
	case challengePassedMsg:
		p.RecordChallenge(msg.lesson, msg.challenge, m.ctx.now())
	case demoRunMsg:
		p.RecordDemoRun(msg.lesson)
	case examTakenMsg:
		p.RecordExam(msg.result)
	default:
		return false
	}
	return true
}

// keepPlace records the lesson open in the reader and how far down it
// is, so that the course reopens there. It reports whether that changed.
func (m Model) keepPlace() bool {
	id, scroll, ok := m.reader.place()
	return ok && m.ctx.progress.SetPlace(id, scroll, m.ctx.now())
}

// save writes a snapshot of progress in the background.
func (m Model) save() tea.Cmd {
	s := m.ctx.opts.Saver
	if s == nil {
		return nil
	}
	snap := m.ctx.progress.Clone()
	return func() tea.Msg { return savedMsg{err: s.Save(snap)} }
}
