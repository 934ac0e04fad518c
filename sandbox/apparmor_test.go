package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAppArmorProfileParses: the profile names the three programs, grants
// user namespaces, and the rest of it is what apparmor_parser accepts.
// Debian 12's parser (AppArmor 3) predates the userns rule and the 4.0
// abi, which Ubuntu 23.10+ (AppArmor 4) has: with such a parser those two
// lines are checked by eye, the rest by the parser.
func TestAppArmorProfileParses(t *testing.T) {
	p := AppArmorProfile("/opt/kcna lab/kcna-lab", "/opt/kcna lab/kcna-lab-init")
	for _, want := range []string{
		`profile kcna-lab "/opt/kcna lab/kcna-lab" flags=(unconfined) {`,
		`profile kcna-lab-full "/opt/kcna lab/kcna-lab-full" flags=(unconfined) {`,
		`profile kcna-lab-init "/opt/kcna lab/kcna-lab-init" flags=(unconfined) {`,
		"abi <abi/4.0>,",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("the profile lacks %q:\n%s", want, p)
		}
	}
	if n := strings.Count(p, "\n  userns,\n"); n != 3 {
		t.Errorf("the profile grants userns %d times, want once per program:\n%s", n, p)
	}
	parser, err := exec.LookPath("apparmor_parser")
	if err != nil {
		t.Skip("apparmor_parser is not installed (Debian: apparmor)")
	}
	if _, err := os.Stat("/etc/apparmor.d/abi/4.0"); err != nil {
		p = strings.ReplaceAll(p, "abi <abi/4.0>,", "abi <abi/3.0>,")
		p = regexp.MustCompile(`(?m)^  userns,\n`).ReplaceAllString(p, "")
		t.Log("AppArmor 3 here: the userns rule and the 4.0 abi are left out of the parse")
	}
	f := filepath.Join(t.TempDir(), "kcna-lab")
	if err := os.WriteFile(f, []byte(p), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(parser, "--skip-kernel-load", "--skip-cache", "--debug", f).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Mode: unconfined") {
		t.Errorf("apparmor_parser refused the profile: %v\n%s", err, out)
	}
}

// TestAppArmorLabel: the label a process runs under is one of the
// profile's three programs, or not the profile at all.
func TestAppArmorLabel(t *testing.T) {
	for label, want := range map[string]bool{
		"kcna-lab (unconfined)\n":      true,
		"kcna-lab-full (unconfined)\n": true,
		"kcna-lab-init (unconfined)":   true,
		"unconfined\n":                 false,
		"kcna-lab-other (unconfined)":  false,
		"/usr/bin/man (enforce)":       false,
		"":                             false,
	} {
		if got := kcnaLabLabel(label); got != want {
			t.Errorf("kcnaLabLabel(%q) = %v, want %v", label, got, want)
		}
	}
}
