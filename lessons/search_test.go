package lessons

import (
	"strings"
	"testing"
	"time"
)

// searchCourse is two lessons, one with a challenge, and a glossary, as
// the parser gives them.
func searchCourse(t *testing.T) *Course {
	t.Helper()
	const domain = "container-orchestration"
	ns := &Lesson{ID: "ns", Title: "Namespaces", Order: 1, Domain: domain, File: "01-ns.md", Objectives: []string{"See"},
		Quiz: []Question{{ID: "pid-one", LessonID: "ns", Domain: domain,
			Prompt:  "Which PID does the first process in a new PID namespace get?",
			Choices: []string{"0", "1", "42"}, Answers: []int{1}, Explanation: "It is the namespace's init."}},
		Body: "# Namespaces\n\nIntro text.\n\n## The PID namespace\n\nA process sees its own `PID` numbers.\n\n" +
			"```\n# not a heading, in a fence\n```\n\n## Keeping one alive\n\nA bind mount keeps a namespace alive.\n"}
	cg := &Lesson{ID: "cg", Title: "Cgroups", Order: 2, Domain: domain, File: "02-cg.md", Objectives: []string{"Limit"},
		Challenges: []Challenge{{ID: "limit-it", Title: "Limit it", Task: "Set pids.max.", Hints: []string{"Look."}, Solution: "Do it."}},
		Body:       "# Cgroups\n\nLimits, not namespaces.\n"}
	return &Course{Lessons: []*Lesson{ns, cg}, Glossary: []Term{{Term: "namespace", Lesson: "ns", Means: "What a process can see.", Line: 1}}}
}

// TestSearchFindsTitlesTermsQuestionsAndSections: hits come titles
// first, then terms, questions and text; a text hit names its section,
// the snippet drops Markdown marks, and a heading inside a code fence is
// no section.
func TestSearchFindsTitlesTermsQuestionsAndSections(t *testing.T) {
	c := searchCourse(t)
	hits := c.Search("NAMESPACE")
	var got []string
	for _, h := range hits {
		got = append(got, map[HitKind]string{HitLesson: "lesson", HitTerm: "term", HitQuestion: "question", HitText: "text"}[h.Kind]+
			":"+h.Lesson.ID+":"+h.Section)
	}
	want := "lesson:ns: term:ns: question:ns: text:ns:Namespaces text:ns:The PID namespace text:ns:Keeping one alive text:cg:Cgroups"
	if strings.Join(got, " ") != want {
		t.Fatalf("hits:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	pid := c.Search("own pid")
	if len(pid) != 1 || pid[0].Section != "The PID namespace" || strings.ContainsAny(pid[0].Snippet, "`#") {
		t.Fatalf("'own pid' should be one hit under its section, without markup: %+v", pid)
	}
	if h := c.Search("not a heading"); len(h) != 1 || h[0].Section != "The PID namespace" {
		t.Fatalf("a # line in a code fence is text, not a section: %+v", h)
	}
	if h := c.Search("n"); h != nil {
		t.Fatalf("one letter should find nothing, got %d hits", len(h))
	}
	if h := c.Search("nowhere in the course"); len(h) != 0 {
		t.Fatalf("got %d hits for text that is not there", len(h))
	}
}

// TestStatusHereCompletesWithoutTheChallenge: where the challenge cannot
// run, the lesson is done here once read and its quiz all right, never
// before, and never Done; where it can, the status is unchanged.
func TestStatusHereCompletesWithoutTheChallenge(t *testing.T) {
	c := searchCourse(t)
	ns, cg := c.Lessons[0], c.Lessons[1]
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	p := NewProgress()
	const why = "no cgroup limits on this host"
	if s := p.StatusHere(cg, why); s != NotStarted {
		t.Fatalf("unread: %s", s)
	}
	p.MarkRead(cg, now)
	if s := p.StatusHere(cg, why); s != DoneHere || !p.OnlyChallengesLeft(cg) {
		t.Fatalf("read, no quiz, challenge not possible: %s, want %s", s, DoneHere)
	}
	if s := p.StatusHere(cg, ""); s != InProgress {
		t.Fatalf("where the challenge can run it is still to do: %s", s)
	}
	if p.Passed(cg.ID, "limit-it") || p.Status(cg) != InProgress {
		t.Fatal("done here must not pass the challenge")
	}
	p.RecordChallenge(cg.ID, "limit-it", now)
	if s := p.StatusHere(cg, why); s != Done {
		t.Fatalf("with the challenge passed after all: %s, want done", s)
	}
	// A lesson without challenges is never "done here".
	p.MarkRead(ns, now)
	p.RecordAnswer(&ns.Quiz[0], []int{0}, now)
	if s := p.StatusHere(ns, why); s != InProgress {
		t.Fatalf("quiz missed: %s", s)
	}
	p.RecordAnswer(&ns.Quiz[0], []int{1}, now)
	if s := p.StatusHere(ns, why); s != Done {
		t.Fatalf("no challenge, quiz right: %s", s)
	}
	// Quiz answered right but never opened: not done here.
	q := NewProgress()
	q.RecordChallenge(ns.ID, "x", now)
	if q.OnlyChallengesLeft(cg) {
		t.Fatal("an unread lesson has more than its challenge left")
	}
}
