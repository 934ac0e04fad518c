package kubernetes

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCgroupnsEntrypoint runs deploy/kcna-lab-cgroupns as a privileged pod
// would, and reads from the kernel what its command got. A cgroup made for
// the test stands in for the container's cgroup; a private mount namespace
// puts this host's cgroup2 hierarchy at /sys/fs/cgroup (on a hybrid host it
// is at /sys/fs/cgroup/unified), as the node's whole tree is in the pod.
func TestCgroupnsEntrypoint(t *testing.T) {
	v2 := cgroup2Mount(t)
	wrapper, err := filepath.Abs("../kcna-lab-cgroupns")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("serve gets the container's cgroup", func(t *testing.T) {
		container := testCgroup(t, v2)
		// Hand down what this cgroup can use of the three; on a hybrid host
		// memory, cpu and pids are bound to cgroup v1 and that is none.
		avail, err := os.ReadFile(filepath.Join(v2, container, "cgroup.controllers"))
		if err != nil {
			t.Fatal(err)
		}
		var ctls []string
		for _, c := range []string{"memory", "cpu", "pids"} {
			if slices.Contains(strings.Fields(string(avail)), c) {
				ctls = append(ctls, c)
			}
		}
		t.Logf("controllers handed down here: %q", ctls)

		out, err := runWrapper(t, v2, container, wrapper, strings.Join(ctls, " "), `
			echo "self=$(sed -n 's/^0:://p' /proc/self/cgroup)"
			echo "fs=$(stat -fc %T /sys/fs/cgroup)"
			echo "rootprocs=$(wc -l </sys/fs/cgroup/cgroup.procs)"
			echo "subtree=$(cat /sys/fs/cgroup/cgroup.subtree_control)"
			echo "env=$(env | grep -c '^KCNA_CGROUPNS_STAGE\|^KCNA_CGROUPNS_SELF' || true)"`)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		want := map[string]string{
			// Its cgroup namespace's root is the container's cgroup, and
			// it sits in the leaf under it.
			"self": "/kcna-lab-server",
			"fs":   "cgroup2fs",
			// No process left in the root, or enabling controllers for
			// the students' cgroups would fail with EBUSY.
			"rootprocs": "0",
			"subtree":   strings.Join(ctls, " "),
			// The wrapper's own variables do not reach serve.
			"env": "0",
		}
		got := fields(out)
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q (output:\n%s)", k, got[k], v, out)
			}
		}
		// Seen from outside, the kernel has the leaf in the container's cgroup.
		procs, err := os.ReadFile(filepath.Join(v2, container, "kcna-lab-server", "cgroup.procs"))
		if err != nil {
			t.Fatalf("the leaf is not in the container's cgroup: %v", err)
		}
		if len(procs) != 0 {
			t.Errorf("processes left in the leaf after the command ended: %q", procs)
		}
	})

	t.Run("a controller the cgroup lacks is refused", func(t *testing.T) {
		container := testCgroup(t, v2)
		out, err := runWrapper(t, v2, container, wrapper, "kcna-no-such-controller", "echo ran")
		if err == nil || !strings.Contains(out, "does not offer the kcna-no-such-controller controller") || strings.Contains(out, "ran") {
			t.Fatalf("want a refusal naming the controller and no command run; err %v, output:\n%s", err, out)
		}
	})

	t.Run("cgroup v1 at /sys/fs/cgroup is refused", func(t *testing.T) {
		out, err := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
			`mount -t tmpfs kcna-test /sys/fs/cgroup && exec "$0" echo ran`, wrapper).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "is not a cgroup v2 filesystem") || strings.Contains(string(out), "ran") {
			t.Fatalf("want a refusal naming cgroup v2; err %v, output:\n%s", err, out)
		}
	})
}

// runWrapper runs script under the wrapper from inside container, a cgroup
// under v2, with v2 mounted at /sys/fs/cgroup in a private mount namespace.
func runWrapper(t *testing.T, v2, container, wrapper, controllers, script string) (string, error) {
	t.Helper()
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", `
		set -e
		v2=$1 container=$2 wrapper=$3 script=$4
		[ "$v2" = /sys/fs/cgroup ] || mount --bind "$v2" /sys/fs/cgroup
		echo $$ >"/sys/fs/cgroup/$container/cgroup.procs"
		exec "$wrapper" sh -c "$script"`, "sh", v2, container, wrapper, script)
	cmd.Env = append(os.Environ(), "KCNA_CGROUPNS_CONTROLLERS="+controllers)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// cgroup2Mount is where this host mounts its cgroup v2 hierarchy, after
// skipping unless the test can use it.
func cgroup2Mount(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a cgroup and mount namespaces, as the pod's root does")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux), which the image has")
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(mi)) {
		_, after, ok := strings.Cut(line, " - ")
		f := strings.Fields(line)
		if ok && strings.HasPrefix(after, "cgroup2 ") && len(f) > 4 && strings.HasPrefix(f[4], "/sys/fs/cgroup") {
			return f[4]
		}
	}
	t.Skip("no cgroup v2 hierarchy under /sys/fs/cgroup")
	return ""
}

// testCgroup makes a cgroup under v2 for one subtest and removes it, and
// the leaf the wrapper makes in it, when the subtest ends.
func testCgroup(t *testing.T, v2 string) string {
	t.Helper()
	name := fmt.Sprintf("kcna-deploy-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	name = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\'' {
			return '_'
		}
		return r
	}, name)
	dir := filepath.Join(v2, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The wrapper's processes have exited; their cgroups are empty.
		for _, d := range []string{filepath.Join(dir, "kcna-lab-server"), dir} {
			if err := os.Remove(d); err != nil && !os.IsNotExist(err) {
				t.Errorf("remove %s: %v", d, err)
			}
		}
	})
	return name
}

// fields reads "key=value" lines.
func fields(out string) map[string]string {
	m := map[string]string{}
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m
}
