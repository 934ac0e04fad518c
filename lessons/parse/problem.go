package parse

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a lesson file, with where and how to fix it.
type Problem struct {
	File string
	Line int // 1-based; 0 when the whole file is meant
	Col  int // 1-based; 0 when the whole line is meant
	Msg  string
	Hint string
}

// String formats the problem as "file:line:col: msg (hint: ...)", the form
// editors and CI understand.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	b.WriteString(p.Msg)
	if p.Hint != "" {
		b.WriteString("\n    hint: ")
		b.WriteString(p.Hint)
	}
	return b.String()
}

// Problems is every problem found in a set of lesson files. It is an error
// when non-empty.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when there are none.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}
