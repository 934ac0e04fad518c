package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
)

// TestShellNamesTheSandboxItKeeps: every lesson whose shell keeps a
// sandbox names it (lab-*), so that quitting the course can offer to stop
// exactly the sandboxes its shells kept and nothing else.
func TestShellNamesTheSandboxItKeeps(t *testing.T) {
	c, probs := parse.Load(content.FS, demos.Builtin())
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	kept := 0
	for _, l := range c.Lessons {
		cmd, name, err := shellFor(c, l.ID, "")
		if err != nil {
			t.Fatalf("%s: %v", l.ID, err)
		}
		if !slices.Contains(cmd.Args, "--keep") {
			if name != "" {
				t.Errorf("%s: a shell that keeps nothing named %q as kept", l.ID, name)
			}
			continue
		}
		kept++
		if !strings.HasPrefix(name, "lab-") || !slices.Contains(cmd.Args, name) {
			t.Errorf("%s: the kept sandbox is %q, want the lab-* name in %v", l.ID, name, cmd.Args)
		}
	}
	if kept == 0 {
		t.Error("no lesson's shell keeps a sandbox")
	}
	if got := keptName([]string{"--keep", "--name=lab-x"}); got != "lab-x" {
		t.Errorf("keptName(--name=lab-x) = %q", got)
	}
}

// TestShellIsTheChosenDemos: lesson 15 has two demos with different
// sandboxes; the TUI's s, after d picked the second, opens the second's.
func TestShellIsTheChosenDemos(t *testing.T) {
	c, probs := parse.Load(content.FS, demos.Builtin())
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	l, ok := c.Lesson("observing-containers")
	if !ok || len(l.Demos) < 2 {
		t.Fatalf("observing-containers has demos %v; the test needs two", l.Demos)
	}
	seen := map[string]bool{}
	for _, id := range l.Demos {
		_, name, err := shellFor(c, l.ID, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		d, _ := demos.Builtin().Demo(id)
		if want := keptName(d.ShellFlags); name != want {
			t.Errorf("demo %s: the shell keeps %q, want %q (its own flags)", id, name, want)
		}
		seen[name] = true
	}
	if len(seen) != len(l.Demos) {
		t.Errorf("the demos' shells are not told apart: %v", seen)
	}
	if _, _, err := shellFor(c, l.ID, "no-such-demo"); err == nil || !strings.Contains(err.Error(), "has no demo") {
		t.Errorf("an unknown demo: %v", err)
	}
}
