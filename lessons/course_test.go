package lessons_test

import (
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// TestRenamedQuestionsPointIntoTheCourse: every rename leads from an id
// the built-in course no longer has to one it has.
func TestRenamedQuestionsPointIntoTheCourse(t *testing.T) {
	c, probs := parse.Load(content.FS, nil)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	keys := map[string]bool{}
	for _, q := range c.Questions() {
		keys[q.Key()] = true
	}
	for from, to := range lessons.RenamedQuestions {
		if keys[from] || !keys[to] || !strings.HasPrefix(to, strings.Split(from, "/")[0]+"/") {
			t.Errorf("%s -> %s: the old id must be gone and the new one in the same lesson", from, to)
		}
	}
}
