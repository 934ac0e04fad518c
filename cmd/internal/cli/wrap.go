package cli

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// TextWidth is what plain output wraps to.
const TextWidth = 78

// WrapIndent wraps s to the plain-output width, every line indented.
func WrapIndent(s string, indent int) string {
	pad := strings.Repeat(" ", indent)
	return pad + strings.ReplaceAll(Wrap(strings.TrimSpace(s), TextWidth-indent), "\n", "\n"+pad)
}

// Wrap wraps text to lines of at most limit columns as x/ansi's Wrap
// (with a space as its breakpoint) does: at spaces and after hyphens,
// breaking a word longer than a line, keeping the text's own line breaks.
// It is that algorithm for text without escape sequences, each rune one
// column wide, as the course's is (TestWrapIsAnsiWrap holds the two equal
// over the whole course): x/ansi's tables of escape sequences and of
// character widths are initialised by every program that links it, and
// the slim front, whose glossary wraps, does not.
func Wrap(s string, limit int) string {
	if limit < 1 {
		return s
	}
	var (
		buf, word, space                strings.Builder
		spaceWidth, curWidth, wordWidth int
	)
	addSpace := func() {
		curWidth += spaceWidth
		buf.WriteString(space.String())
		space.Reset()
		spaceWidth = 0
	}
	addWord := func() {
		if word.Len() == 0 {
			return
		}
		addSpace()
		curWidth += wordWidth
		buf.WriteString(word.String())
		word.Reset()
		wordWidth = 0
	}
	addNewline := func() {
		buf.WriteByte('\n')
		curWidth = 0
		space.Reset()
		spaceWidth = 0
	}
	// endLine ends the text or a line of it: its trailing spaces are
	// kept where they fit.
	endLine := func() {
		if wordWidth == 0 {
			if curWidth+spaceWidth > limit {
				curWidth = 0
			} else {
				buf.WriteString(space.String())
			}
			space.Reset()
			spaceWidth = 0
		}
		addWord()
	}
	for i := 0; i < len(s); {
		if s[i] >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) && r != '\u00a0' { // a no-break space is no break
				addWord()
				space.WriteString(s[i : i+n])
				spaceWidth++
			} else {
				if wordWidth+1 > limit {
					addWord()
				}
				word.WriteString(s[i : i+n])
				wordWidth++
				if curWidth+wordWidth+spaceWidth > limit {
					addNewline()
				}
				if wordWidth == limit {
					addWord()
				}
			}
			i += n
			continue
		}
		switch c := s[i]; {
		case c == '\n':
			endLine()
			addNewline()
		case unicode.IsSpace(rune(c)):
			addWord()
			space.WriteByte(c)
			spaceWidth++
		case c == '-':
			addSpace()
			if curWidth+wordWidth >= limit {
				word.WriteByte(c) // it does not fit: part of the word
				wordWidth++
			} else {
				addWord()
				buf.WriteByte(c)
				curWidth++
			}
		default:
			if curWidth == limit {
				addNewline()
			}
			word.WriteByte(c)
			wordWidth++
			if wordWidth == limit {
				addWord()
			}
			if curWidth+wordWidth+spaceWidth > limit {
				addNewline()
			}
		}
		i++
	}
	endLine()
	return buf.String()
}
