//go:build linux

package sandbox_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/sandbox"
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
	eachInit(t, func(t *testing.T) string { return sharedDir(t, "kcna-test-rootless-", 0o755) }, func(t *testing.T, kind, lab string) {
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
		if err != nil && strings.Contains(string(out), "needs a filesystem with user extended attributes") {
			// tmpfs before Linux 6.6, everywhere (the test VMs): the
			// refusal must come before anything is made.
			if left, _ := filepath.Glob(filepath.Join(home, "run", "kcna-lab", "sandboxes", "*")); len(left) > 0 {
				t.Errorf("nobody's sandbox state left: %v", left)
			}
			t.Skipf("no filesystem here takes user.* xattrs, which a rootless writable layer needs; kcna-lab said so:\n%s", out)
		}
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

// TestRootlessDelegated runs kcna-lab as the calling user, not root, in a
// cgroup v2 subtree delegated to it as systemd's user@UID.service is
// (Delegate=yes): with each init, memory, pids and cpu limits work without
// root (an OOM kill is exit 137, the limits are in the group's files), the
// group lies under the delegated subtree and is gone after stop. make
// test-vm runs it as such a user; as root, or undelegated, it skips.
func TestRootlessDelegated(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs as a non-root user whose cgroup v2 subtree is delegated (make test-vm's rootless section); root needs no delegation")
	}
	top := delegatedCgroup(t)
	if err := testbuild.Available(); err != nil {
		t.Skip(err)
	}
	eachInit(t, func(t *testing.T) string { return t.TempDir() }, func(t *testing.T, kind, lab string) {
		home := t.TempDir()
		env := []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "XDG_RUNTIME_DIR=" + filepath.Join(home, "run"), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
		labRun := func(args ...string) (string, int) {
			cmd := exec.Command(lab, args...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("kcna-lab %v: %v", args, err)
			}
			return string(out), cmd.ProcessState.ExitCode()
		}

		// tail keeps the last lines of a stream that has none: it
		// grows until the OOM killer ends it (quickly, even in a VM).
		out, code := labRun("run", "--trace", "--memory", "32M", "--", "tail", "/dev/zero")
		if code != 137 {
			t.Errorf("over its 32M memory limit: exit %d, want 137 (OOM-killed)\n%s", code, out)
		}
		// The init is cloned into its group in the delegated subtree
		// (CLONE_INTO_CGROUP needs the same write permission a move
		// does), not moved in by a cgroup.procs write.
		if !regexp.MustCompile(`(?m)^  clone3\(\S*CLONE_INTO_CGROUP, cgroup=` + regexp.QuoteMeta(top) + `/kcna-lab/kcna-\S+\).* ok `).MatchString(out) {
			t.Errorf("no successful clone3(...CLONE_INTO_CGROUP) into %s/kcna-lab in the trace:\n%s", top, out)
		}
		if m := regexp.MustCompile(`(?m)^  write \S+/cgroup\.procs = .*$`).FindString(out); m != "" {
			t.Errorf("the init was moved into its cgroup: %s", m)
		}
		name := fmt.Sprintf("rl%d-%s", os.Getpid()%100000, kind)
		if out, code := labRun("run", "--detach", "--name", name, "--memory", "48M", "--pids", "25", "--cpus", "0.25", "--", "sleep", "600"); code != 0 {
			t.Fatalf("run --detach: exit %d\n%s", code, out)
		}
		group := filepath.Join(top, "kcna-lab", "kcna-"+name)
		for file, want := range map[string]string{"memory.max": "50331648", "pids.max": "25", "cpu.max": "25000 100000"} {
			b, err := os.ReadFile(filepath.Join(group, file))
			if got := strings.TrimSpace(string(b)); err != nil || got != want {
				t.Errorf("%s in the delegated subtree: %q, %v; want %q", file, got, err, want)
			}
		}
		if out, code := labRun("stop", name); code != 0 {
			t.Errorf("stop: exit %d\n%s", code, out)
		}
		if _, err := os.Stat(group); !os.IsNotExist(err) {
			t.Errorf("%s left after stop (%v)", group, err)
		}
		if left, _ := filepath.Glob(filepath.Join(home, "run", "kcna-lab", "sandboxes", "*")); len(left) > 0 {
			t.Errorf("sandbox state left: %v", left)
		}
	})
}

// delegatedCgroup is the topmost ancestor of this process's cgroup v2
// group that this user owns, as systemd's Delegate= arranges, with
// memory, pids and cpu in its cgroup.subtree_control; the test skips
// when there is none.
func delegatedCgroup(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/cgroup")
	self, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "0::")
	if err != nil || !ok {
		t.Skipf("not on a pure cgroup v2 host (/proc/self/cgroup: %q, %v)", b, err)
	}
	top := ""
	for p := filepath.Join("/sys/fs/cgroup", self); p != "/sys/fs/cgroup"; p = filepath.Dir(p) {
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil || int(st.Uid) != os.Geteuid() {
			break
		}
		top = p
	}
	var sc []byte
	if top != "" {
		sc, _ = os.ReadFile(filepath.Join(top, "cgroup.subtree_control"))
	}
	for _, c := range []string{"memory", "pids", "cpu"} {
		if !slices.Contains(strings.Fields(string(sc)), c) {
			t.Skipf("no cgroup v2 subtree with memory, pids and cpu is delegated to uid %d (own cgroup %s)", os.Geteuid(), self)
		}
	}
	return top
}

// eachInit runs fn once for each init this machine builds (the Go init,
// and the native one where a C compiler links statically), with kcna-lab
// and that init side by side in a directory from dir.
func eachInit(t *testing.T, dir func(*testing.T) string, fn func(t *testing.T, kind, lab string)) {
	kinds := []string{"go"}
	if testbuild.Native() == nil {
		kinds = append(kinds, "native")
	}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			if kind == "go" {
				t.Setenv(testbuild.NativeEnv, "0")
			}
			d := dir(t)
			lab := testbuild.Lab(t, d)
			testbuild.Init(t, d)
			fn(t, kind, lab)
		})
	}
}

