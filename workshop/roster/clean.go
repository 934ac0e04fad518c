//go:build linux

package roster

import (
	"slices"
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

// What a student writes reaches the instructor's terminal and the class
// page: it is cleaned when read, once, so that no view has to. A lesson
// or challenge is kept only if the course has it, a screen only if the
// course has it, and free text (a check's detail, a sandbox's name and
// command) loses its escapes and control characters (a newline in it
// would draw a row of the student's making) and is cut short.

// screens are the screens the course names in its activity (tui's where).
var screens = []string{"map", "reader", "quiz", "review", "search", "exam", "quit"}

// Bounds on free text and counts from a student.
const (
	maxDetail  = 200
	maxName    = 64
	maxCommand = 200
	maxHints   = 1000 // per challenge: far more than any course has
)

// cleanActivity keeps of a student's activity what the course knows.
func cleanActivity(c *lessons.Course, a lessons.Activity) lessons.Activity {
	out := lessons.Activity{Since: a.Since}
	if slices.Contains(screens, a.Screen) {
		out.Screen = a.Screen
	}
	if lessonOf(c, a.Lesson) != nil {
		out.Lesson = a.Lesson
	}
	checks := a.Checks
	if n := len(checks); n > lessons.MaxActivityChecks {
		checks = checks[n-lessons.MaxActivityChecks:]
	}
	for _, ch := range checks {
		if !knownChallenge(c, ch.Lesson+"/"+ch.Challenge) {
			continue
		}
		ch.Detail = cleanText(ch.Detail, maxDetail)
		out.Checks = append(out.Checks, ch)
	}
	for key, n := range a.Hints {
		if knownChallenge(c, key) && n > 0 {
			if out.Hints == nil {
				out.Hints = map[string]int{}
			}
			out.Hints[key] = min(n, maxHints)
		}
	}
	for _, key := range a.Solutions {
		if knownChallenge(c, key) && !slices.Contains(out.Solutions, key) {
			out.Solutions = append(out.Solutions, key)
		}
	}
	return out
}

// cleanUsage cleans the sandboxes a student's lab reports (their names
// and commands are the student's).
func cleanUsage(u labhost.Usage) labhost.Usage {
	sbs := make([]labhost.Sandbox, len(u.Sandboxes))
	for i, sb := range u.Sandboxes {
		sb.Name = cleanText(sb.Name, maxName)
		sb.Command = cleanText(sb.Command, maxCommand)
		sbs[i] = sb
	}
	u.Sandboxes = sbs
	return u
}

func lessonOf(c *lessons.Course, id string) *lessons.Lesson {
	for _, l := range c.Lessons {
		if l.ID == id {
			return l
		}
	}
	return nil
}

// knownChallenge reports whether key ("lesson/challenge") is the course's.
func knownChallenge(c *lessons.Course, key string) bool {
	lesson, ch, ok := strings.Cut(key, "/")
	l := lessonOf(c, lesson)
	return ok && l != nil && slices.ContainsFunc(l.Challenges, func(x lessons.Challenge) bool { return x.ID == ch })
}

// cleanText strips escape sequences, turns every other control character
// (newlines, tabs, a lone ESC) and format character (a bidi override)
// into a space, and keeps at most n runes.
func cleanText(s string, n int) string {
	s = ansi.Strip(s)
	var b strings.Builder
	for _, r := range s {
		if n == 0 {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar {
			r = ' '
		}
		b.WriteRune(r)
		n--
	}
	return b.String()
}
