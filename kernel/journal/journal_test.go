package journal

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRollbackUndoesNewestFirstAndRemovesFile(t *testing.T) {
	dir := t.TempDir()
	j, err := Create(dir, "run1")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/a", "/b", "/c"} {
		if err := j.Record(Entry{Kind: Dir, Path: p}); err != nil {
			t.Fatal(err)
		}
	}
	var order []string
	if err := j.Rollback(func(e Entry) error { order = append(order, e.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{"/c", "/b", "/a"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("undo order = %v, want %v", order, want)
	}
	if _, err := os.Stat(j.Path()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("journal file still there after a clean rollback: %v", err)
	}
}

func TestRollbackKeepsFileWhenUndoFails(t *testing.T) {
	dir := t.TempDir()
	j, _ := Create(dir, "run2")
	_ = j.Record(Entry{Kind: Dir, Path: "/stuck"})
	_ = j.Record(Entry{Kind: Dir, Path: "/fine"})
	var undone []string
	err := j.Rollback(func(e Entry) error {
		undone = append(undone, e.Path)
		if e.Path == "/stuck" {
			return errors.New("busy")
		}
		return nil
	})
	if err == nil {
		t.Fatal("rollback hid the failure")
	}
	if len(undone) != 2 {
		t.Fatalf("rollback stopped at the first failure: undid %v", undone)
	}
	if _, err := os.Stat(j.Path()); err != nil {
		t.Fatalf("journal removed although an object is left: %v", err)
	}
}

func TestLiveOwnerIsNotAnOrphan(t *testing.T) {
	dir := t.TempDir()
	j, _ := Create(dir, "mine")
	defer j.Close()
	_ = j.Record(Entry{Kind: Dir, Path: "/x"})
	orphans, err := Orphans(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 0 {
		t.Fatalf("a journal of this live process was taken for an orphan: %+v", orphans)
	}
}

func TestSweepUndoesADeadOwnersJournal(t *testing.T) {
	dir := t.TempDir()
	j, _ := Create(dir, "dead")
	_ = j.Record(Entry{Kind: Dir, Path: "/left"})
	// Hand the journal to a process that then exits: its objects are leftovers.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a child process: %v", err)
	}
	st, err := ProcStartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.SetOwner(Owner{PID: cmd.Process.Pid, StartTime: st}); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	_ = j.Close()

	var undone []Entry
	swept, err := Sweep(dir, func(e Entry) error { undone = append(undone, e); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(swept) != 1 || swept[0].Path != "/left" || len(undone) != 1 {
		t.Fatalf("swept %v, undone %v; want the one entry", swept, undone)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.journal")); len(left) != 0 {
		t.Fatalf("journal files left after sweep: %v", left)
	}
}

func TestTornLastLineIsIgnored(t *testing.T) {
	dir := t.TempDir()
	j, _ := Create(dir, "torn")
	_ = j.Record(Entry{Kind: Dir, Path: "/whole"})
	_ = j.SetOwner(Owner{PID: 1 << 30, StartTime: 1}) // no such process
	_ = j.Close()
	f, _ := os.OpenFile(j.Path(), os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString(`{"entry":{"kind":"dir","pa`)
	_ = f.Close()
	orphans, err := Orphans(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(orphans) != 1 || len(orphans[0].Entries) != 1 {
		t.Fatalf("orphans = %+v, want one with the whole entry only", orphans)
	}
}

func TestCreateRejectsPathIDs(t *testing.T) {
	for _, id := range []string{"", "..", "a/b"} {
		if _, err := Create(t.TempDir(), id); err == nil {
			t.Errorf("Create(%q) accepted a path as an id", id)
		}
	}
}

func TestProcStartTimeOfSelf(t *testing.T) {
	a, err := ProcStartTime(os.Getpid())
	if err != nil || a == 0 {
		t.Fatalf("ProcStartTime(self) = %d, %v", a, err)
	}
	o, _ := Self()
	if !o.Alive() {
		t.Fatal("this process is not alive by its own owner record")
	}
}
