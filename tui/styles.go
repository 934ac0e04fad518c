package tui

import (
	"charm.land/lipgloss/v2"
)

// Styles is every style the app uses, for one background.
type Styles struct {
	Title    lipgloss.Style
	Subtle   lipgloss.Style
	Selected lipgloss.Style
	Done     lipgloss.Style
	Started  lipgloss.Style
	Right    lipgloss.Style
	Wrong    lipgloss.Style
	Notice   lipgloss.Style
	Pane     lipgloss.Style
	StepOK   lipgloss.Style
	StepErr  lipgloss.Style
	Shell    lipgloss.Style
}

func newStyles(dark bool) Styles {
	c := lipgloss.LightDark(dark)
	accent := c(lipgloss.Color("#5A56E0"), lipgloss.Color("#7D79FF"))
	subtle := c(lipgloss.Color("#6B6B6B"), lipgloss.Color("#9A9A9A"))
	green := c(lipgloss.Color("#1E7B34"), lipgloss.Color("#4FD16B"))
	red := c(lipgloss.Color("#B42318"), lipgloss.Color("#FF6B5E"))
	amber := c(lipgloss.Color("#8A5A00"), lipgloss.Color("#F5B83D"))
	return Styles{
		Title:    lipgloss.NewStyle().Bold(true).Foreground(accent),
		Subtle:   lipgloss.NewStyle().Foreground(subtle),
		Selected: lipgloss.NewStyle().Bold(true).Foreground(accent),
		Done:     lipgloss.NewStyle().Foreground(green),
		Started:  lipgloss.NewStyle().Foreground(amber),
		Right:    lipgloss.NewStyle().Bold(true).Foreground(green),
		Wrong:    lipgloss.NewStyle().Bold(true).Foreground(red),
		Notice:   lipgloss.NewStyle().Foreground(amber),
		Pane:     lipgloss.NewStyle().Border(lipgloss.NormalBorder(), false, false, false, true).BorderForeground(subtle).PaddingLeft(1),
		StepOK:   lipgloss.NewStyle().Foreground(green),
		StepErr:  lipgloss.NewStyle().Foreground(red),
		Shell:    lipgloss.NewStyle().Foreground(subtle),
	}
}
