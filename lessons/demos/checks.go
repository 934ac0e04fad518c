package demos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/kcna-lab/kcna-lab/kernel/overlay"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// checks are the challenges' verifications written in Go. Each reads live
// state — a running sandbox's files, cgroup, namespaces or processes, or a
// file on the host — and says what it found. A challenge that a command's
// exit status and output, or a file's owner and mode, can settle is
// checked by the checks: in its lesson file instead (ship-the-config,
// set-hostname; see declared.go).
func checks() []Check {
	return []Check{
		{ID: "same-kernel", Verify: checkSameKernel},
		{ID: "escape-the-jail", Verify: checkEscaped},
		{ID: "fork-bomb-20", Verify: checkForkBomb},
		{ID: "upper-only", Verify: checkUpperOnly},
		{ID: "make-whiteout", Verify: checkWhiteout},
		{ID: "drop-net-raw", Verify: checkNetRaw},
	}
}

// running finds the sandbox a challenge names; a verdict says how to start
// it when it is not running.
func running(name, start string) (sandbox.State, *Verdict) {
	st, err := sandbox.Find(name)
	if err != nil || !st.Running() {
		return st, &Verdict{Detail: fmt.Sprintf("no sandbox called %s is running; start it with: %s", name, start)}
	}
	return st, nil
}

func pass(format string, a ...any) (Verdict, error) {
	return Verdict{Passed: true, Detail: fmt.Sprintf(format, a...)}, nil
}

func fail(format string, a ...any) (Verdict, error) {
	return Verdict{Detail: fmt.Sprintf(format, a...)}, nil
}

func checkSameKernel(context.Context) (Verdict, error) {
	st, v := running("lab-vms", "kcna-lab shell --name lab-vms --keep  (or press s in the lesson)")
	if v != nil {
		return *v, nil
	}
	// Inside its root, so that a link to the host's own file does not pass.
	b, err := readInside(st.InitPID, "/root/kernel.txt")
	if err != nil {
		return fail("sandbox lab-vms runs, but it has no /root/kernel.txt yet: inside it, run uname -r > /root/kernel.txt")
	}
	host := readTrim("/proc/sys/kernel/osrelease")
	if got := strings.TrimSpace(string(b)); got != host {
		return fail("/root/kernel.txt in lab-vms says %q; the host's kernel release is %q", got, host)
	}
	return pass("the sandbox's uname -r, %s, is the host's kernel release: one kernel serves both", host)
}

// escapedFile is where the chroot challenge leaves its proof.
const escapedFile = "/tmp/kcna-escaped"

