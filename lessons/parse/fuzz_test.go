package parse

import (
	"strings"
	"testing"
)

// FuzzParse checks that no input makes the parser panic, and that every
// problem names the file and a position inside it.
func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("---\nid: [\n---\n"))
	f.Add([]byte("---\nquiz:\n  - answer: [z, a, a]\n    choices: x\n---\nbody"))
	f.Add([]byte("---\n- a\n- b\n---\n"))
	f.Add([]byte("---\nid: &a x\ntitle: *a\norder: 99999999999999999999\n---\n"))
	f.Add([]byte(strings.Replace(good, "answer: b", "answer: {x: y}", 1)))
	f.Add([]byte(checked))
	f.Add([]byte(strings.NewReplacer("run: [hostname]", "run: [[x], ~]", "mode: 0644", "mode: [7]", "exit: 1", "exit: {}").Replace(checked)))
	f.Fuzz(func(t *testing.T, src []byte) {
		l, probs := Lesson("01-x.md", src)
		lines := strings.Count(string(src), "\n") + 2
		for _, p := range probs {
			if p.File != "01-x.md" || p.Line < 0 || p.Line > lines || p.Msg == "" {
				t.Fatalf("bad problem %+v for input %q", p, src)
			}
		}
		if l != nil {
			for _, ch := range l.Challenges {
				for _, k := range ch.Checks {
					if len(probs) == 0 && (k.In == "" || k.Message == "" || len(k.Run) == 0 && k.File == "") {
						t.Fatalf("a check with nothing to do accepted: %+v from %q", k, src)
					}
				}
			}
			for _, q := range l.Quiz {
				for _, a := range q.Answers {
					if a < 0 || (len(q.Choices) > 0 && a >= len(q.Choices)) {
						t.Fatalf("answer %d out of range accepted: %q", a, src)
					}
				}
			}
		}
	})
}
