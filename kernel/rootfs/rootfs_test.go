package rootfs

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// recorder is a Sink that keeps every event.
type recorder struct{ event.Recorder }

func (r *recorder) text(kind event.Kind) string {
	var b strings.Builder
	for _, e := range r.Of(kind) {
		b.WriteString(e.Text + e.Action + "\n")
	}
	return b.String()
}

func needBusybox(t *testing.T) string {
	t.Helper()
	bb, err := findStaticBusybox()
	if err != nil {
		t.Skipf("no static busybox (apt-get install busybox-static): %v", err)
	}
	return bb
}

// ids returns the uid/gid to build with: 100000, the start of a typical
// subordinate range, when root may chown; -1 (leave alone) otherwise.
func ids() (int, int) {
	if os.Geteuid() == 0 {
		return 100000, 100000
	}
	return -1, -1
}

func owner(t *testing.T, path string) (uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

func TestDefault(t *testing.T) {
	bb := needBusybox(t)
	cache := filepath.Join(t.TempDir(), "cache") // Default creates it
	uid, gid := ids()
	rec := &recorder{}
	dir, err := Default(cache, uid, gid, rec)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "rootfs-v2"); dir != want {
		t.Fatalf("Default = %s, want %s", dir, want)
	}
	if n := rec.text(event.KindNarration); !strings.Contains(n, "static busybox "+bb) {
		t.Errorf("narration does not name the source:\n%s", n)
	}
	for _, e := range rec.Events() {
		if e.Kind == event.KindStep && !e.OK() {
			t.Errorf("step %q failed: %s", e.Action, e.Err)
		}
	}

	// bin/busybox is a static ELF executable.
	f, err := elf.Open(filepath.Join(dir, "bin/busybox"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("bin/busybox has a PT_INTERP header: not static")
		}
	}
	f.Close()

	for _, applet := range []string{"sh", "ls", "cat", "ps", "mount", "hostname"} {
		p := filepath.Join(dir, "bin", applet)
		if target, err := os.Readlink(p); err != nil || target != "busybox" {
			t.Errorf("bin/%s: readlink = %q, %v; want busybox", applet, target, err)
		}
	}
	if real, err := filepath.EvalSymlinks(filepath.Join(dir, "sbin/sh")); err != nil || real != filepath.Join(dir, "bin/busybox") {
		t.Errorf("sbin/sh resolves to %q, %v", real, err)
	}
	if real, err := filepath.EvalSymlinks(filepath.Join(dir, "usr/bin/env")); err != nil || real != filepath.Join(dir, "bin/busybox") {
		t.Errorf("usr/bin/env resolves to %q, %v", real, err)
	}
	passwd, err := os.ReadFile(filepath.Join(dir, "etc/passwd"))
	if err != nil || !bytes.HasPrefix(passwd, []byte("root:x:0:0:root:/root:/bin/sh\n")) {
		t.Errorf("etc/passwd = %q, %v", passwd, err)
	}
	osRelease, _ := os.ReadFile(filepath.Join(dir, "etc/os-release"))
	if !bytes.Contains(osRelease, []byte(`NAME="kcna-lab busybox rootfs"`)) {
		t.Errorf("etc/os-release = %q", osRelease)
	}
	for name, want := range map[string]os.FileMode{
		".":           os.ModeDir | 0o755,
		"tmp":         os.ModeDir | os.ModeSticky | 0o777,
		"proc":        os.ModeDir | 0o755,
		"etc/hosts":   0o644,
		"bin/busybox": 0o755,
	} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if fi.Mode() != want {
			t.Errorf("%s mode = %v, want %v", name, fi.Mode(), want)
		}
	}
	if uid != -1 {
		for _, p := range []string{".", "bin/busybox", "bin/sh", "etc/passwd", "tmp"} {
			if u, g := owner(t, filepath.Join(dir, p)); int(u) != uid || int(g) != gid {
				t.Errorf("%s owned by %d:%d, want %d:%d", p, u, g, uid, gid)
			}
		}
	}
	if left, _ := filepath.Glob(filepath.Join(cache, ".rootfs-v2-*")); len(left) > 0 {
		t.Errorf("build directories left behind: %v", left)
	}

	// A second call reuses the tree.
	before, err := os.Stat(filepath.Join(dir, "bin/busybox"))
	if err != nil {
		t.Fatal(err)
	}
	rec2 := &recorder{}
	dir2, err := Default(cache, uid, gid, rec2)
	if err != nil || dir2 != dir {
		t.Fatalf("second Default = %q, %v; want %q", dir2, err, dir)
	}
	after, err := os.Stat(filepath.Join(dir, "bin/busybox"))
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) || !os.SameFile(before, after) {
		t.Error("second Default rebuilt the rootfs")
	}
	if !strings.Contains(rec2.text(event.KindNarration), "Reusing") {
		t.Errorf("second call narration: %q", rec2.text(event.KindNarration))
	}

	if os.Geteuid() != 0 {
		return
	}
	// Run the shell in it: the tree really is a root filesystem.
	cmd := exec.Command("/bin/sh", "-c", "cat /etc/hostname; ls /; echo $((6*7))")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("chroot %s /bin/sh: %v\n%s", dir, err, out)
	}
	if fields := strings.Fields(string(out)); len(fields) < 3 || fields[0] != "kcna-lab" || fields[len(fields)-1] != "42" || !slices.Contains(fields, "etc") {
		t.Errorf("chroot shell output = %q", out)
	}
}

