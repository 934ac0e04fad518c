package content_test

import (
	"bufio"
	"io/fs"
	"strings"
	"testing"

	"charm.land/glamour/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
)

func load(t *testing.T) *lessons.Course {
	t.Helper()
	c, probs := lessons.Load(content.FS, demos.Builtin())
	if len(probs) > 0 {
		t.Fatalf("the built-in course has problems:\n%v", probs)
	}
	return c
}

func TestCourseLoadsWithoutProblems(t *testing.T) {
	c := load(t)
	want := []string{"why-containers", "vms-vs-containers"}
	for i, id := range want {
		if i >= len(c.Lessons) || c.Lessons[i].ID != id {
			t.Fatalf("lesson %d is not %s: %v", i+1, id, c.IDs())
		}
	}
}

func TestQuizzes(t *testing.T) {
	for _, l := range load(t).Lessons {
		if len(l.Objectives) == 0 {
			t.Errorf("%s: no learning objectives", l.ID)
		}
		if len(l.Quiz) < 5 {
			t.Errorf("%s: %d questions, want at least 5", l.ID, len(l.Quiz))
		}
		multi := 0
		for _, q := range l.Quiz {
			if q.Multi() {
				multi++
				if !strings.Contains(strings.ToLower(q.Prompt), "choose") {
					t.Errorf("%s/%s: a multiple-answer prompt must say how many to choose", l.ID, q.ID)
				}
			}
			if len(strings.Fields(q.Explanation)) < 15 {
				t.Errorf("%s/%s: the explanation is too short to say why the others are wrong", l.ID, q.ID)
			}
			seen := map[string]bool{}
			for _, ch := range q.Choices {
				if seen[ch] {
					t.Errorf("%s/%s: choice %q appears twice", l.ID, q.ID, ch)
				}
				seen[ch] = true
			}
		}
		if multi == 0 {
			t.Errorf("%s: no multiple-answer question", l.ID)
		}
		if multi == len(l.Quiz) {
			t.Errorf("%s: no single-answer question", l.ID)
		}
	}
}

// TestTextFitsTheTerminal keeps lessons readable at 80 columns: no tabs,
// no emoji sequences whose width terminals disagree on, and no rendered line
// wider than the terminal.
func TestTextFitsTheTerminal(t *testing.T) {
	r, err := glamour.NewTermRenderer(glamour.WithStandardStyle("dark"), glamour.WithWordWrap(76))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range load(t).Lessons {
		src, _ := fs.ReadFile(content.FS, l.File)
		if strings.Contains(string(src), "\t") {
			t.Errorf("%s: contains a tab", l.File)
		}
		if strings.ContainsAny(string(src), "\u200d\ufe0f") {
			t.Errorf("%s: contains a ZWJ or VS16 emoji sequence", l.File)
		}
		out, err := r.Render(l.Document())
		if err != nil {
			t.Fatalf("%s: render: %v", l.ID, err)
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		for n := 1; sc.Scan(); n++ {
			if w := ansi.StringWidth(sc.Text()); w > 80 {
				t.Errorf("%s: rendered line %d is %d cells wide: %q", l.ID, n, w, ansi.Strip(sc.Text()))
			}
		}
	}
}

// TestDomainsFollowTheBlueprint pins the tagging against the current KCNA
// blueprint (lessons.Blueprint): containerization (lessons 1 to 7) and
// Kubernetes' core concepts are Kubernetes Fundamentals; networking,
// security, storage and troubleshooting are Container Orchestration;
// delivery and debugging, and ecosystem and principles, have their own
// domains. Every domain has questions, so no exam leaves one untested.
func TestDomainsFollowTheBlueprint(t *testing.T) {
	c := load(t)
	want := map[string]string{
		"why-containers": "kubernetes-fundamentals", "vms-vs-containers": "kubernetes-fundamentals",
		"chroot": "kubernetes-fundamentals", "namespaces": "kubernetes-fundamentals",
		"cgroups": "kubernetes-fundamentals", "runtimes-oci": "kubernetes-fundamentals",
		"images-layers": "kubernetes-fundamentals", "security": "container-orchestration",
		"orchestration": "kubernetes-fundamentals", "networking": "container-orchestration",
		"service-discovery": "container-orchestration", "service-mesh": "container-orchestration",
		"storage": "container-orchestration", "troubleshooting": "container-orchestration",
	}
	questions := map[string]string{
		"troubleshooting/debug-no-shell":     "cloud-native-application-delivery", // Debugging
		"troubleshooting/previous-logs":      "cloud-native-application-delivery",
		"orchestration/rolling-update":       "cloud-native-application-delivery", // Application Delivery
		"orchestration/microservices-traits": "cloud-native-architecture",         // Principles
		"chroot/escape-capability":           "container-orchestration",           // Security
		"namespaces/ns-uid-map":              "kubernetes-fundamentals",
	}
	perDomain := map[string]int{}
	seen := 0
	for _, l := range c.Lessons {
		if _, ok := want[l.ID]; ok {
			seen++
		}
		if w, ok := want[l.ID]; ok && l.Domain != w {
			t.Errorf("lesson %s is tagged %s, the blueprint puts it under %s", l.ID, l.Domain, w)
		}
		for _, q := range l.Quiz {
			perDomain[q.Domain]++
			if w, ok := questions[q.Key()]; ok && q.Domain != w {
				t.Errorf("%s is tagged %s, want %s", q.Key(), q.Domain, w)
			}
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d lessons this test names", seen, len(want))
	}
	for _, d := range lessons.Blueprint {
		if perDomain[d.ID] == 0 {
			t.Errorf("no question in %s (%d%% of the KCNA)", d.Name, d.Weight)
		}
	}
}
