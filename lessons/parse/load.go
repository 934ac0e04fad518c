package parse

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// fileName is the required shape of a lesson file: content/NN-slug.md.
var fileName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]{2}-[a-z0-9]+(-[a-z0-9]+)*\.md$`) })

// Load reads every lesson file in fsys's root, validates each and the set
// as a whole, and returns the course ordered by each lesson's order. All
// problems are returned together; the course holds the lessons that parsed.
func Load(fsys fs.FS, reg lessons.Registry) (*lessons.Course, Problems) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return &lessons.Course{}, Problems{{File: ".", Msg: fmt.Sprintf("cannot read the lesson directory: %v", err)}}
	}
	var (
		course lessons.Course
		probs  Problems
		where  = map[*lessons.Lesson]positions{}
	)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".md") || strings.EqualFold(name, "README.md") {
			continue
		}
		if !fileName().MatchString(name) {
			probs = append(probs, Problem{File: name, Msg: "file name is not NN-slug.md",
				Hint: "name lesson files with a two-digit number and a lower-case slug, e.g. 03-chroot.md"})
			continue
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			probs = append(probs, Problem{File: name, Msg: fmt.Sprintf("cannot read: %v", err)})
			continue
		}
		l, at, ps := parseLesson(name, src)
		probs = append(probs, ps...)
		if l != nil {
			probs = append(probs, checkRefs(l, at, reg)...)
			course.Lessons = append(course.Lessons, l)
			where[l] = at
		}
	}
	if len(course.Lessons) == 0 && len(probs) == 0 {
		probs = append(probs, Problem{File: ".", Msg: "no lesson files found",
			Hint: "a lesson is a file named NN-slug.md with YAML front matter between --- lines"})
	}
	probs = append(probs, checkCourse(&course, where)...)
	probs = append(probs, loadGlossary(fsys, &course)...)
	slices.SortStableFunc(probs, func(a, b Problem) int {
		if a.File != b.File {
			return strings.Compare(a.File, b.File)
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return a.Col - b.Col
	})
	slices.SortStableFunc(course.Lessons, func(a, b *lessons.Lesson) int { return a.Order - b.Order })
	return &course, probs
}

// Lesson reads one lesson file: front matter between "---" lines, then the
// Markdown body. name is used in problems only.
func Lesson(name string, src []byte) (*lessons.Lesson, Problems) {
	l, _, probs := parseLesson(name, src)
	return l, probs
}

// parseLesson is Lesson, with where the fields that later checks name
// were found.
func parseLesson(name string, src []byte) (*lessons.Lesson, positions, Problems) {
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf")) // a BOM from some editors
	src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
	front, body, ok := splitFrontMatter(src)
	if !ok {
		return nil, nil, Problems{{File: name, Line: 1, Col: 1, Msg: "no front matter",
			Hint: "start the file with a line \"---\", the YAML fields, and another \"---\" line"}}
	}
	l, at, probs := parseFront(name, front)
	if l == nil {
		return nil, nil, probs
	}
	l.File = name
	l.Body = strings.TrimLeft(string(body), "\n")
	if strings.TrimSpace(l.Body) == "" {
		probs = append(probs, Problem{File: name, Msg: "the lesson has no text after the front matter",
			Hint: "write the lesson in Markdown below the closing ---"})
	}
	return l, at, probs
}

// splitFrontMatter returns the YAML between the first two "---" lines (the
// first must be line 1) and what follows.
func splitFrontMatter(src []byte) (front, body []byte, ok bool) {
	rest, found := bytes.CutPrefix(src, []byte("---\n"))
	if !found {
		return nil, nil, false
	}
	if bytes.HasPrefix(rest, []byte("---\n")) || bytes.Equal(rest, []byte("---")) {
		return nil, rest[3:], true
	}
	i := bytes.Index(rest, []byte("\n---\n"))
	if i < 0 {
		if bytes.HasSuffix(rest, []byte("\n---")) {
			return rest[:len(rest)-3], nil, true
		}
		return nil, nil, false
	}
	return rest[:i+1], rest[i+5:], true
}

// checkRefs reports demo ids that no code implements, challenges with no
// check, and challenges whose own checks would shadow a built-in one, at
// where the lesson names them (at nil: no line and column).
func checkRefs(l *lessons.Lesson, at positions, reg lessons.Registry) Problems {
	if reg == nil {
		return nil
	}
	var probs Problems
	for _, id := range l.Demos {
		if !reg.HasDemo(id) {
			probs = append(probs, Problem{File: l.File, Line: at["demos/"+id].line, Col: at["demos/"+id].col,
				Msg:  fmt.Sprintf("demo %q is not registered", id),
				Hint: "a demo id must name a demo built into kcna-lab; `kcna-lab lessons --json` lists the lessons, see lessons/demos for the ids"})
		}
	}
	for _, c := range l.Challenges {
		pos := at["challenges/"+c.ID]
		switch builtin := reg.HasChallenge(c.ID); {
		case len(c.Checks) == 0 && !builtin:
			probs = append(probs, Problem{File: l.File, Line: pos.line, Col: pos.col,
				Msg:  fmt.Sprintf("challenge %q has no check", c.ID),
				Hint: "write its checks in the file (checks:, see content/README.md), or give the id of a check built into kcna-lab (lessons/demos)"})
		case len(c.Checks) > 0 && builtin:
			probs = append(probs, Problem{File: l.File, Line: pos.line, Col: pos.col,
				Msg:  fmt.Sprintf("challenge %q has checks: and kcna-lab has a built-in check with the same id", c.ID),
				Hint: "give the challenge an id of its own to use its checks:, or remove checks: to use the built-in one"})
		}
	}
	return probs
}

// checkCourse reports problems between lessons: duplicate ids and
// orders, at where each lesson gives them.
func checkCourse(c *lessons.Course, where map[*lessons.Lesson]positions) Problems {
	var probs Problems
	ids := map[string]*lessons.Lesson{}
	orders := map[int]*lessons.Lesson{}
	for _, l := range c.Lessons {
		if prev, dup := ids[l.ID]; dup && l.ID != "" {
			probs = append(probs, Problem{File: l.File, Line: where[l]["id"].line, Col: where[l]["id"].col,
				Msg:  fmt.Sprintf("duplicate lesson id %q (also in %s)", l.ID, path.Base(prev.File)),
				Hint: "every lesson needs its own id"})
		}
		ids[l.ID] = l
		if prev, dup := orders[l.Order]; dup && l.Order != 0 {
			probs = append(probs, Problem{File: l.File, Line: where[l]["order"].line, Col: where[l]["order"].col,
				Msg:  fmt.Sprintf("order %d is also used by %s", l.Order, path.Base(prev.File)),
				Hint: "give each lesson its own order number"})
		}
		orders[l.Order] = l
	}
	return probs
}
