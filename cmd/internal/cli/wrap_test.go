package cli

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// TestWrapIsAnsiWrap: Wrap breaks every text of the built-in course (the
// glossary, questions, lessons) where x/ansi's Wrap does, at every width
// from narrow to plain output's, and so do texts made to meet its edges:
// hyphens at the end of a line, words longer than a line, runs of spaces,
// line breaks, no-break spaces and other non-ASCII letters.
func TestWrapIsAnsiWrap(t *testing.T) {
	c, probs := parse.Load(content.FS, nil)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	texts := []string{
		"", " ", "a", "container-runtime-interface", "a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p",
		"supercalifragilisticexpialidocious and more", "trailing spaces   ", "   leading", "a  b   c    d",
		"one\ntwo\n\nthree \n four", "ends with a break\n", "no\u00a0break\u00a0spaces here", "café — naïve → µs, “quoted”",
		"a\tb\tc", "hyphen- at -the - end-", "x-\ny",
	}
	for _, term := range c.Glossary {
		texts = append(texts, term.Term, term.Means)
	}
	for _, q := range c.Questions() {
		texts = append(texts, q.Prompt, q.Explanation)
		texts = append(texts, q.Choices...)
	}
	for _, l := range c.Lessons {
		texts = append(texts, l.Title, l.Body)
	}
	for _, s := range texts {
		for _, width := range []int{1, 2, 3, 5, 8, 13, 21, 34, 40, 55, 72, 74, 76, 78} {
			if got, want := Wrap(s, width), ansi.Wrap(s, width, " "); got != want {
				t.Errorf("Wrap(%q, %d) =\n%q\nansi.Wrap gives\n%q", trim(s), width, got, want)
				break
			}
		}
	}
}

func trim(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return strings.TrimSpace(s)
}
