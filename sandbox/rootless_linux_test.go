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
	if err := testbuild.Available(); err != nil {
		t.Skip(err)
	}
	leaveNoTrace(t)
	kinds := []string{"go"}
	if testbuild.Native() == nil {
		kinds = append(kinds, "native")
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			if kind == "go" {
				t.Setenv(testbuild.NativeEnv, "0")
			}
			bin := sharedDir(t, "kcna-test-rootless-", 0o755)
			lab := testbuild.Lab(t, bin)
			testbuild.Init(t, bin)
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
			if left, _ := filepath.Glob(filepath.Join(home, "run", "kcna-lab", "sandboxes", "*")); len(left) > 0 {
				t.Errorf("nobody's sandbox state left: %v", left)
			}
		})
	}
}
