//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// InitProgramEnv names an environment variable that, when set, is the
// path of the program to run as every sandbox's init (tests and the
// benchmark point it at a freshly built kcna-lab-init).
const InitProgramEnv = "KCNA_LAB_INIT"

// InitProgram is the binary a sandbox's init runs: $KCNA_LAB_INIT, else
// kcna-lab-init beside the running binary (`make build` puts it there),
// else the running binary itself. The small one matters because an init
// pays its program's whole start-up before the sandbox's first step:
// kcna-lab carries the TUI's Markdown renderer, whose package
// initialisation alone takes tens of milliseconds. It is also the
// chroot-escape program, so it must be static (`make build` links it so).
func InitProgram() string {
	if p := os.Getenv(InitProgramEnv); p != "" {
		return p
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), initproc.Arg0)
		if trustedProgram(p) {
			return p
		}
	}
	return "/proc/self/exe"
}

// ProgramBeside is the program name in the running binary's directory,
// where `make build` and `make install` put kcna-lab's programs, if it is
// trustedProgram; else an error saying where it was looked for and why
// it will not do. The slim kcna-lab front finds kcna-lab-full so.
func ProgramBeside(name string) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find kcna-lab's own binary, to find %s beside it: %w", name, err)
	}
	p := filepath.Join(filepath.Dir(exe), name)
	if trustedProgram(p) {
		return p, nil
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return p, fmt.Errorf("%s is not at %s: %w", name, p, err)
	}
	return p, fmt.Errorf("%s at %s is not an executable file that only root, you or the owner of %s can change (mode %o, owner uid %d)", name, p, exe, st.Mode&0o7777, st.Uid)
}

// trustedProgram reports whether p is an executable file that only its
// owner can change, and that owner is root, the caller, or whoever owns
// the running binary: a sandbox's init and kcna-lab-full run with the
// caller's privileges, so nobody else may swap them. The running
// binary's owner already has that power (`sudo ./bin/kcna-lab` runs a
// learner's own build as root), and in a workshop lab both programs
// show as owned by nobody. Trusted so, it must also sit in a directory
// only its owner can write.
func trustedProgram(p string) bool {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 || st.Mode&0o022 != 0 {
		return false
	}
	if st.Uid == 0 || st.Uid == uint32(os.Geteuid()) {
		return true
	}
	// Only where nobody else may put a file there: in a workshop lab the
	// owner shows as the overflow uid, as every unmapped host user does.
	owner, ok := runningBinaryOwner()
	var dir unix.Stat_t
	return ok && st.Uid == owner && unix.Stat(filepath.Dir(p), &dir) == nil && dir.Mode&0o022 == 0
}

// runningBinaryOwner is the owner of the running binary, when only that
// owner can change it.
func runningBinaryOwner() (uint32, bool) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil || st.Mode&0o022 != 0 {
		return 0, false
	}
	return st.Uid, true
}

// InitKind says which init InitProgram carries: "native" (kcna-lab-init
// built with its C init, the fastest start), "go", or "" when it could
// not be asked (the reason in err).
func InitKind() (string, error) {
	prog := InitProgram()
	if prog == "/proc/self/exe" {
		return "go", nil // kcna-lab itself: pure Go
	}
	cmd := exec.Command(prog, initproc.KindArg)
	cmd.Args[0] = initproc.Arg0
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ask %s which init it carries: %w", prog, err)
	}
	return strings.TrimSpace(string(out)), nil
}
