package main

import (
	"fmt"
	"os"

	"charm.land/glamour/v2"
	"charm.land/glamour/v2/styles"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
)

func newShowCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show LESSON",
		Short: "Print a lesson: formatted on a terminal, plain text when piped",
		Long: `Print a lesson's text. LESSON is its id, its number or its file's slug,
as listed by ` + "`kcna-lab lessons`" + `. On a terminal the Markdown is formatted for
its width and background; piped or with NO_COLOR set, it is plain text.`,
		Example: `  kcna-lab show why-containers
  kcna-lab show 2
  kcna-lab show 02-vms-vs-containers | less`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			course, err := a.course()
			if err != nil {
				return err
			}
			l, err := lesson(course, args[0])
			if err != nil {
				return err
			}
			out, err := a.render(l.Document())
			if err != nil {
				return fmt.Errorf("render lesson %s: %w", l.ID, err)
			}
			_, err = fmt.Fprint(a.stdout, out)
			return err
		},
	}
}

// render formats Markdown for the terminal on stdout, or as plain text when
// stdout is not a terminal or NO_COLOR is set.
func (a *app) render(md string) (string, error) {
	style, width := styles.NoTTYStyle, 80
	if out, ok := cli.Terminal(a.stdout); ok && os.Getenv("NO_COLOR") == "" {
		style = styles.DarkStyle
		if in, ok := cli.Terminal(a.stdin); ok && !lipgloss.HasDarkBackground(in, out) {
			style = styles.LightStyle
		}
		if w, _, err := term.GetSize(out.Fd()); err == nil && w > 20 {
			width = min(w, 100)
		}
	}
	r, err := glamour.NewTermRenderer(glamour.WithStandardStyle(style), glamour.WithWordWrap(width-4))
	if err != nil {
		return "", err
	}
	return r.Render(md)
}
