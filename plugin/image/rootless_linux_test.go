//go:build linux

package image_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kcna-lab/kcna-lab/internal/testbuild"
)

// nobody is the unprivileged user the rootless test runs kcna-lab as.
const nobody = 65534

// TestRootlessBuildAndRun builds and runs an image as nobody: the RUN
// step's sandbox mounts its overlay in a user namespace, so its whiteout
// and opaque directory are overlayfs's rootless marks (user.overlay.*),
// and the image runs from layers unpacked with those marks. Where no
// filesystem takes user.* xattrs, kcna-lab must say so before it starts.
func TestRootlessBuildAndRun(t *testing.T) {
	needSandbox(t)
	probe := exec.Command("unshare", "--user", "true")
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("this host does not let nobody create a user namespace (%v: %s)", err, out)
	}
	if err := testbuild.Available(); err != nil {
		t.Skip(err)
	}
	leaveNoTrace(t)
	dir, err := os.MkdirTemp("/var/tmp", "kcna-image-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lab := testbuild.Lab(t, dir)
	testbuild.Init(t, dir)
	home := filepath.Join(dir, "home")
	ctxDir := filepath.Join(home, "ctx")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"Dockerfile": "FROM busybox\nCOPY note.txt /srv/\nRUN rm /etc/hosts && rm -r /root && mkdir /root && echo fresh > /root/x\nCMD [\"sh\", \"-c\", \"cat /srv/note.txt /root/x; ls /root; test -e /etc/hosts || echo hosts-gone; id -u\"]\n",
		"note.txt":   "rootless\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := filepath.Walk(home, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(p, nobody, nobody)
	}); err != nil {
		t.Fatal(err)
	}
	env := []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "XDG_RUNTIME_DIR=" + filepath.Join(home, "run"), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	as := func(args ...string) (string, error) {
		cmd := exec.Command(lab, args...)
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := as("build", "-q", "-t", "rootless:1", ctxDir)
	if err != nil && strings.Contains(out, "user extended attributes") {
		t.Skipf("no filesystem here takes user.* xattrs, which a rootless writable layer needs; kcna-lab said so:\n%s", out)
	}
	if err != nil {
		t.Fatalf("build as nobody: %v\n%s", err, out)
	}
	out, err = as("run", "--image", "rootless:1")
	if err != nil {
		t.Fatalf("run --image as nobody: %v\n%s", err, out)
	}
	if want := "rootless\nfresh\nx\nhosts-gone\n0\n"; out != want {
		t.Errorf("the image printed %q; want %q (the whiteout and the opaque /root honoured, root inside)", out, want)
	}
}
