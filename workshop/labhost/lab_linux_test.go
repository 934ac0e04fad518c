package labhost

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// newClass makes a class directory as serve does: searchable parents,
// the programs in bin/.
func newClass(t *testing.T) (bin, students string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("a lab needs root: it maps a uid range and makes cgroups")
	}
	if err := testbuild.Available(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	for d := dir; d != "/tmp" && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	bin = filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	lab := testbuild.Lab(t, t.TempDir())
	init, _ := testbuild.Init(t, t.TempDir())
	copyFile(t, lab, filepath.Join(bin, "kcna-lab"))
	copyFile(t, init, filepath.Join(bin, "kcna-lab-init"))
	students = filepath.Join(dir, "students")
	if err := os.Mkdir(students, 0o711); err != nil {
		t.Fatal(err)
	}
	return bin, students
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

func startLab(t *testing.T, bin, students, name string, slot int) *Lab {
	t.Helper()
	l, err := Start(Config{Name: name, Slot: slot, Dir: filepath.Join(students, name), Bin: bin,
		Quota: Quota{MemoryBytes: 512 << 20, Pids: 512, CPUs: 1}})
	if err != nil {
		t.Fatalf("Start(%s): %v", name, err)
	}
	t.Cleanup(func() {
		if err := l.Stop(0); err != nil {
			t.Errorf("Stop(%s): %v", name, err)
		}
	})
	return l
}

// run runs a shell command in the lab and returns its output and status.
func run(t *testing.T, l *Lab, script string) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	p, err := l.Run(Job{Args: []string{"/bin/sh", "-c", script}, Env: []string{"PATH=/opt/kcna-lab/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}, Dir: "/root", Stdio: [3]*os.File{null, w, w}})
	w.Close()
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	var out bytes.Buffer
	done := make(chan struct{})
	go func() { _, _ = io.Copy(&out, r); close(done) }()
	st := p.Wait()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("the output of %q did not end", script)
	}
	r.Close()
	return out.String(), st
}

func nsID(t *testing.T, pid, ns string) string {
	t.Helper()
	s, err := os.Readlink(fmt.Sprintf("/proc/%s/ns/%s", pid, ns))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLabIsAHostOfItsOwn starts two students' labs and checks, from what
// the kernel reports, that each has its own namespaces and uid range, its
// own root, and that neither reaches the server's files or the other lab.
func TestLabIsAHostOfItsOwn(t *testing.T) {
	bin, students := newClass(t)
	alice := startLab(t, bin, students, "alice", 0)
	bob := startLab(t, bin, students, "bob", 1)

	for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup"} {
		self := nsID(t, "self", ns)
		a := nsID(t, fmt.Sprint(alice.InitPID()), ns)
		b := nsID(t, fmt.Sprint(bob.InitPID()), ns)
		if a == self || b == self || a == b {
			t.Errorf("%s namespace: server %s, alice %s, bob %s: each lab needs its own", ns, self, a, b)
		}
	}
	// A namespace made by unshare belongs to the thread that made it;
	// every thread of the lab's init must be in the lab's, or a process it
	// starts from another thread sees the server's cgroup tree.
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", alice.InitPID()))
	for _, task := range tasks {
		if ns, err := os.Readlink(task + "/ns/cgroup"); err == nil && ns != nsID(t, fmt.Sprint(alice.InitPID()), "cgroup") {
			t.Errorf("thread %s of alice's init is in cgroup namespace %s, not the lab's", filepath.Base(task), ns)
		}
	}
	if len(tasks) < 2 {
		t.Errorf("alice's init has %d threads; a Go program has more", len(tasks))
	}
	uidMap, err := os.ReadFile(fmt.Sprintf("/proc/%d/uid_map", alice.InitPID()))
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(uidMap)); len(f) != 3 || f[0] != "0" || f[1] != fmt.Sprint(HostID(0)) || f[2] != fmt.Sprint(IDsPerStudent) {
		t.Errorf("alice's uid_map = %q, want 0 %d %d", uidMap, HostID(0), IDsPerStudent)
	}

	out, st := run(t, alice, `id -u; hostname; echo init $(tr "\\0" " " < /proc/1/cmdline); ls /; cat /etc/shadow 2>&1 | head -1; echo hi > /root/note && cat /root/note`)
	if st != 0 {
		t.Fatalf("the shell in alice's lab exited %d:\n%s", st, out)
	}
	for _, want := range []string{"0\nalice\n", "init kcna-lab-labhost\n", "opt\n", "hi\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("alice's lab printed\n%s\nwant it to contain %q", out, want)
		}
	}
	if strings.Contains(out, "work\n") || strings.Contains(out, "home\n") {
		t.Errorf("alice's lab shows the server's top-level directories:\n%s", out)
	}
	if strings.Contains(out, "root:") {
		t.Errorf("alice's lab can read the server's /etc/shadow:\n%s", out)
	}
	note := filepath.Join(students, "alice", "home", "note")
	if b, err := os.ReadFile(note); err != nil || string(b) != "hi\n" {
		t.Errorf("alice's home on the server: %q, %v; want her note", b, err)
	}

	// Nowhere in bob's lab, through any mount, is alice's home.
	if _, st := run(t, alice, "echo secret > /root/kl-alice-only-8d1f"); st != 0 {
		t.Fatal("alice cannot write her home")
	}
	out, _ = run(t, bob, "find / -name 'kl-alice-only-*' 2>/dev/null; echo searched")
	if strings.Contains(out, "kl-alice-only") || !strings.Contains(out, "searched") {
		t.Errorf("bob's lab reaches alice's file:\n%s", out)
	}
	// The server's /usr, /etc and kcna-lab's programs are read-only for
	// good: root in the lab cannot remount them (the kernel locked the
	// flags one user namespace up).
	out, _ = run(t, alice, "for d in /usr /etc /opt/kcna-lab/bin; do mount -o remount,bind,rw $d 2>/dev/null && echo rw $d; done; grep -E ' /(usr|etc) ' /proc/self/mountinfo")
	if strings.Contains(out, "rw /") || !strings.Contains(out, " ro,") {
		t.Errorf("root in alice's lab remounted the server's directories read-write:\n%s", out)
	}
	// A job holds its stdio and nothing of the server's: no socket (the
	// server's control socket is the lab init's alone).
	out, _ = run(t, bob, "ls -l /proc/$$/fd")
	if strings.Contains(out, "socket:") {
		t.Errorf("a job in the lab holds a socket it was not given:\n%s", out)
	}
	// On cgroup v2 the lab's cgroup is its root, and the quota on it is
	// the server's: root in the lab cannot raise it.
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		// The write must fail (the shell then exits 1, as it should).
		out, _ := run(t, alice, "cat /sys/fs/cgroup/memory.max; echo max > /sys/fs/cgroup/memory.max && echo raised")
		if strings.Contains(out, "raised") || !strings.HasPrefix(out, fmt.Sprint(512<<20)) {
			t.Errorf("alice's lab and its memory.max:\n%s\nwant the quota %d, unchangeable", out, 512<<20)
		}
	}
}

