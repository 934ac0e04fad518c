package parse

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// loadGlossary reads lessons.GlossaryFile from fsys, if there is one, and checks it
// against the course: each term names a lesson that exists and whose text
// uses the term, terms are unique, and every field is filled.
func loadGlossary(fsys fs.FS, c *lessons.Course) Problems {
	src, err := fs.ReadFile(fsys, lessons.GlossaryFile)
	if err != nil {
		return nil // the glossary is optional
	}
	terms, probs := parseGlossary(src)
	seen := map[string]int{}
	for _, t := range terms {
		at := Problem{File: lessons.GlossaryFile, Line: t.Line, Col: 3}
		if prev, dup := seen[strings.ToLower(t.Term)]; dup {
			at.Msg, at.Hint = fmt.Sprintf("term %q is listed twice", t.Term), fmt.Sprintf("keep one; the first is on line %d", prev)
			probs = append(probs, at)
			continue
		}
		seen[strings.ToLower(t.Term)] = t.Line
		l, ok := c.Lesson(t.Lesson)
		switch {
		case !ok:
			at.Msg, at.Hint = fmt.Sprintf("term %q names lesson %q, which the course does not have", t.Term, t.Lesson),
				"one of: "+strings.Join(c.IDs(), ", ")
			probs = append(probs, at)
			continue
		case !teaches(l, t.Term):
			at.Msg, at.Hint = fmt.Sprintf("lesson %s never uses the term %q", l.ID, t.Term),
				"name the lesson that teaches it, or use the lesson's own spelling of the term"
			probs = append(probs, at)
			continue
		}
		t.Lesson = l.ID
		c.Glossary = append(c.Glossary, t)
	}
	slices.SortStableFunc(c.Glossary, func(a, b lessons.Term) int {
		return strings.Compare(strings.ToLower(a.Term), strings.ToLower(b.Term))
	})
	return probs
}

// teaches reports whether a lesson's text, its body or its quiz, uses the
// term, in any case.
func teaches(l *lessons.Lesson, term string) bool {
	text := []string{l.Body}
	for _, q := range l.Quiz {
		text = append(text, q.Prompt, q.Explanation)
		text = append(text, q.Choices...)
	}
	return strings.Contains(strings.ToLower(strings.Join(text, "\n")), strings.ToLower(term))
}

// parseGlossary reads the YAML list, reporting problems at file:line:col.
func parseGlossary(src []byte) ([]lessons.Term, Problems) {
	at := func(n *yaml.Node, msg, hint string) Problem {
		return Problem{File: lessons.GlossaryFile, Line: n.Line, Col: n.Column, Msg: msg, Hint: hint}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, Problems{{File: lessons.GlossaryFile, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "),
			Hint: "a list of entries, each \"- term: ...\" with lesson: and means: under it"}}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.SequenceNode {
		return nil, Problems{{File: lessons.GlossaryFile, Line: 1, Col: 1, Msg: "the glossary must be a YAML list",
			Hint: "start each entry with \"- term: ...\""}}
	}
	keys := []string{"term", "lesson", "means"}
	var (
		terms []lessons.Term
		probs Problems
	)
	for _, n := range doc.Content[0].Content {
		if n.Kind != yaml.MappingNode {
			probs = append(probs, at(n, "an entry must be a mapping", "term:, lesson: and means:"))
			continue
		}
		f := map[string]string{}
		present := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if slices.Contains(keys, k.Value) && present[k.Value] {
				probs = append(probs, at(k, fmt.Sprintf("key %q is given twice", k.Value), "keep one"))
				continue
			}
			present[k.Value] = true
			switch {
			case !slices.Contains(keys, k.Value):
				hint := "allowed: " + strings.Join(keys, ", ")
				if s := closest(k.Value, keys); s != "" {
					hint = fmt.Sprintf("did you mean %q? (%s)", s, hint)
				}
				probs = append(probs, at(k, fmt.Sprintf("unknown key %q", k.Value), hint))
			case v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "":
				probs = append(probs, at(v, k.Value+": must be non-empty text", ""))
			default:
				f[k.Value] = strings.Join(strings.Fields(v.Value), " ")
			}
		}
		for _, k := range keys {
			if !present[k] {
				probs = append(probs, at(n, fmt.Sprintf("missing %q", k), "each entry needs term, lesson and means"))
			}
		}
		if f["term"] != "" && f["lesson"] != "" && f["means"] != "" {
			terms = append(terms, lessons.Term{Term: f["term"], Lesson: f["lesson"], Means: f["means"], Line: n.Line})
		}
	}
	return terms, probs
}
