package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/internal/testbuild"
)

// TestMakeInstallAndUninstall runs the Makefile's install-files (what make
// install does after building) into a DESTDIR with the test's programs,
// runs what it installed, then make uninstall, which must leave no file.
func TestMakeInstallAndUninstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make here")
	}
	from := t.TempDir()
	testbuild.Lab(t, from)
	testbuild.Init(t, from)
	dest := t.TempDir()
	mk := func(target string) {
		t.Helper()
		cmd := exec.Command("make", "-s", "-C", "../..", target, "DESTDIR="+dest, "PREFIX=/usr", "FROM="+from+"/")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	mk("install-files")
	files := map[string]string{
		"usr/bin/kcna-lab":                                  "",
		"usr/bin/kcna-lab-init":                             "",
		"usr/share/man/man1/kcna-lab.1":                     ".TH KCNA-LAB 1",
		"usr/share/bash-completion/completions/kcna-lab":    "__start_kcna-lab",
		"usr/share/zsh/site-functions/_kcna-lab":            "#compdef kcna-lab",
		"usr/share/fish/vendor_completions.d/kcna-lab.fish": "complete -c kcna-lab",
	}
	for f, want := range files {
		b, err := os.ReadFile(filepath.Join(dest, f))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: %v, lacks %q", f, err, want)
		}
	}
	out, err := exec.Command(filepath.Join(dest, "usr/bin/kcna-lab"), "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kcna-lab") {
		t.Errorf("installed kcna-lab --version: %v %s", err, out)
	}
	mk("uninstall")
	for f := range files {
		if _, err := os.Stat(filepath.Join(dest, f)); !os.IsNotExist(err) {
			t.Errorf("%s left after uninstall (%v)", f, err)
		}
	}
}