// TestRootlessNetwork puts two sandboxes on the bridge without root, with
// each init: as nobody when the test runs as root, else as the calling
// user (make test-vm's rootless section). The kernel must show what the
// rootless network is: the bridge and a veth per sandbox in the network
// holder's namespace (its /proc/PID/net/dev), each sandbox's user
// namespace a child of the holder's (NS_GET_PARENT), a name resolving
// across the bridge, a published port answering on the host's loopback;
// and after stop, no holder, socket, journal or sandbox state.
func TestRootlessNetwork(t *testing.T) {
	asUser, home := rootlessUser(t)
	if err := testbuild.Available(); err != nil {
		t.Skip(err)
	}
	leaveNoTrace(t)
	progs := func(t *testing.T) string { return t.TempDir() }
	if os.Geteuid() == 0 {
		// nobody must reach the programs: not through root's temp dir.
		progs = func(t *testing.T) string { return sharedDir(t, "kcna-test-rlnet-", 0o755) }
	}
	eachInit(t, progs, func(t *testing.T, kind, lab string) {
		h := home(t)
		state := filepath.Join(h, "run", "kcna-lab")
		labRun := func(args ...string) (string, error) {
			cmd := exec.Command(lab, args...)
			cmd.Env = []string{"HOME=" + h, "XDG_CACHE_HOME=" + filepath.Join(h, "cache"), "XDG_RUNTIME_DIR=" + filepath.Join(h, "run"), "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
			asUser(cmd)
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		port := freeTCPPort(t)
		web := "rlweb-" + kind
		if out, err := labRun("run", "--detach", "--name", web, "--net", "bridge", "--publish", fmt.Sprintf("%d:80", port), "--",
			"sh", "-c", "mkdir /tmp/www && hostname > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www"); err != nil {
			t.Fatalf("run --detach --net bridge: %v\n%s", err, out)
		}
		stopped := false
		t.Cleanup(func() {
			if !stopped {
				_, _ = labRun("stop", web)
			}
		})
		holder := holderPID(t, state)
		st := readSandboxState(t, state, web)
		if got, want := nsParent(t, st.InitPID), nsInode(t, holder, "user"); got != want {
			t.Errorf("sandbox's user namespace's parent is %d, want the holder's %d", got, want)
		}
		dev, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/dev", holder))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(dev), "kl-br0:") || !strings.Contains(string(dev), "kl-rlweb") {
			t.Errorf("the holder's /proc/%d/net/dev lacks kl-br0 or the sandbox's veth:\n%s", holder, dev)
		}
		if host, _ := os.ReadFile("/proc/self/net/dev"); strings.Contains(string(host), "kl-rlweb") {
			t.Errorf("the sandbox's veth is in the host's network namespace:\n%s", host)
		}
		out, err := labRun("run", "--net", "bridge", "--", "sh", "-c", "wget -qO- http://"+web+".kcna.local/ && nslookup "+web+".kcna.local 127.0.0.11")
		if err != nil || !strings.Contains(out, web+"\n") || !strings.Contains(out, st.Net.IP.String()) {
			t.Errorf("from a second sandbox, %s.kcna.local should answer with its hostname at %s: %v\n%s", web, st.Net.IP, err, out)
		}
		body := httpGetBody(t, fmt.Sprintf("127.0.0.1:%d", port))
		if !strings.Contains(body, web) {
			t.Errorf("published port 127.0.0.1:%d answered %q, want %s's hostname", port, body, web)
		}
		if out, err := labRun("stop", web); err != nil {
			t.Errorf("stop: %v\n%s", err, out)
		}
		stopped = true
		waitGone(t, holder)
		for _, p := range []string{filepath.Join(state, "network", "holder.sock"), filepath.Join(state, "network", "kl-br0.json")} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s left after the last sandbox stopped (%v)", p, err)
			}
		}
		// stop returns once the sandbox's processes are gone; its
		// background kcna-lab then rolls its journal back.
		var left []string
		for range 200 {
			left = nil
			for _, g := range []string{"journals/*", "sandboxes/*"} {
				m, _ := filepath.Glob(filepath.Join(state, g))
				left = append(left, m...)
			}
			if len(left) == 0 {
				break
			}
			time.Sleep(25 * time.Millisecond)
		}
		if len(left) > 0 {
			t.Errorf("left in the state dir 5s after stop: %v", left)
		}
	})
}

