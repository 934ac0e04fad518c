package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/lessons"
)

func TestNewerProgressFileIsRefusedAndKept(t *testing.T) {
	state := privateState(t)
	path := filepath.Join(state, "kcna-lab", "progress.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	newer := `{"version": 42, "lessons": {"why-containers": {"read_at": "2030-01-01T00:00:00Z"}}}`
	if err := os.WriteFile(path, []byte(newer), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"lessons"}, {"progress"}, {"quiz", "1"}} {
		code, out, errOut := kcna(t, args...)
		if code != 1 || !strings.Contains(errOut, "newer kcna-lab") || !strings.Contains(errOut, "untouched") {
			t.Errorf("%v: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != newer {
		t.Fatalf("the newer file changed: %q %v", got, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("files beside it: %v", entries)
	}
}

func TestFlagHelpHasNoBackticks(t *testing.T) {
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	cli.Walk(newRootCmd(a), func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags()} {
			fs.VisitAll(func(f *pflag.Flag) {
				if strings.Contains(f.Usage, "`") {
					t.Errorf("%s --%s: help has a backtick: %q", c.CommandPath(), f.Name, f.Usage)
				}
			})
		}
	})
	_, out, _ := kcna(t, "run", "--help")
	if !strings.Contains(out, "a DIR, FILE.tar") || strings.Contains(out, "`DIR`") {
		t.Errorf("run --help:\n%s", out)
	}
}

func TestDashNIsCountEverywhere(t *testing.T) {
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	var seen []string
	cli.Walk(newRootCmd(a), func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Shorthand == "n" {
				seen = append(seen, c.CommandPath())
				if f.Name != "count" {
					t.Errorf("%s: -n is --%s, not --count", c.CommandPath(), f.Name)
				}
			}
		})
	})
	if len(seen) < 3 { // quiz, exam, mesh call
		t.Fatalf("-n found only on %v", seen)
	}
	// The old long names still work.
	privateState(t)
	code, out, errOut := kcnaIn(t, strings.NewReader(""), "--content", contentDir(t), "exam", "--questions", "1")
	if code != 1 || !strings.Contains(out, "1 question(s)") || !strings.Contains(out+errOut, "use --count") {
		t.Fatalf("exam --questions 1: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestMistypedLessonSuggestsOne(t *testing.T) {
	privateState(t)
	for _, c := range []struct{ args []string }{
		{[]string{"show", "namespace"}},
		{[]string{"show", "namepsaces"}},
		{[]string{"quiz", "04-namespace"}},
	} {
		code, _, errOut := kcna(t, c.args...)
		if code != 1 || !strings.Contains(errOut, "did you mean namespaces?") {
			t.Errorf("%v: exit %d: %s", c.args, code, errOut)
		}
	}
	code, _, errOut := kcna(t, "show", "kubernetes-operators")
	if code != 1 || strings.Contains(errOut, "did you mean") || !strings.Contains(errOut, "why-containers") {
		t.Errorf("far-off id: exit %d: %s", code, errOut)
	}
}

func TestCompletions(t *testing.T) {
	privateState(t)
	complete := func(args ...string) []string {
		t.Helper()
		code, out, errOut := kcna(t, append([]string{"__complete"}, args...)...)
		if code != 0 {
			t.Fatalf("complete %v: exit %d: %s", args, code, errOut)
		}
		var words []string
		for _, line := range strings.Split(out, "\n") {
			if line != "" && !strings.HasPrefix(line, ":") {
				words = append(words, strings.SplitN(line, "\t", 2)[0])
			}
		}
		return words
	}
	for _, cmd := range []string{"show", "quiz"} {
		if got := complete(cmd, ""); !slices.Contains(got, "why-containers") || !slices.Contains(got, "troubleshooting") {
			t.Errorf("%s: %v", cmd, got)
		}
		if got := complete(cmd, "namespaces", ""); len(got) != 0 {
			t.Errorf("%s after a lesson: %v", cmd, got)
		}
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"run", "--net", ""}, []string{"none", "bridge"}},
		{[]string{"run", "--root", ""}, []string{"pivot", "chroot"}},
		{[]string{"shell", "--root", ""}, []string{"pivot", "chroot"}},
		{[]string{"run", "--isolate", "pid,u"}, []string{"pid,uts", "pid,user"}},
		{[]string{"run", "--isolate", "pid,uts,"}, []string{"pid,uts,mnt", "pid,uts,ipc", "pid,uts,net", "pid,uts,user", "pid,uts,cgroup", "pid,uts,time", "pid,uts,all", "pid,uts,none"}},
	} {
		if got := complete(c.args...); !slices.Equal(got, c.want) {
			t.Errorf("complete %v = %v, want %v", c.args, got, c.want)
		}
	}
}

func TestManPageParagraphs(t *testing.T) {
	code, out, errOut := kcna(t, "man")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// The root's help is wrapped at 78 columns; in roff every line break
	// would start a paragraph.
	if !strings.Contains(out, `storage, troubleshooting)\&. Run it with no arguments`) {
		t.Errorf("description not joined into paragraphs:\n%s", out[:min(len(out), 1200)])
	}
	for _, want := range []string{".SH EXIT STATUS", "exit 125", ".SH FILES", `progress\&.json`} {
		if !strings.Contains(strings.ToUpper(out), strings.ToUpper(want)) {
			t.Errorf("man page lacks %q", want)
		}
	}
	if strings.Contains(out, "`") {
		t.Error("man page has literal backticks")
	}
}

