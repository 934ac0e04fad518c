//go:build linux

package initproc

import (
	"errors"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// runCopy starts sh -c script through forkExecCopy with stdout on a
// pipe, on descriptor numbers that the child must move into place, and
// returns what it printed and its exit status.
func runCopy(t *testing.T, script string, setsid bool) (string, unix.WaitStatus) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	files := []uintptr{null.Fd(), w.Fd(), w.Fd()}
	pid, err := forkExecCopy("/bin/sh", []string{"sh", "-c", script}, []string{"PATH=/usr/bin:/bin"}, files, setsid, false)
	w.Close()
	if err != nil {
		t.Fatalf("forkExecCopy: %v", err)
	}
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatal(err)
	}
	return out.String(), ws
}

func TestForkExecCopyRunsTheCommand(t *testing.T) {
	// A signal this process ignores and blocks must reach the command at
	// its default, as the native init's commands get them.
	signal.Ignore(unix.SIGUSR2)
	defer signal.Reset(unix.SIGUSR2)
	out, ws := runCopy(t, `echo out; echo err >&2; grep -E '^(SigIgn|SigBlk)' /proc/self/status; exit 3`, true)
	if ws.ExitStatus() != 3 {
		t.Errorf("exit status %d, want 3 (output %q)", ws.ExitStatus(), out)
	}
	if !strings.Contains(out, "out\n") || !strings.Contains(out, "err\n") {
		t.Errorf("stdout and stderr should both reach the pipe: %q", out)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], "Sig") && strings.Trim(f[1], "0") != "" {
			t.Errorf("the command starts with %s (want no signal ignored or blocked)", line)
		}
	}
	out, _ = runCopy(t, `ps -o sid= -p $$ 2>/dev/null || cut -d' ' -f6 /proc/$$/stat; echo $$`, true)
	if f := strings.Fields(out); len(f) != 2 || f[0] != f[1] {
		t.Errorf("with setsid the command leads its own session: session and PID %q", out)
	}
}

func TestForkExecCopyReportsExecErrors(t *testing.T) {
	_, err := forkExecCopy("/nonexistent/cmd", []string{"cmd"}, nil, []uintptr{0, 1, 2}, false, false)
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("forkExecCopy of a missing program = %v, want ENOENT", err)
	}
	// Descriptors 0 and 1 onto 1 and 2: the child must first move them
	// above the others, without landing on its error pipe, which is
	// made just after null and so is the next number up.
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	_, err = forkExecCopy("/nonexistent/cmd", []string{"cmd"}, nil, []uintptr{null.Fd(), 0, 1}, false, false)
	if !errors.Is(err, unix.ENOENT) {
		t.Errorf("with descriptors to move, forkExecCopy of a missing program = %v, want ENOENT", err)
	}
}

// The reason forkExecCopy exists: a child of a thread that has unshared
// a time namespace enters it, which before Linux 6.2 only a child with
// memory of its own may do. The kernel's /proc/PID/ns/time says where it
// landed.
func TestForkExecCopyEntersTheThreadsTimeNamespace(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/time"); err != nil {
		t.Skip("this kernel has no time namespaces")
	}
	skip := make(chan string, 1)
	go func() {
		defer close(skip)
		// Never unlocked: the thread, whose namespace for children is
		// changed, ends with this goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
			skip <- "unshare(CLONE_NEWTIME): " + err.Error() + " (needs root)"
			return
		}
		want, err := os.Readlink("/proc/thread-self/ns/time_for_children")
		if err != nil {
			t.Error(err)
			return
		}
		out, ws := runCopy(t, `readlink /proc/self/ns/time`, false)
		if got := strings.TrimSpace(out); ws.ExitStatus() != 0 || got != want {
			t.Errorf("the command's time namespace is %q (exit %d), want the thread's namespace for children %q", got, ws.ExitStatus(), want)
		}
	}()
	if reason, ok := <-skip; ok {
		t.Skip(reason)
	}
}
