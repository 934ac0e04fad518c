package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Every key the app takes is a binding below, one keymap per screen: the
// help a screen shows is built from the same bindings its update matches,
// so the two cannot drift apart.

// appKeys are handled by the root on every screen.
var appKeys = struct{ Interrupt, Help key.Binding }{
	Interrupt: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit now")),
	Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
}

// mapKeys are the course map's own; moving is the list's (bubbles/list),
// listed in its help. `/` searches the whole course (titles, text,
// questions, glossary) rather than filtering the list by title: a title
// search is part of it, and one `/` is easier to learn than two.
var mapKeys = struct{ Open, Search, Review, Exam, Quit key.Binding }{
	Open:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
	Search: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search")),
	Review: key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "retry missed")),
	Exam:   key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "mock exam")),
	Quit:   key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
}

// searchKeys are the search's; everything else typed is the query.
var searchKeys = struct{ Up, Down, Open, Back, Interrupt key.Binding }{
	Up:        key.NewBinding(key.WithKeys("up", "ctrl+p"), key.WithHelp("↑/↓", "move")),
	Down:      key.NewBinding(key.WithKeys("down", "ctrl+n")),
	Open:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
	Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
	Interrupt: appKeys.Interrupt,
}

// readerKeys are the lesson reader's.
var readerKeys = struct {
	Up, Down, Live, Run, Shell, Demo, Challenge, Quiz, Next, Prev, LiveUp, LiveDown, Back key.Binding
}{
	Up:    key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "scroll")),
	Down:  key.NewBinding(key.WithKeys("down", "j")),
	Live:  key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "live pane")),
	Run:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run demo")),
	Shell: key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "shell")),
	// Demo picks which of a lesson's demos r runs and s opens a shell
	// like; it is listed only for a lesson with more than one.
	Demo:      key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "next demo")),
	Challenge: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "challenge")),
	Quiz:      key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "quiz")),
	Next:      key.NewBinding(key.WithKeys("n"), key.WithHelp("n/p", "next/prev lesson")),
	Prev:      key.NewBinding(key.WithKeys("p")),
	LiveUp:    key.NewBinding(key.WithKeys("["), key.WithHelp("[/]", "scroll live pane")),
	LiveDown:  key.NewBinding(key.WithKeys("]")),
	Back:      key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("q/esc", "back")),
}

// challengeKeys are the challenge pane's, inside the reader.
var challengeKeys = struct {
	Check, Hint, Solution, Next, Setup, Up, Down, PageUp, PageDown key.Binding
}{
	Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "scroll")),
	Down:     key.NewBinding(key.WithKeys("down", "j")),
	PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup/pgdn", "page")),
	PageDown: key.NewBinding(key.WithKeys("pgdown")),
	Setup:    key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "set up the broken scenario")),
	Check:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "check")),
	Hint:     key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "hint")),
	Solution: key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "answer")),
	Next:     key.NewBinding(key.WithKeys("]"), key.WithHelp("]", "next challenge")),
}

// quizKeys are a lesson quiz's.
var quizKeys = struct {
	Up, Down, Choice, Pick, Answer, Next, Back, Done key.Binding
}{
	Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "move")),
	Down:   key.NewBinding(key.WithKeys("down", "j")),
	Choice: choiceBinding(),
	Pick:   key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "pick")),
	Answer: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "answer")),
	Next:   key.NewBinding(key.WithKeys("n", "enter"), key.WithHelp("n", "next question")),
	Back:   key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("q/esc", "back to the lesson")),
	Done:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "back to the course")),
}

// examKeys are the mock exam's.
var examKeys = struct {
	Start, Up, Down, Choice, Pick, Answer, Prev, Next, Mark, Overview key.Binding
	Go, Submit, Review, WrongOnly, Scroll, Back, Done                 key.Binding
}{
	Start:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "start the clock")),
	Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "move")),
	Down:      key.NewBinding(key.WithKeys("down", "j")),
	Choice:    choiceBinding(),
	Pick:      key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "pick")),
	Answer:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next")),
	Prev:      key.NewBinding(key.WithKeys("left", "shift+tab", "p"), key.WithHelp("←/→", "prev/next")),
	Next:      key.NewBinding(key.WithKeys("right", "tab", "n")),
	Mark:      key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mark")),
	Overview:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "overview")),
	Go:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "go to question")),
	Submit:    key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "submit")),
	Review:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "review")),
	WrongOnly: key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "wrong only")),
	Scroll:    key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑/↓", "scroll")),
	Back:      key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("q/esc", "back")),
	Done:      key.NewBinding(key.WithKeys("enter", "esc", "q"), key.WithHelp("enter", "back to the course")),
}

// quitKeys answer the question asked on quitting while sandboxes run.
// q quits here too, keeping them (the step that cannot lose work), so
// that q q quits from the map as q does when nothing runs; only esc goes
// back.
var quitKeys = struct{ Stop, Keep, Cancel key.Binding }{
	Stop:   key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "stop them, quit")),
	Keep:   key.NewBinding(key.WithKeys("n", "q", "enter"), key.WithHelp("n/q", "keep them, quit")),
	Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back to the course")),
}

// maxChoices is how many choices a question's letters can pick (a to h).
const maxChoices = 8

// choiceBinding is a question's choice letters, a to h.
func choiceBinding() key.Binding {
	keys := make([]string, maxChoices)
	for i := range keys {
		keys[i] = string(rune('a' + i))
	}
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp("a-h", "pick that choice"))
}

// choiceOf is the choice a letter key picks among n, if it is one.
func choiceOf(km tea.KeyPressMsg, choice key.Binding, n int) (int, bool) {
	if !key.Matches(km, choice) {
		return 0, false
	}
	i := int(km.String()[0] - 'a')
	return i, i < n
}

// bindingHelp is b with other help text.
func bindingHelp(b key.Binding, keys, desc string) key.Binding {
	b.SetHelp(keys, desc)
	return b
}
