package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
