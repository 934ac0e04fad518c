//go:build linux

package sandbox_test

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

// TestRootlessAsNobody runs kcna-lab as nobody, with each init: a user
// namespace maps nobody to root inside, which the kernel's uid_map and the
// PID 1's thread count show, and nothing is left in nobody's state
// directory or on the host afterwards.
func TestRootlessAsNobody(t *testing.T) {
	needRoot(t)
	probe := exec.Command("unshare", "--user", "true")
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("this host does not let nobody create a user namespace (%v: %s); kcna-lab doctor says which setting", err, out)
	}
	leaveNoTrace(t)
	kinds := []string{"go"}
	if testbuild.CanLinkStatic() {
		kinds = append(kinds, "native")
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			if kind == "go" {
				t.Setenv(testbuild.NativeEnv, "0")
			}
			bin := sharedDir(t, "kcna-test-rootless-", 0o755)
			lab, err := testbuild.Lab(bin)
			if err == nil {
				_, _, err = testbuild.Init(bin)
			}
			if err != nil {
				t.Fatal(err)
			}
			home := sharedDir(t, "kcna-test-nobody-", 0o755)
			if err := os.Chown(home, nobody, nobody); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(lab, "run", "--", "sh", "-c", "id -u; cat /proc/self/uid_map; cat /proc/1/status")
			cmd.Env = []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "XDG_RUNTIME_DIR=" + filepath.Join(home, "run"), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("kcna-lab run as nobody: %v\n%s", err, out)
			}
			lines := strings.Split(string(out), "\n")
			if lines[0] != "0" {
				t.Errorf("id -u inside = %q; want 0 (root in the user namespace)", lines[0])
			}
			if f := strings.Fields(lines[1]); len(f) != 3 || f[0] != "0" || f[1] != "65534" || f[2] != "1" {
				t.Errorf("uid_map inside = %q; want root mapped to nobody (0 65534 1)", lines[1])
			}
			// PID 1 is the init: one thread for the native init, the Go
			// runtime's several for the Go one.
			n := statusField(t, string(out), "Threads")
			if (n == "1") != (kind == "native") {
				t.Errorf("%s init: PID 1 runs %s threads", kind, n)
			}
			// A writable layer, mounted by the init in its user namespace:
			// the kernel's mountinfo shows the overlay as the root, with
			// user.* xattrs (an opaque directory needs one), and the
			// layers, with overlayfs's mode-000 work dir, are removed.
			over := exec.Command(lab, "run", "--overlay", "--", "sh", "-c", `rm -rf /etc && mkdir /etc && echo x > /etc/new && cat /etc/new && grep " / / " /proc/self/mountinfo`)
			over.Env, over.SysProcAttr = cmd.Env, cmd.SysProcAttr
			out, err = over.CombinedOutput()
			if err != nil {
				t.Fatalf("kcna-lab run --overlay as nobody: %v\n%s", err, out)
			}
			if o := string(out); !strings.HasPrefix(o, "x\n") || !strings.Contains(o, " - overlay overlay ") || !strings.Contains(o, "userxattr") {
				t.Errorf("rootless --overlay: want the root an overlay with userxattr; got\n%s", o)
			}
			if left, _ := filepath.Glob(filepath.Join(home, "run", "kcna-lab", "sandboxes", "*")); len(left) > 0 {
				t.Errorf("nobody's sandbox state left: %v", left)
			}
		})
	}
}
