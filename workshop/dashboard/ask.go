package dashboard

import (
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// question is an action waiting for the instructor's word: a text to
// type first (broadcast, pace) or none, then a yes.
type question struct {
	title  string
	prompt string // "" asks for no text
	// confirm is the yes/no question, with the typed text.
	confirm func(text string) string
	// do runs the action and says how it went.
	do func(text string) error
}

func broadcastQuestion(c *common) question {
	return question{title: "Broadcast to every student", prompt: "message: ",
		confirm: func(t string) string { return fmt.Sprintf("Show %q to every student?", t) },
		do:      c.actions.Broadcast}
}

func paceQuestion(c *common) question {
	return question{title: "Pace the class", prompt: fmt.Sprintf("open lessons 1 to (0 opens all, at most %d): ", len(c.course.Lessons)),
		confirm: func(t string) string {
			if strings.TrimSpace(t) == "0" {
				return "Open every lesson?"
			}
			return fmt.Sprintf("Mark the lessons after %s \"wait for the instructor\"?", strings.TrimSpace(t))
		},
		do: func(t string) error {
			n, err := strconv.Atoi(strings.TrimSpace(t))
			if err != nil {
				return fmt.Errorf("%q is not a lesson number", t)
			}
			return c.actions.Pace(n)
		}}
}

func stopQuestion(c *common, name string) question {
	return question{title: "Stop sandboxes",
		confirm: func(string) string { return fmt.Sprintf("Stop every sandbox %s has running?", name) },
		do:      func(string) error { return c.actions.StopSandboxes(name) }}
}

func resetQuestion(c *common, name string) question {
	return question{title: "Reset a lab",
		confirm: func(string) string {
			return fmt.Sprintf("Reset %s's lab? Their sandboxes and sessions end; their progress stays.", name)
		},
		do: func(string) error { return c.actions.ResetLab(name) }}
}

func endQuestion(c *common) question {
	return question{title: "End the session",
		confirm: func(string) string {
			return "End the workshop for everyone? Every session ends, every lab stops, progress is saved."
		},
		do: func(string) error { return c.actions.EndSession() }}
}

var askKeys = struct{ Yes, No, Enter key.Binding }{
	Yes:   key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
	No:    key.NewBinding(key.WithKeys("n", "esc"), key.WithHelp("n/esc", "no")),
	Enter: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next")),
}

// ask takes the text, if any, then the yes.
type ask struct {
	ctx           *common
	q             question
	input         textinput.Model
	text          string
	confirming    bool
	width, height int
}

func (a *ask) start(q question) {
	a.q, a.text, a.confirming = q, "", q.prompt == ""
	a.input = textinput.New()
	a.input.Prompt = q.prompt
	a.input.CharLimit = 500
	a.input.Focus()
}

func (a *ask) typing() bool { return !a.confirming }
func (a *ask) setSize(w, h int) {
	a.width, a.height = w, h
	a.input.SetWidth(max(w-len(a.q.prompt)-2, 10))
}

func (a *ask) update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	if !a.confirming {
		switch km.String() {
		case "esc":
			return a.ctx.nav(backMsg{})
		case "enter":
			if strings.TrimSpace(a.input.Value()) == "" {
				return nil
			}
			a.text, a.confirming = a.input.Value(), true
			return nil
		}
		var cmd tea.Cmd
		a.input, cmd = a.input.Update(msg)
		return cmd
	}
	switch {
	case key.Matches(km, askKeys.Yes):
		q, text := a.q, a.text
		a.ctx.nav(backMsg{})
		return func() tea.Msg {
			if err := q.do(text); err != nil {
				return doneMsg{status: q.title + ": " + err.Error()}
			}
			return doneMsg{status: q.title + ": done"}
		}
	case key.Matches(km, askKeys.No):
		a.ctx.nav(backMsg{})
		return a.ctx.nav(doneMsg{status: a.q.title + ": cancelled"})
	}
	return nil
}

func (a *ask) ShortHelp() []key.Binding {
	if a.confirming {
		return []key.Binding{askKeys.Yes, askKeys.No}
	}
	return []key.Binding{askKeys.Enter, backKey}
}
func (a *ask) FullHelp() [][]key.Binding { return [][]key.Binding{a.ShortHelp()} }

func (a *ask) view() string {
	s := titleStyle.Render(a.q.title) + "\n\n"
	if !a.confirming {
		return s + a.input.View()
	}
	return s + wrap(a.q.confirm(a.text), a.width) + "\n\n" + "y: yes   n: no"
}

func wrap(s string, w int) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		if line != "" && len(line)+1+len(word) > max(w, 20) {
			lines, line = append(lines, line), word
			continue
		}
		line = strings.TrimSpace(line + " " + word)
	}
	return strings.Join(append(lines, line), "\n")
}