func TestDefaultRechownsForOtherIDs(t *testing.T) {
	needBusybox(t)
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	cache := t.TempDir()
	dir, err := Default(cache, 100000, 100000, event.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Default(cache, 200000, 200001, event.Discard); err != nil {
		t.Fatal(err)
	}
	if u, g := owner(t, filepath.Join(dir, "bin/sh")); u != 200000 || g != 200001 {
		t.Errorf("bin/sh owned by %d:%d after a build for 200000:200001", u, g)
	}
}

func TestDefaultConcurrent(t *testing.T) {
	needBusybox(t)
	cache := t.TempDir()
	const n = 4
	var wg sync.WaitGroup
	dirs := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], errs[i] = Default(cache, -1, -1, event.Discard)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || dirs[i] != filepath.Join(cache, "rootfs-v2") {
			t.Errorf("build %d: %q, %v", i, dirs[i], errs[i])
		}
	}
	ents, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("cache holds %d entries, want only rootfs-v2", len(ents))
	}
	if _, err := os.Lstat(filepath.Join(cache, "rootfs-v2/bin/sh")); err != nil {
		t.Error(err)
	}
	if _, err := os.Lstat(filepath.Join(cache, "rootfs-v2/rootfs-v2")); err == nil {
		t.Error("a build was renamed into the finished rootfs")
	}
}

func TestDefaultRemovesOnlyStaleBuilds(t *testing.T) {
	needBusybox(t)
	cache := t.TempDir()
	fresh := filepath.Join(cache, ".rootfs-v2-fresh.tmp")
	stale := filepath.Join(cache, ".rootfs-v2-stale.tmp")
	for _, d := range []string{fresh, stale} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old := before(staleAfter * 2)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := Default(cache, -1, -1, event.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("stale build directory kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a build directory that may be in progress was removed")
	}
}

