package parse

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// position is where a field was found, in file coordinates.
type position struct{ line, col int }

// positions are where a lesson's fields were found, for problems found
// after parsing: "id", "order", "demos/ID" and "challenges/ID".
type positions map[string]position

// idPattern is what lesson, question, demo and challenge ids look like.
var idPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`) })

// frontParser walks the YAML node tree by hand rather than decoding into a
// struct, so every problem carries the exact line and column and an unknown
// key can be met with "did you mean".
type frontParser struct {
	file  string
	probs Problems
	pos   positions
}

// frontLineOffset turns a line of the front matter into a line of the file:
// the YAML starts after the opening "---" on line 1.
const frontLineOffset = 1

func parseFront(file string, front []byte) (*lessons.Lesson, positions, Problems) {
	p := &frontParser{file: file, pos: positions{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(front, &doc); err != nil {
		return nil, nil, Problems{p.yamlError(err)}
	}
	if len(doc.Content) == 0 {
		return nil, nil, Problems{{File: file, Line: 1, Msg: "the front matter is empty",
			Hint: "give at least id, title, order, domain and objectives"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nil, Problems{p.at(root, "the front matter must be a set of key: value fields", "")}
	}
	l := &lessons.Lesson{}
	fields := p.fields(root, "", []string{"id", "title", "order", "domain", "objectives", "demos", "quiz", "challenges"},
		[]string{"id", "title", "order", "domain", "objectives"})
	if n := fields["id"]; n != nil {
		l.ID = p.id(n, "id")
		p.pos["id"] = p.where(n)
	}
	if n := fields["title"]; n != nil {
		l.Title = p.text(n, "title")
	}
	if n := fields["order"]; n != nil {
		p.pos["order"] = p.where(n)
		if err := n.Decode(&l.Order); err != nil || l.Order < 1 {
			p.add(n, fmt.Sprintf("order must be a whole number from 1 up, not %q", n.Value), "e.g. order: 3")
		}
	}
	if n := fields["domain"]; n != nil {
		l.Domain = p.domain(n, "domain")
	}
	if n := fields["objectives"]; n != nil {
		l.Objectives = p.texts(n, "objectives", 1)
	}
	if n := fields["demos"]; n != nil {
		for i, d := range p.seq(n, "demos") {
			id := p.id(d, fmt.Sprintf("demos[%d]", i))
			l.Demos = append(l.Demos, id)
			p.pos["demos/"+id] = p.where(d)
		}
	}
	if n := fields["quiz"]; n != nil {
		seen := map[string]bool{}
		for i, q := range p.seq(n, "quiz") {
			if question, ok := p.question(q, fmt.Sprintf("quiz[%d]", i), l); ok {
				if seen[question.ID] {
					p.add(q, fmt.Sprintf("quiz[%d]: duplicate question id %q", i, question.ID),
						"question ids keep a learner's answers; each must be unique in the lesson")
				}
				seen[question.ID] = true
				l.Quiz = append(l.Quiz, question)
			}
		}
	}
	if n := fields["challenges"]; n != nil {
		seen := map[string]bool{}
		for i, c := range p.seq(n, "challenges") {
			if ch, ok := p.challenge(c, fmt.Sprintf("challenges[%d]", i)); ok {
				if seen[ch.ID] {
					p.add(c, fmt.Sprintf("challenges[%d]: duplicate challenge id %q", i, ch.ID), "")
				}
				seen[ch.ID] = true
				l.Challenges = append(l.Challenges, ch)
				p.pos["challenges/"+ch.ID] = p.where(c)
			}
		}
	}
	return l, p.pos, p.probs
}

func (p *frontParser) question(n *yaml.Node, at string, l *lessons.Lesson) (lessons.Question, bool) {
	if n.Kind != yaml.MappingNode {
		p.add(n, at+": a question must be a set of fields", "give id, prompt, choices, answer and explanation")
		return lessons.Question{}, false
	}
	f := p.fields(n, at, []string{"id", "prompt", "choices", "answer", "explanation", "domain"},
		[]string{"id", "prompt", "choices", "answer", "explanation"})
	q := lessons.Question{LessonID: l.ID, Domain: l.Domain}
	if f["id"] != nil {
		q.ID = p.id(f["id"], at+".id")
	}
	if f["prompt"] != nil {
		q.Prompt = p.text(f["prompt"], at+".prompt")
	}
	if f["choices"] != nil {
		q.Choices = p.texts(f["choices"], at+".choices", 2)
	}
	if f["explanation"] != nil {
		q.Explanation = p.text(f["explanation"], at+".explanation")
	}
	if f["domain"] != nil {
		q.Domain = p.domain(f["domain"], at+".domain")
	}
	if f["answer"] != nil {
		q.Answers = p.answers(f["answer"], at+".answer", len(q.Choices))
	}
	return q, q.ID != ""
}

func (p *frontParser) challenge(n *yaml.Node, at string) (lessons.Challenge, bool) {
	if n.Kind != yaml.MappingNode {
		p.add(n, at+": a challenge must be a set of fields", "give id, title, task, hints and solution")
		return lessons.Challenge{}, false
	}
	f := p.fields(n, at, []string{"id", "title", "task", "hints", "solution", "checks"}, []string{"id", "title", "task", "solution"})
	var c lessons.Challenge
	if f["id"] != nil {
		c.ID = p.id(f["id"], at+".id")
	}
	if f["title"] != nil {
		c.Title = p.text(f["title"], at+".title")
	}
	if f["task"] != nil {
		c.Task = p.text(f["task"], at+".task")
	}
	if f["hints"] != nil {
		c.Hints = p.texts(f["hints"], at+".hints", 0)
	}
	if f["solution"] != nil {
		c.Solution = p.text(f["solution"], at+".solution")
	}
	if f["checks"] != nil {
		c.Checks = p.checks(f["checks"], at+".checks")
	}
	return c, c.ID != ""
}

// answers reads "b" or [a, c]: letters name choices as the learner sees them.
func (p *frontParser) answers(n *yaml.Node, at string, choices int) []int {
	var items []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	case yaml.SequenceNode:
		items = n.Content
	default:
		p.add(n, at+": must be a letter or a list of letters", "e.g. answer: b   or   answer: [a, c]")
		return nil
	}
	if len(items) == 0 {
		p.add(n, at+": no answer given", "e.g. answer: b   or   answer: [a, c]")
		return nil
	}
	var out []int
	for _, it := range items {
		v := strings.ToLower(strings.TrimSpace(it.Value))
		if it.Kind != yaml.ScalarNode || len(v) != 1 || v[0] < 'a' || v[0] > 'z' {
			p.add(it, fmt.Sprintf("%s: %q is not a choice letter", at, it.Value), "answers are letters: a for the first choice, b for the second, ...")
			continue
		}
		i := int(v[0] - 'a')
		if choices > 0 && i >= choices {
			p.add(it, fmt.Sprintf("%s: %q is out of range: the question has %d choices (a-%s)", at, v, choices, lessons.Letter(choices-1)),
				"add the missing choice or correct the letter")
			continue
		}
		if slices.Contains(out, i) {
			p.add(it, fmt.Sprintf("%s: %q is listed twice", at, v), "")
			continue
		}
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// fields checks a mapping's keys against the allowed and required ones and
// returns the value nodes by key.
func (p *frontParser) fields(n *yaml.Node, at string, allowed, required []string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	prefix := ""
	if at != "" {
		prefix = at + "."
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !slices.Contains(allowed, k.Value):
			hint := "allowed here: " + strings.Join(allowed, ", ")
			if s := closest(k.Value, allowed); s != "" {
				hint = fmt.Sprintf("did you mean %q? (%s)", s, hint)
			}
			p.add(k, fmt.Sprintf("unknown key %q", prefix+k.Value), hint)
		case out[k.Value] != nil:
			p.add(k, fmt.Sprintf("key %q is given twice", prefix+k.Value), "keep one")
		default:
			out[k.Value] = v
		}
	}
	for _, r := range required {
		if out[r] == nil {
			p.add(n, fmt.Sprintf("missing %q", prefix+r), requiredHint(r))
		}
	}
	return out
}

func (p *frontParser) id(n *yaml.Node, at string) string {
	if n.Kind != yaml.ScalarNode || !idPattern().MatchString(n.Value) {
		p.add(n, fmt.Sprintf("%s: %q is not a valid id", at, n.Value), "ids are lower-case words joined by hyphens, e.g. why-containers")
		return ""
	}
	return n.Value
}

func (p *frontParser) text(n *yaml.Node, at string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || strings.TrimSpace(n.Value) == "" {
		p.add(n, at+": must be non-empty text", "")
		return ""
	}
	return strings.TrimSpace(n.Value)
}

func (p *frontParser) texts(n *yaml.Node, at string, min int) []string {
	items := p.seq(n, at)
	var out []string
	for i, it := range items {
		if s := p.text(it, fmt.Sprintf("%s[%d]", at, i)); s != "" {
			out = append(out, s)
		}
	}
	if n.Kind == yaml.SequenceNode && len(items) < min {
		p.add(n, fmt.Sprintf("%s: needs at least %d, has %d", at, min, len(items)), "")
	}
	return out
}

func (p *frontParser) seq(n *yaml.Node, at string) []*yaml.Node {
	if n.Kind != yaml.SequenceNode {
		p.add(n, at+": must be a list", "write each item on its own line starting with \"- \"")
		return nil
	}
	return n.Content
}

func (p *frontParser) domain(n *yaml.Node, at string) string {
	if lessons.DomainName(n.Value) == "" {
		p.add(n, fmt.Sprintf("%s: unknown KCNA domain %q", at, n.Value),
			"one of the current KCNA blueprint's domains (lessons/domain.go): "+domainIDs())
		return ""
	}
	return n.Value
}

// domainIDs lists the Blueprint's ids, for error hints.
func domainIDs() string {
	ids := make([]string, len(lessons.Blueprint))
	for i, d := range lessons.Blueprint {
		ids[i] = d.ID
	}
	return strings.Join(ids, ", ")
}

func (p *frontParser) where(n *yaml.Node) position {
	return position{line: n.Line + frontLineOffset, col: n.Column}
}

func (p *frontParser) at(n *yaml.Node, msg, hint string) Problem {
	w := p.where(n)
	return Problem{File: p.file, Line: w.line, Col: w.col, Msg: msg, Hint: hint}
}

func (p *frontParser) add(n *yaml.Node, msg, hint string) {
	p.probs = append(p.probs, p.at(n, msg, hint))
}

// yamlLine finds "line N" in a yaml.v3 syntax error.
var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`line (\d+)`) })

func (p *frontParser) yamlError(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine().FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		line += frontLineOffset
		msg = strings.TrimSpace(yamlLine().ReplaceAllString(msg, ""))
		msg = strings.TrimPrefix(msg, ": ")
	}
	return Problem{File: p.file, Line: line, Msg: "front matter is not valid YAML: " + msg,
		Hint: "check indentation (spaces, not tabs) and quote text that contains \": \""}
}

func requiredHint(key string) string {
	switch key {
	case "order":
		return "order: N places the lesson in the course"
	case "domain":
		return "the KCNA domain, e.g. domain: container-orchestration"
	case "answer":
		return "answer: b, or answer: [a, c] when several choices are right"
	case "explanation":
		return "say why the right answer is right and the others are not"
	case "objectives":
		return "list what the learner will be able to do after the lesson"
	}
	return ""
}

// closest suggests the allowed key nearest to a misspelt one.
func closest(s string, allowed []string) string {
	best, bestD := "", 3
	for _, a := range allowed {
		if d := EditDistance(s, a); d < bestD {
			best, bestD = a, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in bytes: how
// near a mistyped name is to a real one, for "did you mean".
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
