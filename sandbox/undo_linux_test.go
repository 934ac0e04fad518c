package sandbox

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// TestUndoRefusesWhatKcnaLabDoesNotMake: every journal (sandbox, mesh,
// orchestrator, workshop lab) is undone by Undo, and a journal is a file
// on disk that a crash or a hand could leave naming anything. Undo must
// refuse a file, directory, link or cgroup that is not kcna-lab's, and
// leave it as it was.
func TestUndoRefusesWhatKcnaLabDoesNotMake(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "precious.txt")
	if err := os.WriteFile(precious, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, e := range []journal.Entry{
		{Kind: journal.File, Path: precious},
		{Kind: journal.Dir, Path: dir},
		{Kind: journal.Link, Name: "eth0"},
		{Kind: journal.Cgroup, Path: "/sys/fs/cgroup/system.slice"},
		{Kind: journal.Mount, Path: dir},
	} {
		if err := Undo(e); err == nil {
			t.Errorf("Undo(%s) = nil; want a refusal", e)
		}
	}
	if b, err := os.ReadFile(precious); err != nil || string(b) != "keep me" {
		t.Errorf("the file a journal named is changed: %q, %v", b, err)
	}
}