func TestBusyboxApplets(t *testing.T) {
	// A sorted NUL-separated table like busybox's, plus "ps" elsewhere in
	// the binary: only table members count.
	data := []byte("\x7fELF junk\x00ps\x00more junk\x00\x00[\x00[[\x00ash\x00basename\x00cat\x00echo\x00" +
		"ls\x00mount\x00sh\x00sleep\x00true\x00zcat\x00\x00tail")
	got := busyboxApplets(data)
	want := []string{"[", "[[", "ash", "basename", "cat", "echo", "ls", "mount", "sh", "sleep", "true", "zcat"}
	if !slices.Equal(got, want) {
		t.Errorf("busyboxApplets = %v, want %v", got, want)
	}
	// No table: fall back to "\0name\0" anywhere.
	got = busyboxApplets([]byte("x\x00sh\x00y\x00ls\x00"))
	if !slices.Equal(got, []string{"ls", "sh"}) {
		t.Errorf("fallback busyboxApplets = %v", got)
	}

	bb, err := findStaticBusybox()
	if err != nil {
		return
	}
	real, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	got = busyboxApplets(real)
	for _, a := range []string{"sh", "ls", "cat", "mount", "hostname", "ps"} {
		if !slices.Contains(got, a) {
			t.Errorf("%s: applet %s not found in %v", bb, a, got)
		}
	}
}

func TestPrepare(t *testing.T) {
	t.Run("directory", func(t *testing.T) {
		d := t.TempDir()
		got, err := Prepare(d, t.TempDir(), "", -1, -1, event.Discard)
		if err != nil || got != d {
			t.Errorf("Prepare(dir) = %q, %v", got, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := Prepare(filepath.Join(t.TempDir(), "nope"), t.TempDir(), "", -1, -1, event.Discard)
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("not an archive", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "image.zip")
		os.WriteFile(p, []byte("x"), 0o644)
		_, err := Prepare(p, t.TempDir(), t.TempDir(), -1, -1, event.Discard)
		if err == nil || !strings.Contains(err.Error(), "not a directory or a .tar, .tar.gz or .tgz archive") {
			t.Errorf("error = %v", err)
		}
	})
	archive := makeTar(t, tdir("bin/", 0o755), tfile("bin/hello", "hi\n", 0o755), tsymlink("bin/sh", "hello"))
	for name, data := range map[string][]byte{
		"image.tar":    archive,
		"image.tar.gz": gzipped(t, archive),
		"image.tgz":    gzipped(t, archive),
		"plain.tgz":    archive, // gzip is detected by content, not name
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			dst := t.TempDir()
			uid, gid := ids()
			rec := &recorder{}
			got, err := Prepare(p, t.TempDir(), dst, uid, gid, rec)
			if err != nil || got != dst {
				t.Fatalf("Prepare = %q, %v; want %q", got, err, dst)
			}
			if b, err := os.ReadFile(filepath.Join(dst, "bin/hello")); err != nil || string(b) != "hi\n" {
				t.Errorf("bin/hello = %q, %v", b, err)
			}
			if uid != -1 {
				if u, _ := owner(t, filepath.Join(dst, "bin/sh")); int(u) != uid {
					t.Errorf("bin/sh owned by %d, want %d", u, uid)
				}
			}
			if !strings.Contains(rec.text(event.KindStep), "extract(") {
				t.Errorf("no extract step in %q", rec.text(event.KindStep))
			}
		})
	}
	t.Run("non-empty destination", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "image.tar")
		os.WriteFile(p, archive, 0o644)
		dst := t.TempDir()
		os.WriteFile(filepath.Join(dst, "x"), nil, 0o644)
		_, err := Prepare(p, t.TempDir(), dst, -1, -1, event.Discard)
		if err == nil || !strings.Contains(err.Error(), "is not empty") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("unsafe archive", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "evil.tar")
		os.WriteFile(p, makeTar(t, tfile("../evil", "x", 0o644)), 0o644)
		_, err := Prepare(p, t.TempDir(), t.TempDir(), -1, -1, event.Discard)
		if err == nil || !strings.Contains(err.Error(), `tar entry "../evil": path escapes the root`) {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("default", func(t *testing.T) {
		needBusybox(t)
		cache := t.TempDir()
		got, err := Prepare("", cache, "", -1, -1, event.Discard)
		if err != nil || got != filepath.Join(cache, "rootfs-v2") {
			t.Errorf("Prepare(\"\") = %q, %v", got, err)
		}
	})
}

func before(d time.Duration) time.Time { return time.Now().Add(-d) }
