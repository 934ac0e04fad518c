package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// AppArmorProfile is an AppArmor profile that lets kcna-lab, at path lab,
// kcna-lab-full beside it (FullProgram, to which kcna-lab hands most
// commands) and its init, at path init, create user namespaces: Ubuntu 23.10 and
// later deny that to unconfined programs run by a normal user
// (kernel.apparmor_restrict_unprivileged_userns=1), and allow it to
// programs that a profile names, as Ubuntu's own profiles do for podman
// and browsers. The profiles confine nothing else (flags=(unconfined)).
// A profile attaches by path: after moving the binaries, make it again.
func AppArmorProfile(lab, init string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# AppArmor profile for kcna-lab, made by `+"`kcna-lab apparmor`"+`.
# It lets these programs create the user namespaces a rootless sandbox is
# built in, which kernel.apparmor_restrict_unprivileged_userns=1 denies to
# unconfined programs; it restricts nothing else. Install it with
#   kcna-lab apparmor | sudo tee %s && sudo apparmor_parser -r %s
abi <abi/4.0>,
include <tunables/global>
`, AppArmorProfilePath, AppArmorProfilePath)
	for _, p := range []struct{ name, path string }{{"kcna-lab", lab}, {FullProgram, filepath.Join(filepath.Dir(lab), FullProgram)}, {"kcna-lab-init", init}} {
		fmt.Fprintf(&b, "\nprofile %s %s flags=(unconfined) {\n  userns,\n\n  include if exists <local/%s>\n}\n", p.name, quoteAppArmorPath(p.path), p.name)
	}
	return b.String()
}

// AppArmorProfilePath is where AppArmor looks for a system's profiles.
const AppArmorProfilePath = "/etc/apparmor.d/kcna-lab"

// quoteAppArmorPath quotes a path, escaping what profile syntax would
// otherwise read as its own.
func quoteAppArmorPath(p string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(p) + `"`
}

// appArmorProfileActive reports whether this process runs under one of
// the kcna-lab profile's programs, which then lets it create user
// namespaces.
func appArmorProfileActive() bool {
	for _, f := range []string{"/proc/self/attr/apparmor/current", "/proc/self/attr/current"} {
		if b, err := os.ReadFile(f); err == nil {
			return kcnaLabLabel(string(b))
		}
	}
	return false
}

// kcnaLabLabel reports whether an AppArmor label ("kcna-lab-full
// (unconfined)") is one of the profile's programs.
func kcnaLabLabel(label string) bool {
	name, _, _ := strings.Cut(strings.TrimSpace(label), " ")
	return slices.Contains(profilePrograms, name)
}

// profilePrograms are the programs the profile names, by the profile
// names AppArmor shows as their labels.
var profilePrograms = []string{"kcna-lab", FullProgram, "kcna-lab-init"}

// installedPrograms are the paths the AppArmor profile must name: this
// binary, and kcna-lab-init beside it. Run as kcna-lab-full (which
// `kcna-lab apparmor` is), this binary is the kcna-lab beside it.
func installedPrograms() (lab, init string) {
	lab, err := os.Executable()
	if err != nil {
		lab = "/usr/local/bin/kcna-lab"
	}
	if l, err := filepath.EvalSymlinks(lab); err == nil {
		lab = l
	}
	if filepath.Base(lab) == FullProgram {
		lab = filepath.Join(filepath.Dir(lab), "kcna-lab")
	}
	return lab, filepath.Join(filepath.Dir(lab), "kcna-lab-init")
}

// ThisAppArmorProfile is AppArmorProfile for this binary and its init.
func ThisAppArmorProfile() string { return AppArmorProfile(installedPrograms()) }
