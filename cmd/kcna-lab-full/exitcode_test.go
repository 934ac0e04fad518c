package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestRunOwnFailuresExit125 runs the built kcna-lab as a script would and
// reads the exit status the kernel reports for it: kcna-lab's own failures
// are 125, the command's status passes through unchanged.
func TestRunOwnFailuresExit125(t *testing.T) {
	dir := t.TempDir()
	lab := testbuild.Lab(t, dir)
	testbuild.Init(t, dir)
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	status := func(args ...string) (int, string) {
		t.Helper()
		out, err := exec.Command(lab, args...).CombinedOutput()
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, string(out)
		case errors.As(err, &ee):
			return ee.ExitCode(), string(out)
		}
		t.Fatalf("kcna-lab %v: %v", args, err)
		return 0, ""
	}
	for _, args := range [][]string{
		{"run", "--no-such-flag", "--", "true"},
		{"run", "--memory", "lots", "--", "true"},
		{"run", "--isolate", "pid,bogus", "--", "true"},
		{"run"}, // no command
		{"run", "--net", "wifi", "--", "true"},
	} {
		if code, out := status(args...); code != cli.RunFailed || out == "" {
			t.Errorf("kcna-lab %s: exit %d, want %d, said %q", strings.Join(args, " "), code, cli.RunFailed, out)
		}
	}
	// Other commands' failures stay 1.
	if code, _ := status("show", "no-such-lesson"); code != 1 {
		t.Errorf("show no-such-lesson: exit %d, want 1", code)
	}
	if os.Geteuid() != 0 {
		t.Skip("the sandboxes' own statuses need root")
	}
	cache, err := sandbox.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := rootfs.Default(cache, 100000, 100000, event.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cmd  []string
		want int
	}{
		{[]string{"/bin/true"}, 0},
		{[]string{"/bin/sh", "-c", "exit 1"}, 1},
		{[]string{"/bin/sh", "-c", "exit 3"}, 3},
		{[]string{"/bin/sh", "-c", "exit 125"}, 125}, // the command's own 125 is its own
		{[]string{"/bin/sh", "-c", "kill -TERM $$"}, 128 + 15},
		{[]string{"/no/such/program"}, 127},
		{[]string{"/etc/passwd"}, 126}, // not executable
	} {
		// No user namespace: its mapped root could not reach the programs in
		// the test's private (0700) temporary directory.
		args := append([]string{"run", "--isolate", "pid,uts,mnt,ipc,net", "--rootfs", root, "--"}, c.cmd...)
		if code, out := status(args...); code != c.want {
			t.Errorf("run -- %s: exit %d, want %d (%s)", strings.Join(c.cmd, " "), code, c.want, out)
		}
	}
}

// TestSandboxNamesComplete starts a sandbox in the background with the
// built kcna-lab and asks the completion of stop, exec, logs and layers
// for its name, then stops it.
func TestSandboxNamesComplete(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("a sandbox needs root")
	}
	dir := t.TempDir()
	lab := testbuild.Lab(t, dir)
	testbuild.Init(t, dir)
	cache, err := sandbox.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := rootfs.Default(cache, 100000, 100000, event.Discard)
	if err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("kl-comp-%d", os.Getpid())
	if out, err := exec.Command(lab, "run", "--detach", "--name", name, "--isolate", "pid,uts,mnt,ipc,net",
		"--rootfs", root, "--", "sleep", "60").CombinedOutput(); err != nil {
		t.Fatalf("run --detach: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(lab, "stop", "--timeout", "2s", name).CombinedOutput(); err != nil {
			t.Errorf("stop: %v\n%s", err, out)
		}
		if _, err := sandbox.Find(name); err == nil {
			t.Errorf("sandbox %s still there after stop", name)
		}
	})
	for _, cmd := range []string{"stop", "exec", "logs", "layers"} {
		out, err := exec.Command(lab, "__complete", cmd, "").CombinedOutput()
		if err != nil || !strings.Contains(string(out), name+"\tsleep 60") {
			t.Errorf("complete %s: %v\n%s", cmd, err, out)
		}
		// Only the first argument is a sandbox.
		out, _ = exec.Command(lab, "__complete", cmd, name, "").CombinedOutput()
		if strings.Contains(string(out), name) {
			t.Errorf("complete %s %s: offered the name again:\n%s", cmd, name, out)
		}
	}
}
