package parse

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kcna-lab/kcna-lab/lessons"
)

const glossaryLesson = `---
id: chroot
title: chroot
order: 3
domain: kubernetes-fundamentals
objectives: [Learn]
quiz:
  - id: q
    prompt: Which call changes the root directory?
    choices: [chroot, mount]
    answer: a
    explanation: chroot changes where path lookups start; mount attaches a filesystem.
---
# chroot

chroot confines path lookups. A jail is what it builds.
`

func TestGlossaryLoadsAndChecksEachTerm(t *testing.T) {
	good := "- term: chroot\n  lesson: chroot\n  means: Changes the root.\n" +
		"- term: Jail\n  lesson: 3\n  means: >\n    What chroot\n    builds.\n"
	c, probs := Load(fstest.MapFS{"03-chroot.md": {Data: []byte(glossaryLesson)}, lessons.GlossaryFile: {Data: []byte(good)}}, nil)
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	if len(c.Glossary) != 2 || c.Glossary[0].Term != "chroot" || c.Glossary[1].Lesson != "chroot" ||
		c.Glossary[1].Means != "What chroot builds." {
		t.Fatalf("glossary = %+v", c.Glossary)
	}
	if got := c.LookupTerm("JAIL"); len(got) != 1 || got[0].Term != "Jail" {
		t.Errorf("LookupTerm(JAIL) = %+v", got)
	}
	if got := c.LookupTerm("h"); len(got) != 1 || got[0].Term != "chroot" {
		t.Errorf("LookupTerm(h) = %+v", got)
	}

	for _, tc := range []struct {
		name, src, msg string
		line, col      int
	}{
		{"unknown lesson", "- term: chroot\n  lesson: chrot\n  means: x\n", `names lesson "chrot"`, 1, 3},
		{"term not taught", "- term: cgroup\n  lesson: chroot\n  means: x\n", `never uses the term "cgroup"`, 1, 3},
		{"duplicate", "- term: chroot\n  lesson: chroot\n  means: x\n- term: CHROOT\n  lesson: chroot\n  means: y\n", "listed twice", 4, 3},
		{"unknown key", "- term: chroot\n  lesson: chroot\n  meaning: x\n", `unknown key "meaning"`, 3, 3},
		{"missing means", "- term: chroot\n  lesson: chroot\n", `missing "means"`, 1, 3},
		{"empty", "- term: chroot\n  lesson: chroot\n  means: \"\"\n", "means: must be non-empty", 3, 10},
		{"not a list", "term: chroot\n", "must be a YAML list", 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Load(fstest.MapFS{"03-chroot.md": {Data: []byte(glossaryLesson)}, lessons.GlossaryFile: {Data: []byte(tc.src)}}, nil)
			// A misspelt key is also a missing one: at most two problems.
			if len(probs) == 0 || len(probs) > 2 {
				t.Fatalf("want the problem %q, got %v", tc.msg, probs)
			}
			for _, p := range probs {
				if p.File == lessons.GlossaryFile && p.Line == tc.line && p.Col == tc.col && strings.Contains(p.Msg, tc.msg) {
					return
				}
			}
			t.Errorf("want %s:%d:%d %q, got %v", lessons.GlossaryFile, tc.line, tc.col, tc.msg, probs)
		})
	}
}
