//go:build linux

package overlay

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/kernel/mountinfo"
)

// TestChangesAndOrigin works through the merged view as a learner would
// and checks every claim against the layer directories on disk.
func TestChangesAndOrigin(t *testing.T) {
	needOverlay(t)
	base := t.TempDir()
	l0 := tree(t, filepath.Join(base, "l0"), map[string]string{
		"etc/motd": "motd from layer 0",
		"app/main": "v1",
	})
	l1 := tree(t, filepath.Join(base, "l1"), map[string]string{
		"etc/motd":       "motd from layer 1",
		"etc/os-release": "ID=kcna\n",
		"data/a.txt":     "a",
		"data/b.txt":     "b",
		"gone.txt":       "bye",
		"link":           "->etc",
		"abs":            "->/etc",
	})
	var rec recorder
	f, err := Mount(Spec{Lower: []string{l0, l1}, Dir: filepath.Join(base, "kcna-ovl")}, nil, &rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Remove(nil) })

	wantShell := fmt.Sprintf("mount -t overlay overlay -o lowerdir=%s:%s,upperdir=%s,workdir=%s", l0, l1, f.Upper, f.Work)
	for _, o := range plainDiff() {
		wantShell += "," + o
	}
	wantShell += " " + f.Merged
	if !rec.has(wantShell) {
		t.Errorf("no successful step %q in:\n%s", wantShell, rec.steps())
	}
	m := mustMount(t, f.Merged)
	if m.FSType != "overlay" || !strings.Contains(m.SuperOptions, "upperdir="+f.Upper) {
		t.Errorf("mountinfo shows %+v, want an overlay with upperdir=%s", m, f.Upper)
	}

	// What a learner does inside the container.
	merged := func(p string) string { return filepath.Join(f.Merged, p) }
	must(t, os.WriteFile(merged("new.txt"), []byte("new"), 0o644))
	must(t, appendFile(merged("etc/os-release"), "VERSION=2\n"))
	must(t, os.Chmod(merged("app/main"), 0o700))
	must(t, os.Remove(merged("gone.txt")))
	must(t, os.RemoveAll(merged("data")))
	must(t, os.Mkdir(merged("data"), 0o755))
	must(t, os.WriteFile(merged("data/c.txt"), []byte("c"), 0o644))

	want := []Change{
		{"/app", CopiedUp, 0},
		{"/app/main", CopiedUp, 0},
		{"/data", Opaque, 1},
		{"/data/c.txt", Added, -1},
		{"/etc", CopiedUp, 0},
		{"/etc/os-release", CopiedUp, 1},
		{"/gone.txt", Whiteout, 1},
		{"/new.txt", Added, -1},
	}
	got, err := f.Changes()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Changes:\n got %v\nwant %v", got, want)
	}

	// A new file lands in the upper layer only.
	exists(t, filepath.Join(f.Upper, "new.txt"), true)
	exists(t, filepath.Join(l0, "new.txt"), false)
	exists(t, filepath.Join(l1, "new.txt"), false)

	// A modified file is copied up; the lower layer keeps the original.
	content(t, filepath.Join(f.Upper, "etc/os-release"), "ID=kcna\nVERSION=2\n")
	content(t, filepath.Join(l1, "etc/os-release"), "ID=kcna\n")
	exists(t, filepath.Join(f.Upper, "etc/motd"), false) // only read, never copied up

	// A chmod copies up too; the lower file keeps its mode.
	mode(t, filepath.Join(f.Upper, "app/main"), 0o700)
	mode(t, filepath.Join(l0, "app/main"), 0o644)

	// A deleted lower file becomes a whiteout: a character device 0/0.
	var st unix.Stat_t
	must(t, unix.Lstat(filepath.Join(f.Upper, "gone.txt"), &st))
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 0 || unix.Minor(st.Rdev) != 0 {
		t.Errorf("upper/gone.txt: mode %#o rdev %d:%d, want a character device 0:0", st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	exists(t, filepath.Join(l1, "gone.txt"), true)
	exists(t, merged("gone.txt"), false)

	// A lower directory removed and made again is opaque: nothing below shows.
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(filepath.Join(f.Upper, "data"), "trusted.overlay.opaque", buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Errorf("upper/data: trusted.overlay.opaque = %q, %v; want \"y\"", buf[:n], err)
	}
	exists(t, filepath.Join(l1, "data/a.txt"), true)
	exists(t, merged("data/a.txt"), false)

	for _, c := range []struct {
		path string
		want int // Upper, a lower index, or -2 for not found
	}{
		{"/", Upper},
		{"/new.txt", Upper},
		{"/etc/os-release", Upper},
		{"/etc/motd", 0}, // layer 0 shadows layer 1
		{"/etc/../etc/motd", 0},
		{"/app/main", Upper},
		{"/data", Upper},
		{"/data/c.txt", Upper},
		{"/data/a.txt", -2}, // hidden by the opaque directory
		{"/gone.txt", -2},   // hidden by the whiteout
		{"/nope", -2},
		{"/link", 1},               // the symlink itself
		{"/link/motd", 0},          // through a relative symlink
		{"/abs/os-release", Upper}, // through an absolute one, from the merged root
	} {
		o, err := f.Origin(c.path)
		switch {
		case c.want == -2 && !errors.Is(err, fs.ErrNotExist):
			t.Errorf("Origin(%s) = %v, %v; want not found", c.path, o, err)
		case c.want != -2 && (err != nil || o.Layer != c.want):
			t.Errorf("Origin(%s) = %v, %v; want layer %d", c.path, o, err, c.want)
		}
	}
	if _, err := f.Origin("/gone.txt/x"); err == nil {
		t.Error("Origin(/gone.txt/x) found something below a deleted file")
	}

	// Origin agrees with the kernel about every file in the merged view.
	must(t, filepath.WalkDir(f.Merged, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := "/" + strings.TrimPrefix(strings.TrimPrefix(p, f.Merged), "/")
		o, err := f.Origin(rel)
		if err != nil {
			t.Errorf("%s is in the merged view but Origin says %v", rel, err)
			return nil
		}
		if d.Type().IsRegular() {
			content(t, o.Path, read(t, p))
		}
		return nil
	}))

	// Unmount leaves the layers to inspect; Remove deletes them.
	must(t, f.Unmount(nil))
	if mounts, _ := mountsUnder(base); len(mounts) > 0 {
		t.Errorf("after Unmount, still mounted: %+v", mounts)
	}
	if again, err := f.Changes(); err != nil || !slices.Equal(again, want) {
		t.Errorf("Changes after Unmount = %v, %v; want %v", again, err, want)
	}
	must(t, f.Unmount(nil)) // not mounted: nothing to do
	must(t, f.Remove(nil))
	exists(t, f.Dir, false)
	exists(t, filepath.Join(l1, "gone.txt"), true)
}

