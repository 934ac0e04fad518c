package rootfs

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/kcna-lab/kcna-lab/event"
)

func dynamicLs(t *testing.T) string {
	t.Helper()
	const ls = "/bin/ls"
	static, err := IsStatic(ls)
	if err != nil {
		t.Skipf("cannot read %s: %v", ls, err)
	}
	if static {
		t.Skipf("%s is statically linked on this host", ls)
	}
	return ls
}

func TestDeps(t *testing.T) {
	ls := dynamicLs(t)
	deps, err := Deps(ls)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Deps(%s) = %v", ls, deps)
	f, err := elf.Open(ls)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	interp, err := interpreter(f)
	if err != nil || interp == "" {
		t.Fatalf("no interpreter: %v", err)
	}
	if len(deps) == 0 || deps[0] != interp {
		t.Errorf("first dependency should be the loader %s", interp)
	}
	bases := make([]string, len(deps))
	for i, d := range deps {
		bases[i] = filepath.Base(d)
		if !filepath.IsAbs(d) {
			t.Errorf("dependency %q is not an absolute path", d)
		}
	}
	if !slices.Contains(bases, "libc.so.6") {
		t.Errorf("libc.so.6 missing from %v", deps)
	}
	if runtime.GOARCH == "amd64" && !slices.Contains(deps, "/lib64/ld-linux-x86-64.so.2") {
		t.Errorf("/lib64/ld-linux-x86-64.so.2 missing from %v", deps)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(deps)))) != len(deps) {
		t.Errorf("duplicates in %v", deps)
	}
}

func TestDepsStaticAndNonELF(t *testing.T) {
	if bb, err := findStaticBusybox(); err == nil {
		deps, err := Deps(bb)
		if err != nil || len(deps) != 0 {
			t.Errorf("Deps(static %s) = %v, %v; want none", bb, deps, err)
		}
	}
	script := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Deps(script); err == nil {
		t.Error("Deps of a shell script: want an error")
	}
	if _, err := IsStatic(script); err == nil {
		t.Error("IsStatic of a shell script: want an error")
	}
}

func TestReadLdSoConf(t *testing.T) {
	d := t.TempDir()
	if err := os.Mkdir(filepath.Join(d, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ld.so.conf", "# comment\n/opt/a/lib\ninclude conf.d/*.conf\n/opt/b/lib:/opt/c/lib # trailing\nhwcap 0 nosegneg\n")
	write("conf.d/1.conf", "/usr/local/lib\ninclude "+filepath.Join(d, "ld.so.conf")+"\n") // a loop
	write("conf.d/2.conf", "/opt/d/lib=libc5\nrelative/ignored\n")
	got := readLdSoConf(filepath.Join(d, "ld.so.conf"), 0)
	// The include loop repeats entries until the depth limit; what matters
	// is that it terminates and finds every directory in order.
	want := []string{"/opt/a/lib", "/usr/local/lib", "/opt/a/lib"}
	if len(got) < len(want) || !slices.Equal(got[:3], want) {
		t.Errorf("readLdSoConf = %v, want it to start with %v", got, want)
	}
	for _, w := range []string{"/opt/b/lib", "/opt/c/lib", "/opt/d/lib"} {
		if !slices.Contains(got, w) {
			t.Errorf("%s missing from %v", w, got)
		}
	}
	if slices.Contains(got, "relative/ignored") || slices.Contains(got, "hwcap") {
		t.Errorf("junk in %v", got)
	}
}

func TestSearchPath(t *testing.T) {
	got := searchPath([]string{"$ORIGIN/../lib:/opt/x", "${ORIGIN}", "$LIB/skip:"}, "/nonexistent/bin/prog")
	want := []string{"/nonexistent/lib", "/opt/x", "/nonexistent/bin"}
	if !slices.Equal(got, want) {
		t.Errorf("searchPath = %v, want %v", got, want)
	}
}

// TestBuildFromHost builds the fallback rootfs (host programs plus the
// libraries Deps finds) and, as root, runs ls and sh chrooted into it: if a
// library were missing the loader would fail.
func TestBuildFromHost(t *testing.T) {
	dynamicLs(t)
	dir := t.TempDir()
	if err := skeleton(dir, "kcna-lab host-binaries rootfs", event.Discard); err != nil {
		t.Fatal(err)
	}
	if err := buildFromHost(dir, event.Discard); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bin/ls", "bin/sh"} {
		if fi, err := os.Lstat(filepath.Join(dir, p)); err != nil || !fi.Mode().IsRegular() {
			t.Fatalf("%s: %v, %v", p, fi, err)
		}
	}
	deps, err := Deps("/bin/ls")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deps {
		if _, err := os.Stat(filepath.Join(dir, d)); err != nil {
			t.Errorf("dependency %s not in the rootfs: %v", d, err)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root; the tree was built and checked")
	}
	cmd := exec.Command("/bin/ls", "/")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s /bin/ls /: %v\n%s", dir, err, out)
	}
	for _, want := range []string{"bin", "etc", "proc", "tmp"} {
		if !slices.Contains(strings.Fields(string(out)), want) {
			t.Errorf("ls / in the chroot = %q, missing %s", out, want)
		}
	}
	cmd = exec.Command("/bin/sh", "-c", "cat /etc/hostname; id -un")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin"}
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot sh: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, []string{"kcna-lab", "root"}) {
		t.Errorf("chroot sh output = %q, want kcna-lab and root", out)
	}
}
