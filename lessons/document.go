package lessons

import (
	"fmt"
	"strings"
)

// Document is the lesson as one Markdown text: title, objectives, body. The
// TUI and `kcna-lab show` render this, so both show the same thing.
func (l *Lesson) Document() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %d. %s\n\n", l.Order, l.Title)
	if len(l.Objectives) > 0 {
		b.WriteString("**After this lesson you can:**\n\n")
		for _, o := range l.Objectives {
			fmt.Fprintf(&b, "- %s\n", o)
		}
		b.WriteString("\n")
	}
	b.WriteString(l.Body)
	return b.String()
}
