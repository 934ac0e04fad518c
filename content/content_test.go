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
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

func load(t *testing.T) *lessons.Course {
	t.Helper()
	c, probs := parse.Load(content.FS, demos.Builtin())
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
		"observing-containers": "cloud-native-architecture", // Observability
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

// TestFlaggedClaimsStayExact pins the fixes of issue 17's review: each
// row names a lesson file, text it must say and text it must no longer
// say (whitespace-normalised), with the reason.
func TestFlaggedClaimsStayExact(t *testing.T) {
	for _, tc := range []struct {
		file, why string
		must, not []string
	}{
		{"14-troubleshooting.md", "Pending includes image pulls; ImagePullBackOff is a container reason inside it",
			[]string{"includes the time spent pulling images", "| ErrImagePull, ImagePullBackOff | Pending |"},
			[]string{"id: pending-causes", "id: two-containers-port", "| Pending | fits no node, or its claim is unbound |"}},
		{"08-security.md", "the /proc/keys question answers its own choices",
			[]string{"id: masked-proc-keys", "Having no keyrings would not explain the mount"},
			[]string{"id: masked-kcore", "lack of memory"}},
		{"06-runtimes-oci.md", "dockerd survives a restart only with live-restore; Kata 2 is a shim v2",
			[]string{"live-restore", "containerd-shim-kata-v2"},
			[]string{"lets dockerd and containerd restart", "runsc, kata)", "Both are OCI runtimes"}},
		{"12-service-mesh.md", "rate, errors, latency are Linkerd's golden metrics; the four golden signals add saturation",
			[]string{"golden metrics", "saturation"},
			[]string{"golden signals** (request rate", "shows the golden signals"}},
		{"05-cgroups.md", "OOMKilled comes from the runtime's cgroup OOM event; the demo's bomb is a real one",
			[]string{"watch each container's cgroup for OOM events", "a real fork bomb"},
			[]string{"Kubernetes reads the same signal", "id: oom-137"}},
		{"03-chroot.md", "abstract Unix sockets belong to the network namespace",
			[]string{"abstract Unix sockets, whose names belong to the network namespace"},
			[]string{"and abstract Unix sockets, are shared", "id: escaped-but-unprivileged"}},
		{"02-vms-vs-containers.md", "the shared-kernel demo lists processes from the cgroup and reads /proc too",
			[]string{"`cgroup.procs`", "`NSpid`", "`VmRSS`", "`memory.current`"}, nil},
		{"05-cgroups.md", "on cgroup v2 the kubelet makes an OOM kill take the whole container",
			[]string{"memory.oom.group=1", "singleProcessOOMKill", "on v1 the killer picks one process"},
			[]string{"the OOM killer picks a process in that cgroup and sends SIGKILL"}},
		{"05-cgroups.md", "the Try it shows the fork bomb the demo runs, whose shell stays up",
			[]string{"`b() { b | b & }; b; exec sleep 60`", "b() { b | b & }; b; exec sleep 3600'"},
			[]string{"`b() { b | b & }; b`,", "b; sleep 3600"}},
		{"06-runtimes-oci.md", "containerd runs gVisor through its own shim, not as a runc stand-in",
			[]string{"containerd-shim-runsc-v1", "io.containerd.runsc.v1"},
			[]string{"runtime, called where runc would be", "runc (or crun, runsc)"}},
		{"glossary.yaml", "a shim per container or per pod; 137 is what shells report; CRI-O may drop the pause container",
			[]string{"one per pod under the CRI", "A killed process has no exit status", "CRI-O, by default, only when"},
			[]string{"one shim each", "then exits with status 137", "first in every pod"}},
		{"13-storage.md", "no near-duplicate of images-layers/writable-layer-lost",
			[]string{"id: stop-start-keeps-layer"}, []string{"id: restart-loses-layer"}},
	} {
		b, err := fs.ReadFile(content.FS, tc.file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(string(b)), " ")
		for _, m := range tc.must {
			if !strings.Contains(text, m) {
				t.Errorf("%s should say %q (%s)", tc.file, m, tc.why)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(text, n) {
				t.Errorf("%s still says %q (%s)", tc.file, n, tc.why)
			}
		}
	}
}

// TestGlossaryCoversEveryLesson: the built-in glossary loads (each term in
// a lesson that uses it, checked by Load) and points into every lesson.
func TestGlossaryCoversEveryLesson(t *testing.T) {
	c := load(t)
	if len(c.Glossary) < 40 {
		t.Errorf("the glossary has %d terms, want the course's vocabulary (40+)", len(c.Glossary))
	}
	taught := map[string]int{}
	for _, term := range c.Glossary {
		taught[term.Lesson]++
		if len(strings.Fields(term.Means)) < 8 {
			t.Errorf("%s: %q is too short to explain it", term.Term, term.Means)
		}
	}
	for _, l := range c.Lessons {
		if taught[l.ID] == 0 {
			t.Errorf("no glossary term points to lesson %s", l.ID)
		}
	}
}