// TestJournalRollback: Mount journals its dir and mount before making
// them, and a rollback leaves nothing mounted and nothing on disk.
func TestJournalRollback(t *testing.T) {
	needOverlay(t)
	base := t.TempDir()
	lower := tree(t, filepath.Join(base, "lower"), map[string]string{"hello": "hi"})
	j, err := journal.Create(filepath.Join(base, "journals"), "test")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Mount(Spec{Lower: []string{lower}, Dir: filepath.Join(base, "kcna-ovl")}, j, nil)
	if err != nil {
		_ = j.Rollback(testUndo)
		t.Fatal(err)
	}
	var got []string
	for _, e := range j.Entries() {
		got = append(got, fmt.Sprintf("%s %s", e.Kind, e.Path))
	}
	want := []string{"dir " + f.Dir, "mount " + f.Merged}
	if !slices.Equal(got, want) {
		t.Errorf("journal entries %q, want %q", got, want)
	}
	mustMount(t, f.Merged)
	content(t, filepath.Join(f.Merged, "hello"), "hi")

	if err := j.Rollback(testUndo); err != nil {
		t.Fatal(err)
	}
	if mounts, _ := mountsUnder(base); len(mounts) > 0 {
		t.Errorf("after rollback, still mounted: %+v", mounts)
	}
	exists(t, f.Dir, false)
	exists(t, j.Path(), false)
	content(t, filepath.Join(lower, "hello"), "hi")
}

