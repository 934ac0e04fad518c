//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

func TestInitProgramNeedsAFileOnlyItsOwnerCanChange(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "kcna-lab-init")
	if err := os.WriteFile(p, []byte("#!/bin/true\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !trustedProgram(p) {
		t.Fatalf("%s (0755, ours) should be trusted", p)
	}
	for _, mode := range []os.FileMode{0o775, 0o757, 0o644} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if trustedProgram(p) {
			t.Errorf("mode %o: a program others can change, or none can run, must not be trusted", mode)
		}
	}
	if trustedProgram(dir) {
		t.Error("a directory must not be trusted")
	}
	t.Setenv(InitProgramEnv, "/some/where/kcna-lab-init")
	if got := InitProgram(); got != "/some/where/kcna-lab-init" {
		t.Errorf("InitProgram() = %q, want $%s", got, InitProgramEnv)
	}
}
