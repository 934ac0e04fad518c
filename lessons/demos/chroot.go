package demos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// chrootDemo builds a jail, lists / inside and outside, then runs the
// classic chroot escape twice: under chroot it reaches the host's files,
// under pivot_root it finds nothing above the root.
func chrootDemo() Demo {
	return Demo{
		ID:    "chroot-escape",
		Title: "A chroot jail, and the classic way out of it",
		Run:   runChroot,
		Blocked: func(r sandbox.Report) string {
			return needsNamespaces(r, sandbox.NSMount)
		},
		ShellFlags: []string{"--name", "lab-chroot", "--keep", "--root", "chroot"},
	}
}

func runChroot(ctx context.Context, sink event.Sink) error {
	host, err := listDir("/")
	if err != nil {
		return err
	}
	event.Narrate(sink, "On the host, / holds: "+host)
	if name := os.Getenv("KCNA_LAB_WORKSHOP"); name != "" {
		event.Narrate(sink, fmt.Sprintf("You are %s on a workshop server, and this \"host\" is your lab: a sandbox of your own, with its own root built by pivot_root. An escape below lands here, in your lab, never on the server or with a classmate.", name))
	}

	event.Narrate(sink, "Now a process whose root is the jail, a small busybox root filesystem. It runs `ls /`:")
	spec := sandbox.Spec{Args: []string{"ls", "/"}, Root: sandbox.RootChroot}
	if _, err := sandbox.Run(ctx, spec, sink); err != nil {
		return err
	}

	// A file that exists only on the host: finding it from inside proves
	// the escape reached the host's tree.
	probe, err := os.CreateTemp("", "kcna-escape-probe-")
	if err != nil {
		return fmt.Errorf("create the probe file: %w", err)
	}
	probe.Close()
	defer func() { _ = os.Remove(probe.Name()) }()
	if err := os.Chmod(probe.Name(), 0o644); err != nil {
		return err
	}

	// Unreadable (installed 0711 by root, this run rootless) is no proof
	// of anything; only an init known to be dynamic is refused.
	if static, err := rootfs.IsStatic(sandbox.InitProgram()); err == nil && !static {
		return errors.New("the escape program is kcna-lab's sandbox init, run inside a busybox root with no C library, so it must be static: rebuild it with `make build`, which links it so")
	}
	event.Narrate(sink, "The escape, in C:\n"+sandbox.EscapeSource)
	event.Narrate(sink, fmt.Sprintf("First under --root chroot. The host's tree is still mounted behind the jail. The program looks for %s, a file that exists only on the host:", probe.Name()))
	res, err := sandbox.Run(ctx, sandbox.Spec{Escape: true, Args: []string{probe.Name()}, Root: sandbox.RootChroot}, sink)
	if err != nil {
		return err
	}
	chrootEscaped := res.ExitCode == 0

	event.Narrate(sink, "Now the same program under pivot_root, the default: the old root is swapped out and detached, so `..` of / is / itself:")
	res, err = sandbox.Run(ctx, sandbox.Spec{Escape: true, Args: []string{probe.Name()}, Root: sandbox.RootPivot}, sink)
	if err != nil {
		return err
	}
	pivotEscaped := res.ExitCode == 0

	event.Narrate(sink, fmt.Sprintf("Result: under chroot the escape %s; under pivot_root it %s. chroot changes what one process calls /; it is not a security boundary on its own. Container runtimes use pivot_root in a new mount namespace and detach the old root, which is why Docker can leave CAP_SYS_CHROOT in its default capability set: there is nothing above the root left to climb to.",
		verdict(chrootEscaped), verdict(pivotEscaped)))
	return nil
}

func verdict(escaped bool) string {
	if escaped {
		return "got out"
	}
	return "stayed inside"
}

func listDir(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("list %s: %w", dir, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = filepath.Base(e.Name())
	}
	return strings.Join(names, " "), nil
}