// TestMountFailureLeavesNothing: when the kernel refuses the mount, Mount
// removes the directories it made, and the journal's rollback still runs.
func TestMountFailureLeavesNothing(t *testing.T) {
	needOverlay(t)
	base := t.TempDir()
	j, err := journal.Create(filepath.Join(base, "journals"), "fail")
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	// overlayfs does not take procfs as a layer.
	f, err := Mount(Spec{Lower: []string{"/proc/self"}, Dir: filepath.Join(base, "kcna-ovl")}, j, &rec)
	if err == nil {
		_ = f.Remove(nil)
		_ = j.Rollback(testUndo)
		t.Skip("this kernel accepts procfs as a lower layer; no refusal to test")
	}
	if !strings.Contains(err.Error(), "mount overlay on "+filepath.Join(base, "kcna-ovl", "merged")) {
		t.Errorf("error %q does not say what failed", err)
	}
	exists(t, filepath.Join(base, "kcna-ovl"), false)
	if n := len(j.Entries()); n != 2 {
		t.Errorf("journal has %d entries, want 2 (dir and mount, recorded before each was tried)", n)
	}
	must(t, j.Rollback(testUndo))
	if mounts, _ := mountsUnder(base); len(mounts) > 0 {
		t.Errorf("still mounted: %+v", mounts)
	}
}

// TestRefusesReservedCharacters: ',' and ':' mean something in overlayfs
// options, so such paths are refused before anything is made.
func TestRefusesReservedCharacters(t *testing.T) {
	base := t.TempDir()
	good := filepath.Join(base, "good")
	must(t, os.Mkdir(good, 0o755))
	for _, c := range []struct {
		name  string
		lower []string
		dir   string
		char  string
	}{
		{"comma in lower", []string{filepath.Join(base, "a,b")}, filepath.Join(base, "ovl1"), ","},
		{"colon in lower", []string{good, filepath.Join(base, "a:b")}, filepath.Join(base, "ovl2"), ":"},
		{"colon in dir", []string{good}, filepath.Join(base, "ovl:3"), ":"},
		{"comma in dir", []string{good}, filepath.Join(base, "ovl,4"), ","},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, l := range c.lower {
				must(t, os.MkdirAll(l, 0o755)) // exists: the refusal is about the name
			}
			j, err := journal.Create(t.TempDir(), "refuse")
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			var rec recorder
			_, err = Mount(Spec{Lower: c.lower, Dir: c.dir}, j, &rec)
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("contains %q", c.char)) {
				t.Fatalf("Mount = %v; want a refusal naming %q", err, c.char)
			}
			exists(t, c.dir, false)
			if e := j.Entries(); len(e) > 0 || len(rec.Events()) > 0 {
				t.Errorf("refused, yet journaled %v and emitted %v", e, rec.Events())
			}
		})
	}
}

