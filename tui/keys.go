package tui

import "charm.land/bubbles/v2/key"

// keyMap is every binding; each screen shows the ones that apply to it.
type keyMap struct {
	Up, Down, Open, Back, Quit, Help   key.Binding
	Live, Run, Shell, Quiz, Next, Prev key.Binding
	Toggle, Submit, NextQ              key.Binding
	Exam, Challenge                    key.Binding
	LiveUp, LiveDown                   key.Binding
}

func defaultKeys() keyMap {
	return keyMap{
		Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Open:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Back:      key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("q/esc", "back")),
		Quit:      key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more keys")),
		Live:      key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "live pane")),
		Run:       key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "run demo")),
		Shell:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "shell")),
		Quiz:      key.NewBinding(key.WithKeys("z"), key.WithHelp("z", "quiz")),
		Next:      key.NewBinding(key.WithKeys("n"), key.WithHelp("n/p", "next/prev lesson")),
		Prev:      key.NewBinding(key.WithKeys("p")),
		Toggle:    key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "pick")),
		Submit:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "answer")),
		NextQ:     key.NewBinding(key.WithKeys("n", "enter"), key.WithHelp("n", "next question")),
		Exam:      key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "mock exam")),
		Challenge: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "challenge")),
		LiveUp:    key.NewBinding(key.WithKeys("["), key.WithHelp("[/]", "scroll live pane")),
		LiveDown:  key.NewBinding(key.WithKeys("]")),
	}
}

// helpKeys adapts a screen's bindings to bubbles/help.
type helpKeys struct{ short, full []key.Binding }

func (h helpKeys) ShortHelp() []key.Binding  { return h.short }
func (h helpKeys) FullHelp() [][]key.Binding { return [][]key.Binding{h.full} }