func checkEscaped(context.Context) (Verdict, error) {
	fi, err := os.Lstat(escapedFile)
	if err != nil {
		return fail("the host has no %s yet: in the chroot sandbox run escape, then touch %s", escapedFile, escapedFile)
	}
	want := uint32(os.Geteuid())
	if want == 0 {
		want = sandbox.RootMapBase
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != want {
		return fail("%s exists but belongs to uid %d, not to the sandbox's root (host uid %d): it was not made from inside the jail; remove it and try again", escapedFile, st.Uid, want)
	}
	return pass("%s on the host belongs to host uid %d, the sandbox's root: a process inside the chroot jail reached the host's /tmp", escapedFile, want)
}

func checkForkBomb(context.Context) (Verdict, error) {
	st, v := running("bomb", "kcna-lab run --name bomb --pids 20 --detach -- sh -c 'b() { b | b & }; b; exec sleep 3600'")
	if v != nil {
		return *v, nil
	}
	dir := controllerDir(st.Cgroups, "pids")
	if len(st.Cgroups) == 0 {
		return fail("sandbox bomb has no cgroup: give it a limit with --pids 20")
	}
	max := readTrim(filepath.Join(dir, "pids.max"))
	cur, _ := strconv.Atoi(readTrim(filepath.Join(dir, "pids.current")))
	refused := 0
	for _, l := range lines(readTrim(filepath.Join(dir, "pids.events"))) {
		if n, ok := strings.CutPrefix(l, "max "); ok {
			refused, _ = strconv.Atoi(n)
		}
	}
	switch {
	case max != "20":
		return fail("the cgroup of sandbox bomb has pids.max = %s, not 20", max)
	case refused == 0:
		return fail("pids.max is 20 but pids.events shows no refused fork yet: is the fork bomb running inside bomb?")
	case cur > 20:
		return fail("pids.current is %d, over the limit: that should not happen", cur)
	}
	return pass("pids.max = 20, pids.current = %d, and the kernel refused %d forks (pids.events max): the bomb is contained", cur, refused)
}

// checkLayer passes when the upper layer of the lesson's sandbox
// lab-layers holds a change that want accepts, saying so with found;
// missing says what to do when it holds none.
func checkLayer(want func(fs *overlay.FS, c overlay.Change) bool, missing string, found func(fs *overlay.FS, c overlay.Change) string) (Verdict, error) {
	const name = "lab-layers"
	st, v := running(name, "kcna-lab shell --name lab-layers --keep --overlay  (or press s in the lesson)")
	if v != nil {
		return *v, nil
	}
	if st.Layers == nil {
		return fail("sandbox %s has no writable layer: stop it (kcna-lab stop %s) and start it again with --overlay", name, name)
	}
	fs := overlay.Open(st.Layers.Dir, st.Layers.Lower)
	changes, err := fs.Changes()
	if err != nil {
		return Verdict{}, err
	}
	for _, c := range changes {
		if want(fs, c) {
			return pass("%s", found(fs, c))
		}
	}
	return fail("%s", missing)
}

func checkUpperOnly(context.Context) (Verdict, error) {
	return checkLayer(func(fs *overlay.FS, c overlay.Change) bool {
		fi, err := os.Lstat(filepath.Join(fs.Upper, c.Path))
		return c.Kind == overlay.Added && c.Layer == overlay.Upper && err == nil && fi.Mode().IsRegular()
	}, "the upper layer of lab-layers holds no new file yet; create one inside, e.g. echo hi > /hello.txt",
		func(fs *overlay.FS, c overlay.Change) string {
			return fmt.Sprintf("%s is a regular file in the upper layer (%s) and in no lower layer", c.Path, fs.Upper)
		})
}

func checkWhiteout(context.Context) (Verdict, error) {
	return checkLayer(func(_ *overlay.FS, c overlay.Change) bool { return c.Kind == overlay.Whiteout },
		"no whiteout in the upper layer of lab-layers yet; delete a file that came from the image, e.g. rm /etc/group",
		func(_ *overlay.FS, c overlay.Change) string {
			return fmt.Sprintf("the upper layer holds a whiteout for %s (a 0/0 character device): the file from layer %d is hidden, not deleted from the image", c.Path, c.Layer)
		})
}

func checkNetRaw(context.Context) (Verdict, error) {
	st, v := running("hardened", "kcna-lab run --name hardened --cap-drop NET_RAW --detach -- sleep 3600")
	if v != nil {
		return *v, nil
	}
	netRaw, err := sandbox.CapabilityBit("NET_RAW")
	if err != nil {
		return Verdict{}, err
	}
	chown, _ := sandbox.CapabilityBit("CHOWN")
	pids := []string{strconv.Itoa(st.InitPID)}
	children := readTrim(fmt.Sprintf("/proc/%d/task/%d/children", st.InitPID, st.InitPID))
	pids = append(pids, strings.Fields(children)...)
	for _, pid := range pids {
		for _, field := range []string{"CapBnd", "CapEff"} {
			hex, err := statusField(pid, field)
			if err != nil {
				continue // the process ended meanwhile
			}
			mask, _ := strconv.ParseUint(hex, 16, 64)
			if field == "CapBnd" && mask&(1<<chown) == 0 {
				return fail("process %d of hardened lost CAP_CHOWN too: drop only NET_RAW", pidNum(pid))
			}
			if mask&(1<<netRaw) != 0 {
				return fail("process %d of hardened still has CAP_NET_RAW in %s: start the sandbox with --cap-drop NET_RAW", pidNum(pid), field)
			}
		}
	}
	return pass("none of the %d processes of hardened has CAP_NET_RAW in its bounding or effective set, and the rest of the default set is there", len(pids))
}

func pidNum(s string) int { n, _ := strconv.Atoi(s); return n }
