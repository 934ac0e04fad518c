//go:build linux

package demos

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/content"
	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Each challenge's check is tested both ways: on a state that must fail
// and on one that must pass, built with real sandboxes.

// openDir is a temporary directory that other host uids may enter, as
// a sandbox's root (host uid 100000) must; t.TempDir's are private.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/var/tmp", "kcna-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// verify runs the check of challenge id as kcna-lab does: the checks:
// its lesson file gives, or the one built in under its id.
func verify(t *testing.T, id string) Verdict {
	t.Helper()
	c, ok := Builtin().ChallengeCheck(courseChallenge(t, id))
	if !ok {
		t.Fatalf("no check %s", id)
	}
	v, err := c.Verify(context.Background())
	if err != nil {
		t.Fatalf("check %s: %v", id, err)
	}
	return v
}

func wantVerdict(t *testing.T, id string, passed bool, detail string) {
	t.Helper()
	v := verify(t, id)
	t.Logf("%s: passed=%v %s", id, v.Passed, v.Detail)
	if v.Passed != passed || !strings.Contains(v.Detail, detail) {
		t.Errorf("check %s: passed=%v %q; want passed=%v and %q", id, v.Passed, v.Detail, passed, detail)
	}
}

// start runs a held sandbox for a check to find; stop ends it, and the
// test's end does if stop was not called.
func start(t *testing.T, spec sandbox.Spec) (stop func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root)")
	}
	_, stop, err := held(context.Background(), spec, event.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return stop
}

func execIn(t *testing.T, name, script string) {
	t.Helper()
	out, res, err := sandbox.ExecOutput(context.Background(), name, "sh", "-c", script)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%s in %s: %v %d %s", script, name, err, res.ExitCode, out)
	}
}

func TestCheckSetHostname(t *testing.T) {
	wantVerdict(t, "set-hostname", false, "no sandbox called box")
	stop := start(t, sandbox.Spec{Name: "box", Hostname: "elsewhere"})
	wantVerdict(t, "set-hostname", false, `printed "elsewhere", which does not match`)
	stop()
	start(t, sandbox.Spec{Name: "box", Hostname: "kcna-box"})
	wantVerdict(t, "set-hostname", true, "kcna-box")
}

// courseChallenge is the built-in course's challenge id.
func courseChallenge(t *testing.T, id string) lessons.Challenge {
	t.Helper()
	c, probs := parse.Load(content.FS, Builtin())
	if len(probs) > 0 {
		t.Fatalf("the built-in course has problems:\n%v", probs)
	}
	for _, l := range c.Lessons {
		for _, ch := range l.Challenges {
			if ch.ID == id {
				return ch
			}
		}
	}
	t.Fatalf("no challenge %s in the course", id)
	return lessons.Challenge{}
}

func TestCheckForkBomb(t *testing.T) {
	start(t, sandbox.Spec{Name: "bomb", Limits: sandbox.Limits{Pids: 30}})
	wantVerdict(t, "fork-bomb-20", false, "not 20")
}

func TestCheckForkBombPasses(t *testing.T) {
	start(t, sandbox.Spec{Name: "bomb", Limits: sandbox.Limits{Pids: 20}})
	wantVerdict(t, "fork-bomb-20", false, "no refused fork")
	_, _, _ = sandbox.ExecOutput(context.Background(), "bomb", "sh", "-c", `i=0; while [ $i -lt 40 ]; do sleep 60 >/dev/null 2>&1 & i=$((i+1)); done`)
	wantVerdict(t, "fork-bomb-20", true, "pids.max = 20")
}

func TestCheckLayers(t *testing.T) {
	start(t, sandbox.Spec{Name: "lab-layers"})
	wantVerdict(t, "upper-only", false, "no writable layer")
}

func TestCheckLayersPass(t *testing.T) {
	start(t, sandbox.Spec{Name: "lab-layers", Overlay: true})
	wantVerdict(t, "upper-only", false, "no new file")
	wantVerdict(t, "make-whiteout", false, "no whiteout")
	execIn(t, "lab-layers", "echo hi > /hello.txt; rm /etc/group")
	wantVerdict(t, "upper-only", true, "/hello.txt")
	wantVerdict(t, "make-whiteout", true, "/etc/group")
}