// TestLabStopsLeavingNothing checks that a stopped lab leaves no process
// and no cgroup, and removes its journal.
func TestLabStopsLeavingNothing(t *testing.T) {
	bin, students := newClass(t)
	l, err := Start(Config{Name: "carol", Slot: 2, Dir: filepath.Join(students, "carol"), Bin: bin, Quota: Quota{MemoryBytes: 256 << 20, Pids: 256}})
	if err != nil {
		t.Fatal(err)
	}
	if _, st := run(t, l, "sleep 1000 >/dev/null 2>&1 & sleep 1000 >/dev/null 2>&1 & echo started"); st != 0 {
		t.Fatalf("status %d", st)
	}
	pid := l.InitPID()
	cgs := append([]string{}, l.cgroups.v1dirs...)
	if l.cgroups.v2dir != "" {
		cgs = append(cgs, l.cgroups.v2dir)
	}
	if len(cgs) == 0 {
		t.Fatal("the lab has no cgroups")
	}
	if err := l.Stop(time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("the lab's init %d still runs", pid)
	}
	for _, d := range cgs {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("cgroup %s is left behind", d)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(sandbox.JournalDir(), "lab-carol*")); len(m) > 0 {
		t.Errorf("journal left: %v", m)
	}
	if out, err := exec.Command("pgrep", "-f", "sleep 1000").Output(); err == nil && len(out) > 0 {
		t.Errorf("processes of the lab are left: %s", out)
	}
}

// TestLabCannotWriteTheClassDirectory: the class directory (the
// instructor's notice and pace) is read-only in a lab for good: root in
// the lab can neither remount it read-write nor write in it, and the
// server's file is unchanged.
func TestLabCannotWriteTheClassDirectory(t *testing.T) {
	bin, students := newClass(t)
	class := filepath.Join(filepath.Dir(students), "class")
	if err := os.Mkdir(class, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(class, "classroom.json")
	const orig = `{"notice":"Break until 11"}`
	if err := os.WriteFile(file, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Start(Config{Name: "alice", Slot: 0, Dir: filepath.Join(students, "alice"), Bin: bin, Class: class,
		Quota: Quota{MemoryBytes: 512 << 20, Pids: 512, CPUs: 1}})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := l.Stop(0); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	out, _ := run(t, l, `cat /opt/kcna-lab/class/classroom.json; echo
mount -o remount,bind,rw /opt/kcna-lab/class 2>/dev/null && echo remounted
echo x > /opt/kcna-lab/class/classroom.json 2>/dev/null && echo wrote
touch /opt/kcna-lab/class/new 2>/dev/null && echo made
grep ' /opt/kcna-lab/class ' /proc/self/mountinfo`)
	if !strings.Contains(out, orig) {
		t.Fatalf("the lab does not see the class file:\n%s", out)
	}
	for _, bad := range []string{"remounted", "wrote", "made"} {
		if strings.Contains(out, bad) {
			t.Errorf("root in the lab %s the class directory:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, " ro,") {
		t.Errorf("the class directory's mount is not read-only:\n%s", out)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != orig {
		t.Errorf("the server's class file: %q, %v; want it unchanged", b, err)
	}
	if fileExists(filepath.Join(class, "new")) {
		t.Error("the lab made a file in the server's class directory")
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
