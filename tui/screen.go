package tui

import (
	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// screen is what the root holds of each screen: the course map, the lesson
// reader, the quiz, the review of missed questions, the search, the mock
// exam and the question asked on quitting.
//
// The root gives a screen its size and every message it does not handle
// itself; a screen passes on what its panes need. A screen reads progress
// through common but never changes it: it sends one of the progress
// messages (progress.go) and the root applies it and saves. view draws
// and changes nothing; whatever a view needs (a scroll kept on the
// cursor, wrapped text) is worked out in update and setSize.
type screen interface {
	// ShortHelp lists the keys most needed first and ends with the
	// screen's way out (back or quit), which the footer always keeps.
	help.KeyMap
	setSize(width, height int)
	update(msg tea.Msg) tea.Cmd
	view() string
}

// typist is a screen that may be taking typed text (the search's
// query): while it is, the root's own keys are typed, not obeyed.
type typist interface{ typing() bool }

type screenID int

const (
	mapScreen screenID = iota
	readerScreen
	quizScreen
	reviewScreen
	searchScreen
	examScreen
	quitScreen
	screenCount
)

// Navigation between screens, sent by the screens as commands and
// handled by the root.
type (
	// openLessonMsg opens lesson index from its top.
	openLessonMsg struct{ index int }
	// resumeLessonMsg goes back to the reader as the learner left it.
	resumeLessonMsg struct{}
	// openSectionMsg opens lesson index at the first heading named
	// section (a search hit in the lesson's text).
	openSectionMsg struct {
		index   int
		section string
	}
	openQuizMsg struct{ index int }
	// openReviewMsg asks again the missed questions due (Leitner boxes).
	openReviewMsg struct{}
	// openQuestionMsg asks one question (a search hit).
	openQuestionMsg struct{ q *lessons.Question }
	openSearchMsg   struct{}
	openExamMsg     struct{}
	// backMsg goes back to the course map.
	backMsg struct{}
	// quitMsg asks to quit; the root first asks about sandboxes left
	// running, if any.
	quitMsg struct{}
)

func send(msg tea.Msg) tea.Cmd { return func() tea.Msg { return msg } }