// TestRefusesExistingDir: Mount never adopts (and so never rolls back)
// a directory it did not make.
func TestRefusesExistingDir(t *testing.T) {
	base := t.TempDir()
	lower := tree(t, filepath.Join(base, "lower"), map[string]string{"x": "x"})
	dir := tree(t, filepath.Join(base, "taken"), map[string]string{"keep": "mine"})
	if _, err := Mount(Spec{Lower: []string{lower}, Dir: dir}, nil, nil); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Mount on an existing dir = %v; want a refusal", err)
	}
	content(t, filepath.Join(dir, "keep"), "mine")
	if _, err := Mount(Spec{Lower: []string{filepath.Join(lower, "x")}, Dir: filepath.Join(base, "o")}, nil, nil); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Mount with a file as a layer = %v; want a refusal", err)
	}
	if _, err := Mount(Spec{Lower: []string{base}, Dir: filepath.Join(base, "o")}, nil, nil); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("Mount with Dir inside a layer = %v; want a refusal", err)
	}
}

// TestOwnerForUserNamespace: with UID/GID set, the merged root belongs to
// that host user, which can then write to it (as a user namespace's root
// mapped to it would), and its files land in upper owned by it.
func TestOwnerForUserNamespace(t *testing.T) {
	needOverlay(t)
	const id = 100000
	base := t.TempDir()
	// The test's temp dirs are 0700; the mapped user must pass through.
	must(t, os.Chmod(filepath.Dir(base), 0o711))
	must(t, os.Chmod(base, 0o711))
	lower := tree(t, filepath.Join(base, "lower"), map[string]string{"etc/motd": "hi"})
	f, err := Mount(Spec{Lower: []string{lower}, Dir: filepath.Join(base, "kcna-ovl"), UID: id, GID: id}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Remove(nil) })
	for _, p := range []string{f.Upper, f.Work, f.Merged} {
		owner(t, p, id)
	}
	cmd := exec.Command("/bin/sh", "-c", "echo mine > "+filepath.Join(f.Merged, "mine"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id, Gid: id}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("uid %d writing to the merged root: %v: %s", id, err, out)
	}
	owner(t, filepath.Join(f.Upper, "mine"), id)
	must(t, f.Remove(nil))
	if mounts, _ := mountsUnder(base); len(mounts) > 0 {
		t.Errorf("still mounted: %+v", mounts)
	}
}

// TestManyLayers: layers whose lowerdir string outgrows a page go to the
// kernel one at a time, and keep their order.
func TestManyLayers(t *testing.T) {
	needOverlay(t)
	base := t.TempDir()
	var lower []string
	for i := range 40 {
		name := fmt.Sprintf("layer-%03d-%s", i, strings.Repeat("x", 90))
		lower = append(lower, tree(t, filepath.Join(base, name), map[string]string{
			"who":                   fmt.Sprint(i),
			fmt.Sprintf("f%03d", i): "only here",
		}))
	}
	if n := len(strings.Join(lower, ":")); n < os.Getpagesize() {
		t.Fatalf("lowerdir string is %d bytes; the test needs more than a page", n)
	}
	if !kernelAtLeast(6, 8) {
		t.Skip("overlayfs takes lower layers one by one (lowerdir+) from Linux 6.8")
	}
	var rec recorder
	f, err := Mount(Spec{Lower: lower, Dir: filepath.Join(base, "kcna-ovl")}, nil, &rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Remove(nil) })
	if !strings.Contains(rec.steps(), "fsopen(") {
		t.Errorf("expected the fsconfig path, got:\n%s", rec.steps())
	}
	mustMount(t, f.Merged)
	content(t, filepath.Join(f.Merged, "who"), "0")
	for _, i := range []int{0, 17, 39} {
		if o, err := f.Origin(fmt.Sprintf("/f%03d", i)); err != nil || o.Layer != i {
			t.Errorf("Origin(/f%03d) = %v, %v; want lower %d", i, o, err, i)
		}
	}
	must(t, appendFile(filepath.Join(f.Merged, "f039"), "!"))
	if got, err := f.Changes(); err != nil || !slices.Equal(got, []Change{{"/f039", CopiedUp, 39}}) {
		t.Errorf("Changes = %v, %v", got, err)
	}
	must(t, f.Remove(nil))
	if mounts, _ := mountsUnder(base); len(mounts) > 0 {
		t.Errorf("still mounted: %+v", mounts)
	}
}

