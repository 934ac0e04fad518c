package parse

import (
	"strings"
	"testing"
	"testing/fstest"
)

// fakeRegistry implements only the ids it is given.
type fakeRegistry struct{ demos, checks []string }

func (r fakeRegistry) HasDemo(id string) bool      { return contains(r.demos, id) }
func (r fakeRegistry) HasChallenge(id string) bool { return contains(r.checks, id) }

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

const good = `---
id: chroot
title: chroot
order: 3
domain: container-orchestration
objectives:
  - Build a jail
demos:
  - chroot-jail
quiz:
  - id: year
    prompt: When did chroot appear?
    choices:
      - 1969
      - 1979
      - 2013
    answer: b
    explanation: Version 7 Unix, 1979.
  - id: hides
    prompt: What does chroot hide? Choose two.
    choices: [files outside the new root, other processes, the host's paths, the network]
    answer: [a, c]
    explanation: It changes only the root directory.
challenges:
  - id: build-jail
    title: Build a jail
    task: Make a jail.
    hints: [use chroot]
    solution: chroot /tmp/jail /bin/sh
---
# chroot

Body text.
`

var reg = fakeRegistry{demos: []string{"chroot-jail"}, checks: []string{"build-jail"}}

func TestParseGoodLesson(t *testing.T) {
	l, probs := Lesson("03-chroot.md", []byte(good))
	if len(probs) != 0 {
		t.Fatalf("unexpected problems:\n%v", probs)
	}
	if l.ID != "chroot" || l.Order != 3 || l.Domain != "container-orchestration" {
		t.Fatalf("header fields wrong: %+v", l)
	}
	if len(l.Quiz) != 2 || l.Quiz[0].Answers[0] != 1 || !l.Quiz[1].Multi() {
		t.Fatalf("quiz parsed wrong: %+v", l.Quiz)
	}
	if got := l.Quiz[1].Answers; len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Fatalf("multi answer = %v, want [0 2]", got)
	}
	if l.Quiz[0].Key() != "chroot/year" {
		t.Fatalf("question key = %q", l.Quiz[0].Key())
	}
	if !strings.HasPrefix(l.Body, "# chroot") {
		t.Fatalf("body = %q", l.Body)
	}
	if len(l.Challenges) != 1 || l.Challenges[0].Hints[0] != "use chroot" {
		t.Fatalf("challenge parsed wrong: %+v", l.Challenges)
	}
}

func TestQuestionCorrect(t *testing.T) {
	l, _ := Lesson("03-chroot.md", []byte(good))
	q := &l.Quiz[1]
	for _, tc := range []struct {
		picked []int
		want   bool
	}{
		{[]int{0, 2}, true},
		{[]int{2, 0}, true},
		{[]int{0}, false},
		{[]int{0, 2, 3}, false},
		{nil, false},
	} {
		if got := q.Correct(tc.picked); got != tc.want {
			t.Errorf("Correct(%v) = %v, want %v", tc.picked, got, tc.want)
		}
	}
}

// TestProblems covers each kind of problem: what is reported and where.
func TestProblems(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src      string
		wantMsg  string
		wantLine int
		wantCol  int
		wantHint string
	}{
		{"no front matter", "# just markdown\n", "no front matter", 1, 1, "---"},
		{"unclosed front matter", "---\nid: x\n", "no front matter", 1, 1, ""},
		{"bad yaml", "---\nid: x\ntitle: [unclosed\n---\nbody\n", "not valid YAML", 0, 0, "indentation"},
		{"unknown key", strings.Replace(good, "title: chroot", "titel: chroot", 1), `unknown key "titel"`, 3, 1, `did you mean "title"`},
		{"missing title", strings.Replace(good, "title: chroot\n", "", 1), `missing "title"`, 2, 1, ""},
		{"unknown quiz key", strings.Replace(good, "    explanation: Version 7", "    explanaton: Version 7", 1), `unknown key "quiz[0].explanaton"`, 18, 5, `did you mean "explanation"`},
		{"question without explanation", strings.Replace(good, "    explanation: Version 7 Unix, 1979.\n", "", 1), `missing "quiz[0].explanation"`, 11, 5, "why the right answer"},
		{"empty explanation", strings.Replace(good, "explanation: Version 7 Unix, 1979.", "explanation:", 1), "quiz[0].explanation: must be non-empty text", 18, 17, ""},
		{"answer out of range", strings.Replace(good, "answer: b", "answer: e", 1), `"e" is out of range: the question has 3 choices (a-c)`, 17, 13, ""},
		{"answer not a letter", strings.Replace(good, "answer: b", "answer: 2", 1), `"2" is not a choice letter`, 17, 13, "letters"},
		{"answer listed twice", strings.Replace(good, "answer: [a, c]", "answer: [a, a]", 1), `"a" is listed twice`, 22, 17, ""},
		{"one choice", strings.Replace(good, "choices: [files outside the new root, other processes, the host's paths, the network]", "choices: [only]", 1), "needs at least 2", 21, 14, ""},
		{"bad order", strings.Replace(good, "order: 3", "order: three", 1), "order must be a whole number", 4, 8, ""},
		{"bad domain", strings.Replace(good, "domain: container-orchestration", "domain: k8s", 1), `unknown KCNA domain "k8s"`, 5, 9, "container-orchestration"},
		// The 2021 curriculum's fifth domain is a topic of architecture now.
		{"retired domain", strings.Replace(good, "domain: container-orchestration", "domain: cloud-native-observability", 1),
			`unknown KCNA domain "cloud-native-observability"`, 5, 9, "current KCNA blueprint's domains (lessons/domain.go): kubernetes-fundamentals"},
		{"bad id", strings.Replace(good, "id: chroot", "id: Chroot Lesson", 1), `not a valid id`, 2, 5, "lower-case"},
		{"duplicate question id", strings.Replace(good, "id: hides", "id: year", 1), `duplicate question id "year"`, 19, 5, ""},
		{"duplicate key", strings.Replace(good, "order: 3\n", "order: 3\norder: 4\n", 1), `key "order" is given twice`, 5, 1, ""},
		{"no body", strings.TrimSuffix(good, "# chroot\n\nBody text.\n"), "no text after the front matter", 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Lesson("03-chroot.md", []byte(tc.src))
			p, ok := find(probs, tc.wantMsg)
			if !ok {
				t.Fatalf("no problem containing %q; got:\n%v", tc.wantMsg, probs)
			}
			if tc.wantLine != 0 && (p.Line != tc.wantLine || p.Col != tc.wantCol) {
				t.Errorf("at %d:%d, want %d:%d (%s)", p.Line, p.Col, tc.wantLine, tc.wantCol, p)
			}
			if !strings.Contains(p.Hint, tc.wantHint) {
				t.Errorf("hint %q does not mention %q", p.Hint, tc.wantHint)
			}
			if !strings.HasPrefix(p.String(), "03-chroot.md:") {
				t.Errorf("problem not prefixed by file: %s", p)
			}
		})
	}
}

