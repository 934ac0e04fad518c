package dashboard

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
	"github.com/kcna-lab/kcna-lab/workshop/roster"
)

func testCourse(t testing.TB) *lessons.Course {
	t.Helper()
	src := "---\nid: first\ntitle: First lesson\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\nquiz:\n" +
		"  - id: q1\n    prompt: Which is right?\n    choices: [wrong, right]\n    answer: b\n    explanation: The second is right, the first is not.\n" +
		"---\n# First\n\nText.\n"
	src2 := strings.NewReplacer("id: first", "id: second", "title: First lesson", "title: Second lesson", "order: 1", "order: 2").Replace(src)
	c, probs := parse.Load(fstest.MapFS{"01-first.md": {Data: []byte(src)}, "02-second.md": {Data: []byte(src2)}}, nil)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return c
}

// fakeActions records what the dashboard asked for.
type fakeActions struct {
	mu   sync.Mutex
	done []string
}

func (f *fakeActions) record(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done = append(f.done, s)
	return nil
}
func (f *fakeActions) Broadcast(msg string) error      { return f.record("broadcast " + msg) }
func (f *fakeActions) Pace(n int) error                { return f.record("pace " + string(rune('0'+n))) }
func (f *fakeActions) StopSandboxes(name string) error { return f.record("stop " + name) }
func (f *fakeActions) ResetLab(name string) error      { return f.record("reset " + name) }
func (f *fakeActions) EndSession() error               { return f.record("end") }
func (f *fakeActions) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.done...)
}

func waitScreen(t *testing.T, tm *teatest.TestModel, what string, ok func(string) bool) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return ok(ansi.Strip(string(b))) },
		teatest.WithDuration(3*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

// TestDashboardLiveTableFilterDetailAndActions drives the dashboard as
// an instructor would: the table updates when a student answers (by
// inotify, no key pressed), / filters, enter opens a student, and a
// broadcast is asked for, confirmed and done.
func TestDashboardLiveTableFilterDetailAndActions(t *testing.T) {
	c := testCourse(t)
	r := roster.New(c, roster.Options{})
	aliceDir := filepath.Join(t.TempDir(), "kcna-lab")
	r.Add("alice", aliceDir)
	r.Add("bob", filepath.Join(t.TempDir(), "kcna-lab"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Watch(ctx) }()
	time.Sleep(50 * time.Millisecond)
	acts := &fakeActions{}
	tm := teatest.NewTestModel(t, New(r, c, acts), teatest.WithInitialTermSize(120, 30))
	waitScreen(t, tm, "both students", func(s string) bool { return strings.Contains(s, "alice") && strings.Contains(s, "bob") })

	p := lessons.NewProgress()
	p.MarkRead(c.Lessons[0], time.Now())
	p.RecordAnswer(&c.Lessons[0].Quiz[0], []int{1}, time.Now())
	if err := (&lessons.Store{Path: filepath.Join(aliceDir, "progress.json"), UID: -1, GID: -1}).Save(p); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, tm, "alice's right answer", func(s string) bool { return strings.Contains(s, "1/1") })

	tm.Type("/bo")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, tm, "bob's detail", func(s string) bool { return strings.Contains(s, "Last checks") && strings.Contains(s, "bob") })
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	tm.Type("b")
	tm.Type("Break until 11")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	waitScreen(t, tm, "the confirmation", func(s string) bool { return strings.Contains(s, "to every student?") })
	tm.Type("y")
	waitScreen(t, tm, "the broadcast done", func(s string) bool { return strings.Contains(s, "Broadcast to every student: done") })
	tm.Type("l")
	waitScreen(t, tm, "the lesson view", func(s string) bool {
		return strings.Contains(s, "First lesson") && strings.Contains(s, "read 1/2, quiz passed 1/2")
	})
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEscape})
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
	if got := acts.list(); len(got) != 1 || got[0] != "broadcast Break until 11" {
		t.Fatalf("actions %q, want one broadcast", got)
	}
}

// TestDashboardCancelledActionDoesNothing: n cancels.
func TestDashboardCancelledActionDoesNothing(t *testing.T) {
	c := testCourse(t)
	r := roster.New(c, roster.Options{})
	r.Add("alice", t.TempDir())
	acts := &fakeActions{}
	tm := teatest.NewTestModel(t, New(r, c, acts), teatest.WithInitialTermSize(100, 24))
	waitScreen(t, tm, "alice", func(s string) bool { return strings.Contains(s, "alice") })
	tm.Type("E")
	waitScreen(t, tm, "the question", func(s string) bool { return strings.Contains(s, "End the workshop for everyone?") })
	tm.Type("n")
	waitScreen(t, tm, "cancelled", func(s string) bool { return strings.Contains(s, "cancelled") })
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
	if got := acts.list(); len(got) != 0 {
		t.Fatalf("a cancelled action ran: %q", got)
	}
}

var _ = bytes.Contains

// TestDashboardStudentTextCannotDrawARow: a student who writes a newline
// and escapes into their activity's screen draws no row of their own
// (before the roster cleaned it, "map\nzed ..." drew a student zed).
func TestDashboardStudentTextCannotDrawARow(t *testing.T) {
	c := testCourse(t)
	dir := t.TempDir()
	forged := lessons.Activity{Screen: "map\nzed            now     \x1b[2J1 reader", Lesson: "first\nzed", Since: time.Now()}
	if err := lessons.WriteJSON(filepath.Join(dir, lessons.ActivityFile), forged, 0o644); err != nil {
		t.Fatal(err)
	}
	r := roster.New(c, roster.Options{})
	r.Add("alice", dir)
	tm := teatest.NewTestModel(t, New(r, c, &fakeActions{}), teatest.WithInitialTermSize(120, 30))
	var screen string
	waitScreen(t, tm, "alice", func(s string) bool { screen = s; return strings.Contains(s, "alice") })
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
	if strings.Contains(screen, "zed") {
		t.Fatalf("the student's text drew on the dashboard:\n%s", screen)
	}
}

// TestDashboardAtTheServerAsksBeforeEnding: at the server's terminal
// (EndsWorkshop) q and ctrl+c end nothing by themselves: they ask the
// end question, n cancels, y ends through EndSession (which logs).
func TestDashboardAtTheServerAsksBeforeEnding(t *testing.T) {
	c := testCourse(t)
	r := roster.New(c, roster.Options{})
	r.Add("alice", t.TempDir())
	acts := &fakeActions{}
	tm := teatest.NewTestModel(t, New(r, c, acts).EndsWorkshop(), teatest.WithInitialTermSize(100, 24))
	waitScreen(t, tm, "alice", func(s string) bool { return strings.Contains(s, "alice") })
	tm.Type("q")
	waitScreen(t, tm, "the question after q", func(s string) bool { return strings.Contains(s, "End the workshop for everyone?") })
	tm.Type("n")
	waitScreen(t, tm, "cancelled", func(s string) bool { return strings.Contains(s, "cancelled") })
	if got := acts.list(); len(got) != 0 {
		t.Fatalf("q then n ran %q", got)
	}
	tm.Send(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl})
	waitScreen(t, tm, "the question after ctrl+c", func(s string) bool { return strings.Contains(s, "End the workshop for everyone?") })
	tm.Type("y")
	for deadline := time.Now().Add(3 * time.Second); len(acts.list()) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if got := acts.list(); len(got) != 1 || got[0] != "end" {
		t.Fatalf("actions %q, want one end", got)
	}
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(3*time.Second))
}