// needOverlay skips unless this process can mount overlayfs: it needs
// root in the initial user namespace on hosts like this one, and an upper
// layer on a filesystem overlayfs accepts (not overlayfs itself).
func needOverlay(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("overlay tests mount for real and need root: sudo go test ./kernel/overlay/")
	}
	probeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kcna-ovl-probe-")
		if err != nil {
			probeErr = err
			return
		}
		defer os.RemoveAll(dir)
		for _, d := range []string{"l", "u", "w", "m"} {
			if probeErr = os.Mkdir(filepath.Join(dir, d), 0o755); probeErr != nil {
				return
			}
		}
		m := filepath.Join(dir, "m")
		probeErr = unix.Mount("overlay", m, "overlay", 0, fmt.Sprintf("lowerdir=%s/l,upperdir=%s/u,workdir=%s/w", dir, dir, dir))
		if probeErr == nil {
			probeErr = unix.Unmount(m, 0)
		}
	})
	if probeErr != nil {
		t.Skipf("overlayfs cannot be mounted in %s on this host: %v", os.TempDir(), probeErr)
	}
}

func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	var ma, mi int
	if _, err := fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

var (
	probeOnce sync.Once
	probeErr  error
)

// testUndo undoes Mount's journal entries the way the sandbox package's
// undo (clean_linux.go) does, which this package cannot import.
func testUndo(e journal.Entry) error {
	switch e.Kind {
	case journal.Mount:
		if err := unix.Unmount(e.Path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return err
		}
		return nil
	case journal.Dir:
		mounts, err := mountsUnder(e.Path)
		if err != nil {
			return err
		}
		if len(mounts) > 0 {
			return fmt.Errorf("refusing to remove %s: %s is still mounted there", e.Path, mounts[0].Point)
		}
		return os.RemoveAll(e.Path)
	}
	return fmt.Errorf("unexpected journal entry %s", e)
}

// tree makes dir with files: a value "->target" is a symlink.
func tree(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	must(t, os.MkdirAll(dir, 0o755))
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, n)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		if target, ok := strings.CutPrefix(files[n], "->"); ok {
			must(t, os.Symlink(target, p))
			continue
		}
		must(t, os.WriteFile(p, []byte(files[n]), 0o644))
	}
	return dir
}

func mustMount(t *testing.T, p string) mountinfo.Mount {
	t.Helper()
	mounts, err := mountsUnder(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		if m.Point == p {
			return m
		}
	}
	t.Fatalf("%s is not in /proc/self/mountinfo", p)
	return mountinfo.Mount{}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, p string, want bool) {
	t.Helper()
	_, err := os.Lstat(p)
	if got := err == nil; got != want {
		t.Errorf("%s exists = %v (%v), want %v", p, got, err, want)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func content(t *testing.T, p, want string) {
	t.Helper()
	if got := read(t, p); got != want {
		t.Errorf("%s holds %q, want %q", p, got, want)
	}
}

func mode(t *testing.T, p string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s has mode %#o, want %#o", p, fi.Mode().Perm(), want)
	}
}

func owner(t *testing.T, p string, id int) {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Stat(p, &st))
	if int(st.Uid) != id || int(st.Gid) != id {
		t.Errorf("%s is owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, id, id)
	}
}

func appendFile(p, s string) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// recorder is a Sink that keeps every event.
type recorder struct{ event.Recorder }

// has reports a successful step with exactly this shell equivalent.
func (r *recorder) has(shell string) bool {
	for _, e := range r.Of(event.KindStep) {
		if e.Shell == shell && e.OK() {
			return true
		}
	}
	return false
}

func (r *recorder) steps() string {
	var b strings.Builder
	for _, e := range r.Events() {
		fmt.Fprintf(&b, "%s | %s | %s\n", e.Action, e.Shell, e.Err)
	}
	return b.String()
}