func TestLoadReportsUnregisteredIDsAndDuplicates(t *testing.T) {
	other := strings.Replace(good, "order: 3", "order: 4", 1)
	fsys := fstest.MapFS{
		"03-chroot.md": {Data: []byte(good)},
		"04-again.md":  {Data: []byte(other)},
		"notes.txt":    {Data: []byte("ignored")},
		"bad name.md":  {Data: []byte(good)},
	}
	_, probs := Load(fsys, fakeRegistry{})
	for _, want := range []string{
		`demo "chroot-jail" is not registered`,
		`challenge "build-jail" has no check`,
		`duplicate lesson id "chroot" (also in 03-chroot.md)`,
		"file name is not NN-slug.md",
	} {
		if _, ok := find(probs, want); !ok {
			t.Errorf("no problem %q; got:\n%v", want, probs)
		}
	}
	if p, _ := find(probs, `demo "chroot-jail"`); p.Line != 9 || p.Col != 5 {
		t.Errorf("unregistered demo at %d:%d, want 9:5", p.Line, p.Col)
	}
	if p, _ := find(probs, "duplicate lesson id"); p.File != "04-again.md" {
		t.Errorf("duplicate reported in %s, want the second file", p.File)
	}
}

func TestLoadDuplicateOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"03-chroot.md": {Data: []byte(good)},
		"03-other.md":  {Data: []byte(strings.Replace(good, "id: chroot", "id: other", 1))},
	}
	_, probs := Load(fsys, reg)
	if _, ok := find(probs, "order 3 is also used by"); !ok {
		t.Fatalf("duplicate order not reported:\n%v", probs)
	}
}

func TestLoadOrdersLessonsAndFindsThem(t *testing.T) {
	first := strings.NewReplacer("id: chroot", "id: why", "order: 3", "order: 1").Replace(good)
	fsys := fstest.MapFS{
		"03-chroot.md": {Data: []byte(good)},
		"01-why.md":    {Data: []byte(first)},
	}
	c, probs := Load(fsys, reg)
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	if got := c.IDs(); len(got) != 2 || got[0] != "why" || got[1] != "chroot" {
		t.Fatalf("order = %v", got)
	}
	for _, ref := range []string{"chroot", "3", "03", "03-chroot", "03-chroot.md"} {
		if l, ok := c.Lesson(ref); !ok || l.ID != "chroot" {
			t.Errorf("Lesson(%q) did not find chroot", ref)
		}
	}
	if _, ok := c.Lesson("nope"); ok {
		t.Error("found a lesson that does not exist")
	}
	if n := len(c.Questions()); n != 4 {
		t.Errorf("Questions() = %d, want 4", n)
	}
}

func TestLoadEmptyDir(t *testing.T) {
	_, probs := Load(fstest.MapFS{}, reg)
	if _, ok := find(probs, "no lesson files found"); !ok {
		t.Fatalf("empty dir not reported: %v", probs)
	}
}

func TestLoadDirPrefixesPaths(t *testing.T) {
	_, probs := LoadDir("testdata/does-not-exist", reg)
	if len(probs) != 1 || !strings.HasPrefix(probs[0].String(), "testdata/does-not-exist: cannot open") {
		t.Fatalf("got %v", probs)
	}
}

func TestCRLFAndBOMAreAccepted(t *testing.T) {
	src := "\xef\xbb\xbf" + strings.ReplaceAll(good, "\n", "\r\n")
	if _, probs := Lesson("03-chroot.md", []byte(src)); len(probs) != 0 {
		t.Fatalf("CRLF/BOM file rejected:\n%v", probs)
	}
}

func find(probs Problems, substr string) (Problem, bool) {
	for _, p := range probs {
		if strings.Contains(p.Msg, substr) {
			return p, true
		}
	}
	return Problem{}, false
}