func TestProgressJSONHasChallengesAndExams(t *testing.T) {
	state := privateState(t)
	s := &lessons.Store{Path: filepath.Join(state, "kcna-lab", "progress.json"), UID: -1, GID: -1}
	p := lessons.NewProgress()
	passed := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	p.RecordChallenge("chroot", "escape-the-jail", passed)
	p.RecordExam(lessons.ExamResult{At: passed, Score: 45, Total: 60, PassPercent: 75, Passed: true, Seed: 7, Seconds: 3000, LimitSeconds: 5400})
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := kcna(t, "progress", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got cli.ProgressJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.File != s.Path || len(got.Lessons) < 14 || len(got.Exams) != 1 || got.Exams[0].Percent != 75 || !got.Exams[0].Passed {
		t.Fatalf("progress --json = %+v", got)
	}
	var challenges, passedN int
	for _, l := range got.Lessons {
		for _, c := range l.Challenges {
			challenges++
			if c.Passed {
				passedN++
			}
			if c.Passed != (l.ID == "chroot" && c.ID == "escape-the-jail") {
				t.Errorf("lesson %s challenge %s: passed %v", l.ID, c.ID, c.Passed)
			}
			if c.Passed && (c.PassedAt == nil || !c.PassedAt.Equal(passed)) {
				t.Errorf("passed_at %v", c.PassedAt)
			}
		}
	}
	if challenges < 10 || passedN != 1 {
		t.Errorf("%d challenges in progress --json, %d passed; want 10 or more, 1", challenges, passedN)
	}
}

func TestChallengeJSON(t *testing.T) {
	privateState(t)
	code, out, errOut := kcna(t, "challenge", "--json")
	var list []challengeJSON
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) < 10 || list[0].ID == "" || list[0].Task != "" {
		t.Fatalf("challenge --json: exit %d %s\n%s", code, errOut, out)
	}
	code, out, errOut = kcna(t, "challenge", list[0].ID, "--json")
	var one challengeJSON
	if code != 0 || json.Unmarshal([]byte(out), &one) != nil || one.ID != list[0].ID || one.Task == "" || one.Passed {
		t.Fatalf("challenge ID --json: exit %d %s\n%s", code, errOut, out)
	}
}

func TestPsJSONIsAnArray(t *testing.T) {
	privateState(t)
	code, out, errOut := kcna(t, "ps", "--json")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || list == nil {
		t.Fatalf("ps --json: exit %d %s\n%q", code, errOut, out)
	}
	for _, s := range list {
		if _, ok := s["name"].(string); !ok {
			t.Errorf("a sandbox without a name: %v", s)
		}
	}
}

func TestLintContentJSON(t *testing.T) {
	dir := t.TempDir()
	bad := strings.Replace(examLessons, "answer: b\n", "answer: z\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "01-one.md"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := kcna(t, "lint-content", "--json", dir)
	var got struct {
		Dir      string        `json:"dir"`
		Problems []problemJSON `json:"problems"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &got) != nil || len(got.Problems) == 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	p := got.Problems[0]
	if !strings.HasSuffix(p.File, "01-one.md") || p.Line == 0 || p.Message == "" {
		t.Errorf("problem %+v", p)
	}
	code, out, _ = kcna(t, "lint-content", "--json", contentDir(t))
	if code != 0 || !strings.Contains(out, `"problems": []`) {
		t.Errorf("clean dir: exit %d\n%s", code, out)
	}
}

func TestDashFIsFileEverywhere(t *testing.T) {
	a := &app{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	var seen []string
	cli.Walk(newRootCmd(a), func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Shorthand == "f" {
				seen = append(seen, c.CommandPath())
				if f.Name != "file" {
					t.Errorf("%s: -f is --%s, not --file", c.CommandPath(), f.Name)
				}
			}
		})
	})
	if len(seen) < 2 { // build, mesh apply
		t.Fatalf("-f found only on %v", seen)
	}
	// logs -f, from docker's habit, says what to type instead.
	code, _, errOut := kcna(t, "logs", "-f", "web")
	if code != 1 || !strings.Contains(errOut, "-f is not --follow here") || !strings.Contains(errOut, "--follow") {
		t.Errorf("logs -f web: exit %d: %s", code, errOut)
	}
	code, _, errOut = kcna(t, "logs", "--follow", "kl-no-such-sandbox")
	if code != 1 || !strings.Contains(errOut, "no log for a sandbox called kl-no-such-sandbox") {
		t.Errorf("logs --follow: exit %d: %s", code, errOut)
	}
}

func TestErrorsPrintAsWritten(t *testing.T) {
	privateState(t)
	// The lesson id starts the message; a path ends it.
	code, _, errOut := kcna(t, "show", "namepsaces")
	if code != 1 || !strings.Contains(errOut, `no lesson "namepsaces": did you mean namespaces?`) || !strings.Contains(errOut, "service-mesh, storage") {
		t.Errorf("show namepsaces: exit %d: %q", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "no-such-content")
	code, _, errOut = kcna(t, "--content", missing, "lessons")
	if code != 1 || strings.Contains(errOut, "Open ") || strings.Contains(errOut, missing+".") {
		t.Errorf("--content %s: exit %d: %q", missing, code, errOut)
	}
}
