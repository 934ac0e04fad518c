package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFileReplacesWholeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "new" || fi.Mode().Perm() != 0o644 {
		t.Errorf("after WriteFile: %q, mode %v; want \"new\", 0644", b, fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d entries; want the file alone", len(entries))
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("the source broke")
	}
	r.n--
	return copy(p, "half"), nil
}

// TestCopyFailingKeepsTheOldFile: a source that fails half way leaves
// the old file as it was, and no temporary file.
func TestCopyFailingKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kcna-lab")
	if err := os.WriteFile(p, []byte("whole old program"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := Copy(p, &failingReader{n: 2}, 0o755)
	if err == nil || !strings.Contains(err.Error(), "write "+p) || !strings.Contains(err.Error(), "the source broke") {
		t.Fatalf("Copy from a broken source: %v; want an error naming the file and the cause", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "whole old program" {
		t.Errorf("the old file is now %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d entries; want the old file alone", len(entries))
	}
}
