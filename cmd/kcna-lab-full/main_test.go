package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
)

// kcna runs the CLI in-process with a private progress directory.
func kcna(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func privateState(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_STATE_HOME", dir)
	t.Setenv("SUDO_USER", "")
	return dir
}

func TestNoTerminalExits2WithOneClearLine(t *testing.T) {
	privateState(t)
	code, out, errOut := kcna(t)
	if code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "needs a terminal") ||
		!strings.Contains(errOut, "kcna-lab lessons") {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
	if strings.Contains(strings.ToLower(errOut), "tty") {
		t.Fatalf("raw TTY error leaked: %q", errOut)
	}
}

func TestLessonsJSON(t *testing.T) {
	privateState(t)
	code, out, errOut := kcna(t, "lessons", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rows []cli.LessonRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(rows) < 2 || rows[0].ID != "why-containers" || rows[0].Status != "not started" || rows[0].Questions < 5 {
		t.Fatalf("rows = %+v", rows)
	}
}

func TestLessonsTable(t *testing.T) {
	privateState(t)
	code, out, _ := kcna(t, "lessons")
	if code != 0 || !strings.Contains(out, "why-containers") || !strings.Contains(out, "0% of the course done") {
		t.Fatalf("exit %d, out:\n%s", code, out)
	}
}

func TestShowPipedIsPlainText(t *testing.T) {
	privateState(t)
	for _, ref := range []string{"why-containers", "1", "01-why-containers"} {
		code, out, errOut := kcna(t, "show", ref)
		if code != 0 {
			t.Fatalf("show %s: exit %d: %s", ref, code, errOut)
		}
		if strings.Contains(out, "\x1b[") {
			t.Fatalf("show %s piped printed escape codes", ref)
		}
		if !strings.Contains(out, "Why containers") {
			t.Fatalf("show %s: title missing:\n%s", ref, out)
		}
	}
}

func TestShowUnknownLessonListsTheIDs(t *testing.T) {
	privateState(t)
	code, _, errOut := kcna(t, "show", "nope")
	if code != 1 || !strings.Contains(strings.ToLower(errOut), `no lesson "nope"`) || !strings.Contains(errOut, "why-containers") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestLintContent(t *testing.T) {
	dir := t.TempDir()
	bad := "---\nid: mine\ntitle: Mine\norder: 1\ndomain: container-orchestration\nobjectives: [x]\n" +
		"quiz:\n  - id: q\n    prompt: p\n    choices: [a, b]\n    answer: c\n---\nbody\n"
	if err := os.WriteFile(filepath.Join(dir, "01-mine.md"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := kcna(t, "lint-content", dir)
	want := filepath.Join(dir, "01-mine.md") + ":11:13: quiz[0].answer: \"c\" is out of range"
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, `missing "quiz[0].explanation"`) {
		t.Fatalf("exit %d, out:\n%s\nwant a line starting %s", code, out, want)
	}

	good := strings.Replace(bad, "answer: c", "answer: b\n    explanation: because", 1)
	_ = os.WriteFile(filepath.Join(dir, "01-mine.md"), []byte(good), 0o644)
	code, out, _ = kcna(t, "lint-content", dir)
	if code != 0 || !strings.Contains(out, "1 lesson(s)") {
		t.Fatalf("exit %d, out:\n%s", code, out)
	}

	// The same lessons drive every command through --content.
	privateState(t)
	code, out, _ = kcna(t, "--content", dir, "lessons", "--json")
	if code != 0 || !strings.Contains(out, `"id": "mine"`) {
		t.Fatalf("--content: exit %d, out:\n%s", code, out)
	}
}

func TestContentWithProblemsRefusesToStart(t *testing.T) {
	privateState(t)
	code, _, errOut := kcna(t, "--content", t.TempDir(), "lessons")
	if code != 1 || !strings.Contains(errOut, "no lesson files found") || !strings.Contains(errOut, "lint-content") {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
}

func TestProgressResetKeepsTheOldFile(t *testing.T) {
	state := privateState(t)
	path := filepath.Join(state, "kcna-lab", "progress.json")
	_ = os.MkdirAll(filepath.Dir(path), 0o700)
	_ = os.WriteFile(path, []byte(`{"version":1,"lessons":{"why-containers":{"read_at":"2026-11-23T10:00:00Z"}}}`), 0o600)

	code, out, _ := kcna(t, "progress")
	if code != 0 || !strings.Contains(out, path) || !strings.Contains(out, "in progress") {
		t.Fatalf("exit %d, out:\n%s", code, out)
	}
	code, out, _ = kcna(t, "progress", "--reset")
	if code != 0 || !strings.Contains(out, path+".bak") {
		t.Fatalf("exit %d, out:\n%s", code, out)
	}
	if _, err := os.Stat(path + ".bak"); err != nil {
		t.Fatal("old progress not kept")
	}
}

func TestCorruptProgressIsReportedAndKept(t *testing.T) {
	state := privateState(t)
	path := filepath.Join(state, "kcna-lab", "progress.json")
	_ = os.MkdirAll(filepath.Dir(path), 0o700)
	_ = os.WriteFile(path, []byte("{not json"), 0o600)
	code, out, errOut := kcna(t, "lessons")
	if code != 0 || !strings.Contains(errOut, path+".bak") || !strings.Contains(out, "why-containers") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

func TestVersionAndHelp(t *testing.T) {
	code, out, _ := kcna(t, "--version")
	if code != 0 || !strings.Contains(out, "kcna-lab") {
		t.Fatalf("--version: exit %d, %q", code, out)
	}
	code, out, _ = kcna(t, "--help")
	for _, sub := range []string{"lessons", "show", "progress", "lint-content", "--content"} {
		if !strings.Contains(out, sub) {
			t.Errorf("--help does not mention %s", sub)
		}
	}
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
}

// TestDemoWithoutAnIDListsThem: `kcna-lab demo` alone names every demo
// with its title, and says how to run one.
func TestDemoWithoutAnIDListsThem(t *testing.T) {
	code, out, errOut := kcna(t, "demo")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{"cgroup-limits ", "A chroot jail, and the classic way out of it", "kcna-lab demo ID"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo's list lacks %q:\n%s", want, out)
		}
	}
}

func TestDemoMistypedSuggests(t *testing.T) {
	code, _, errOut := kcna(t, "demo", "cgroup-limit")
	if code != 1 || !strings.Contains(errOut, "did you mean cgroup-limits?") {
		t.Fatalf("demo cgroup-limit: exit %d, stderr:\n%s", code, errOut)
	}
}

func TestDemoListAsJSON(t *testing.T) {
	code, out, errOut := kcna(t, "demo", "--json")
	var list []struct{ ID, Title string }
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) < 10 || list[0].ID == "" || list[0].Title == "" {
		t.Fatalf("demo --json: exit %d, %d demos parsed from\n%s%s", code, len(list), out, errOut)
	}
}