// rootlessUser says how to run kcna-lab without root: as nobody in a home
// of its own when the test is root, else as the caller.
func rootlessUser(t *testing.T) (func(*exec.Cmd), func(*testing.T) string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return func(*exec.Cmd) {}, func(t *testing.T) string { return t.TempDir() }
	}
	probe := exec.Command("unshare", "--user", "true")
	probe.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("this host does not let nobody create a user namespace (%v: %s); kcna-lab doctor says which setting", err, out)
	}
	as := func(cmd *exec.Cmd) {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	home := func(t *testing.T) string {
		h := sharedDir(t, "kcna-test-nobody-", 0o755)
		if err := os.Chown(h, nobody, nobody); err != nil {
			t.Fatal(err)
		}
		return h
	}
	return as, home
}

// holderPID finds the network holder serving the state dir: the process
// whose initial environment names it.
func holderPID(t *testing.T, state string) int {
	t.Helper()
	want := "KCNA_LAB_NET_HOLDER=" + state
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err == nil && slices.Contains(strings.Split(string(env), "\x00"), want) {
			return pid
		}
	}
	t.Fatalf("no network holder for %s is running", state)
	return 0
}

func readSandboxState(t *testing.T, state, name string) sandbox.State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(state, "sandboxes", name, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st sandbox.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Net == nil {
		t.Fatalf("sandbox %s's state has no network: %s", name, b)
	}
	return st
}

// nsParent is the inode of the parent of pid's user namespace, as the
// kernel's NS_GET_PARENT ioctl reports it.
func nsParent(t *testing.T, pid int) uint64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_PARENT)
	if err != nil {
		t.Fatalf("NS_GET_PARENT on %s: %v", f.Name(), err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func nsInode(t *testing.T, pid int, ns string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/%s", pid, ns), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func httpGetBody(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to the published port %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	b, _ := io.ReadAll(c)
	return string(b)
}

// waitGone waits for a process to end (the holder leaves with its last
// client).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 200 {
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			return
		}
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); strings.Contains(string(b), ") Z ") {
			return // ended; its parent has not reaped it yet
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Errorf("the network holder (PID %d) still runs after its last sandbox stopped", pid)
}
