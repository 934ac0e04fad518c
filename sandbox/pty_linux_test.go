//go:build linux

package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestExecWithATerminalGetsItsOwn: `exec -t` (a kept shell) gives the
// command a pseudo-terminal from the sandbox's own devpts as its
// controlling terminal, so that `tty` names it inside and job control
// works, and hands the learner's terminal back as it was.
func TestExecWithATerminalGetsItsOwn(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	sb, err := sandbox.Start(context.Background(), sandbox.Spec{Name: "kt-pty", Hold: true}, event.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopSandbox(sb) })

	// The learner's terminal, played by a pty of the test's own.
	master, term := openTestPTY(t)
	before, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(master, 4096)) // until the deadline below
		got <- string(b)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// $- has "m" when the shell has job control, which needs a
	// controlling terminal.
	res, err := sandbox.Exec(ctx, "kt-pty", []string{"sh", "-i", "-c", `tty; echo "flags=$-"`}, term, term, term, true)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("exec: %+v, %v", res, err)
	}
	after, err := unix.IoctlGetTermios(int(term.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if after.Lflag != before.Lflag || after.Iflag != before.Iflag || after.Oflag != before.Oflag {
		t.Errorf("the terminal was not given back as it was: lflag %#x -> %#x", before.Lflag, after.Lflag)
	}
	_ = master.SetReadDeadline(time.Now().Add(time.Second))
	out := <-got
	if !strings.Contains(out, "/dev/pts/") {
		t.Errorf("inside, tty said %q; want a /dev/pts name of the sandbox's own", out)
	}
	if i := strings.Index(out, "flags="); i < 0 || !strings.Contains(strings.Fields(out[i:])[0], "m") {
		t.Errorf("the shell has no job control (no m in $-): %q", out)
	}
}

func openTestPTY(t *testing.T) (master, peer *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("no pty: %v", err)
	}
	m := os.NewFile(uintptr(fd), "ptmx") // non-blocking: pollable, so deadlines work
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(); _ = p.Close() })
	return m, p
}