func TestCheckNetRaw(t *testing.T) {
	start(t, sandbox.Spec{Name: "hardened"})
	wantVerdict(t, "drop-net-raw", false, "still has CAP_NET_RAW")
}

func TestCheckNetRawPass(t *testing.T) {
	start(t, sandbox.Spec{Name: "hardened", CapDrop: []string{"NET_RAW"}})
	execIn(t, "hardened", "sleep 30 >/dev/null 2>&1 &")
	wantVerdict(t, "drop-net-raw", true, "CAP_NET_RAW")
}

func TestCheckShipConfig(t *testing.T) {
	dir := openDir(t)
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte("port=80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := start(t, sandbox.Spec{Name: "app", Volumes: []sandbox.Volume{{Host: dir, Target: "/etc/app", ReadOnly: true}}})
	wantVerdict(t, "ship-the-config", false, "no line port=8080")
	stop()
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte("port=8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, sandbox.Spec{Name: "app", Volumes: []sandbox.Volume{{Host: dir, Target: "/etc/app", ReadOnly: true}}})
	wantVerdict(t, "ship-the-config", true, "port=8080")
}

// The declarative checks of ship-the-config fail, each with its own
// message, on each way of getting the challenge wrong.
func TestCheckShipConfigBroken(t *testing.T) {
	wantVerdict(t, "ship-the-config", false, "sandbox app must be running with /etc/app/app.conf inside it: mount the directory that holds app.conf at /etc/app with --volume (no sandbox called app is running")
	stop := start(t, sandbox.Spec{Name: "app"})
	wantVerdict(t, "ship-the-config", false, "(in sandbox app: there is no /etc/app/app.conf)")
	stop()
	// The config is there, but written into the sandbox's own root (as
	// an edit of the image would put it), not mounted.
	stop = start(t, sandbox.Spec{Name: "app", Overlay: true})
	execIn(t, "app", "mkdir -p /etc/app && echo port=8080 > /etc/app/app.conf")
	wantVerdict(t, "ship-the-config", false, "inside sandbox app, /etc/app is not a read-only mount")
	stop()
	// A volume, but writable.
	dir := openDir(t)
	if err := os.WriteFile(filepath.Join(dir, "app.conf"), []byte("port=8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, sandbox.Spec{Name: "app", Volumes: []sandbox.Volume{{Host: dir, Target: "/etc/app"}}})
	wantVerdict(t, "ship-the-config", false, "/etc/app is not a read-only mount: give the config as a volume, read-only")
}

func TestCheckSameKernel(t *testing.T) {
	start(t, sandbox.Spec{Name: "lab-vms"})
	wantVerdict(t, "same-kernel", false, "no /root/kernel.txt")
	execIn(t, "lab-vms", "uname -r > /root/kernel.txt")
	wantVerdict(t, "same-kernel", true, readTrim("/proc/sys/kernel/osrelease"))
}

func TestCheckEscapeTheJail(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (CI runs as root)")
	}
	if _, err := os.Lstat(escapedFile); err == nil {
		t.Skipf("%s exists already (a learner's?); not touching it", escapedFile)
	}
	// The escape program is the sandbox's init program, as kcna-lab
	// ships it, where the sandbox's root (another host uid) can run it.
	initProgram, _ := testbuild.Init(t, openDir(t))
	t.Setenv(sandbox.InitProgramEnv, initProgram)
	wantVerdict(t, "escape-the-jail", false, "no "+escapedFile)
	t.Cleanup(func() { _ = os.Remove(escapedFile) })
	// A plain touch on the host is no proof: wrong owner.
	if err := os.WriteFile(escapedFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wantVerdict(t, "escape-the-jail", false, "not made from inside")
	_ = os.Remove(escapedFile)
	// The learner's way: escape, then touch from the shell it starts.
	res, err := sandbox.Run(context.Background(), sandbox.Spec{
		Root: sandbox.RootChroot, Args: []string{"escape"},
		Stdin: strings.NewReader("touch " + escapedFile + "\n"),
	}, event.SinkFunc(func(e event.Event) {
		if e.Kind == event.KindStep && !e.OK() {
			t.Logf("step %s failed: %s", e.Action, e.Err)
		}
	}))
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("escape: %v %+v", err, res)
	}
	wantVerdict(t, "escape-the-jail", true, "sandbox's root")
}
