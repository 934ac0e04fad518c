package rootfs

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// entry is one tar member for tests; Body sets the size of regular files.
type entry struct {
	hdr  tar.Header
	body string
}

func tfile(name, body string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body))}, body: body}
}
func tdir(name string, mode int64) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}
func tsymlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}
func thardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

func makeTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.ModTime = time.Unix(1700000000, 0)
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("writing header %q: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("writing body %q: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// target makes parent/target and returns both, restoring write permission
// before cleanup so a read-only directory from an archive cannot make the
// removal fail when tests run unprivileged.
func target(t testing.TB) (parent, dir string) {
	t.Helper()
	parent = t.TempDir()
	dir = filepath.Join(parent, "target")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.WalkDir(parent, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return parent, dir
}

// onlyTarget fails unless parent holds exactly the real directory "target":
// nothing was created next to it by following a symlink or "..".
func onlyTarget(t testing.TB, parent string) {
	t.Helper()
	ents, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "target" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("parent of the target holds %v, want only [target]: something escaped", names)
	}
	fi, err := os.Lstat(filepath.Join(parent, "target"))
	if err != nil || !fi.IsDir() {
		t.Fatalf("target is no longer a plain directory: %v, %v", fi, err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func normalArchive(t testing.TB) []byte {
	return makeTar(t,
		tdir("./", 0o755),
		tdir("a/", 0o750),
		tfile("a/b.txt", "hello\n", 0o644),
		tfile("a/run.sh", "#!/bin/sh\n", 0o755),
		tsymlink("a/link", "b.txt"),
		tsymlink("abs", "/etc/passwd"), // kept verbatim, never followed
		thardlink("a/hard", "a/b.txt"),
		tfile("x/y/z.txt", "implicit parents\n", 0o600),
		tdir("ro/", 0o555),
		tfile("ro/inside", "created before ro/ becomes read-only\n", 0o444),
		tfile("a/b.txt.dup", "1", 0o644),
		tfile("a/b.txt.dup", "second wins", 0o644), // repeated name replaces
	)
}

func checkNormal(t *testing.T, dir string) {
	t.Helper()
	if got := readFile(t, filepath.Join(dir, "a/b.txt")); got != "hello\n" {
		t.Errorf("a/b.txt = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "x/y/z.txt")); got != "implicit parents\n" {
		t.Errorf("x/y/z.txt = %q", got)
	}
	if got := readFile(t, filepath.Join(dir, "a/b.txt.dup")); got != "second wins" {
		t.Errorf("a/b.txt.dup = %q", got)
	}
	for name, want := range map[string]string{"a/link": "b.txt", "abs": "/etc/passwd"} {
		got, err := os.Readlink(filepath.Join(dir, name))
		if err != nil || got != want {
			t.Errorf("readlink %s = %q, %v; want %q", name, got, err, want)
		}
	}
	for name, want := range map[string]fs.FileMode{
		"a":         fs.ModeDir | 0o750,
		"a/b.txt":   0o644,
		"a/run.sh":  0o755,
		"x/y/z.txt": 0o600,
		"ro":        fs.ModeDir | 0o555,
		"ro/inside": 0o444,
	} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s mode = %v, want %v", name, fi.Mode(), want)
		}
	}
	a, errA := os.Stat(filepath.Join(dir, "a/b.txt"))
	b, errB := os.Stat(filepath.Join(dir, "a/hard"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Errorf("a/hard is not a hardlink of a/b.txt (%v, %v)", errA, errB)
	}
	if fi, err := os.Stat(filepath.Join(dir, "a/b.txt")); err == nil && !fi.ModTime().Equal(time.Unix(1700000000, 0)) {
		t.Errorf("a/b.txt mtime = %v, want the header's", fi.ModTime())
	}
}

func TestExtract(t *testing.T) {
	parent, dir := target(t)
	if err := Extract(bytes.NewReader(normalArchive(t)), dir); err != nil {
		t.Fatal(err)
	}
	checkNormal(t, dir)
	onlyTarget(t, parent)
}

func TestExtractGzip(t *testing.T) {
	parent, dir := target(t)
	if err := Extract(bytes.NewReader(gzipped(t, normalArchive(t))), dir); err != nil {
		t.Fatal(err)
	}
	checkNormal(t, dir)
	onlyTarget(t, parent)
}

func TestExtractStripsSetID(t *testing.T) {
	_, dir := target(t)
	data := makeTar(t,
		tfile("suid", "x", 0o4755),
		tfile("sgid", "x", 0o2711),
		tdir("shared/", 0o2775),
		tdir("sticky/", 0o1777),
	)
	if err := Extract(bytes.NewReader(data), dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]fs.FileMode{
		"suid":   0o755,
		"sgid":   0o711,
		"shared": fs.ModeDir | 0o775,
		"sticky": fs.ModeDir | fs.ModeSticky | 0o777,
	} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s mode = %v, want %v", name, fi.Mode(), want)
		}
	}
}

func TestExtractRefuses(t *testing.T) {
	// A name no test or system file would have, to detect writes in /etc.
	unique := fmt.Sprintf("kcna-lab-extract-test-%d", time.Now().UnixNano())
	t.Cleanup(func() { os.Remove(filepath.Join("/etc", unique)) })

	cases := []struct {
		name    string
		entries func(parent string) []entry
		want    string // substring of the error
	}{
		{"absolute", func(string) []entry { return []entry{tfile("/abs", "x", 0o644)} }, `tar entry "/abs": path is absolute; refusing to extract`},
		{"dotdot", func(string) []entry { return []entry{tfile("../x", "x", 0o644)} }, `tar entry "../x": path escapes the root (contains ..); refusing to extract`},
		{"nested dotdot", func(string) []entry { return []entry{tfile("a/../../x", "x", 0o644)} }, `tar entry "a/../../x": path escapes the root (contains ..)`},
		{"harmless dotdot", func(string) []entry { return []entry{tdir("a/", 0o755), tfile("a/../b", "x", 0o644)} }, `contains ..`},
		{"symlink to /etc", func(string) []entry {
			return []entry{tsymlink("evil", "/etc"), tfile("evil/"+unique, "owned", 0o644)}
		}, `parent "evil" is a symlink`},
		{"symlink to parent", func(parent string) []entry {
			return []entry{tsymlink("evil", parent), tfile("evil/escaped", "owned", 0o644)}
		}, `parent "evil" is a symlink`},
		{"relative symlink out", func(string) []entry {
			return []entry{tsymlink("evil", ".."), tfile("evil/escaped", "owned", 0o644)}
		}, `parent "evil" is a symlink`},
		{"symlink deeper", func(string) []entry {
			return []entry{tdir("a/", 0o755), tsymlink("a/evil", "/etc"), tfile("a/evil/sub/"+unique, "owned", 0o644)}
		}, `parent "a/evil" is a symlink`},
		{"symlink inside", func(string) []entry {
			// Even a symlink that stays inside is not written through.
			return []entry{tdir("real/", 0o755), tsymlink("alias", "real"), tfile("alias/f", "x", 0o644)}
		}, `parent "alias" is a symlink`},
		{"hardlink dotdot", func(string) []entry { return []entry{thardlink("h", "../../x")} }, `hardlink target "../../x": path escapes the root (contains ..)`},
		{"hardlink absolute", func(string) []entry { return []entry{thardlink("h", "/etc/passwd")} }, `hardlink target "/etc/passwd": path is absolute`},
		{"hardlink through symlink", func(string) []entry {
			return []entry{tsymlink("l", "/etc"), thardlink("h", "l/passwd")}
		}, `goes through symlink "l"`},
		{"hardlink to symlink", func(string) []entry {
			return []entry{tsymlink("l", "/etc/passwd"), thardlink("h", "l")}
		}, `goes through symlink "l"`},
		{"hardlink missing", func(string) []entry { return []entry{thardlink("h", "nope")} }, `does not exist`},
		{"file over dir", func(string) []entry { return []entry{tdir("d/", 0o755), tfile("d", "x", 0o644)} }, `a directory with this name already exists`},
		{"unsupported type", func(string) []entry {
			return []entry{{hdr: tar.Header{Typeflag: 'V', Name: "volume"}}}
		}, `unsupported entry type "V"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent, dir := target(t)
			err := Extract(bytes.NewReader(makeTar(t, c.entries(parent)...)), dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Extract error = %v, want it to contain %q", err, c.want)
			}
			onlyTarget(t, parent)
			if _, err := os.Lstat(filepath.Join("/etc", unique)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("/etc/%s exists: extraction escaped through a symlink", unique)
			}
		})
	}
}

func TestExtractSymlinkInTargetAlready(t *testing.T) {
	// A symlink already present in dir (not from the archive) is not
	// written through either.
	parent, dir := target(t)
	if err := os.Symlink(parent, filepath.Join(dir, "pre")); err != nil {
		t.Fatal(err)
	}
	err := Extract(bytes.NewReader(makeTar(t, tfile("pre/escaped", "x", 0o644))), dir)
	if err == nil || !strings.Contains(err.Error(), "is a symlink") {
		t.Fatalf("Extract error = %v, want a symlink refusal", err)
	}
	if _, err := os.Lstat(filepath.Join(parent, "escaped")); err == nil {
		t.Fatal("file written through a pre-existing symlink")
	}
}

func TestExtractReplacesSymlinkWithoutFollowing(t *testing.T) {
	// "link -> outside" then a regular file "link": the link is replaced,
	// not written through.
	parent, dir := target(t)
	outside := filepath.Join(parent, "victim")
	data := makeTar(t, tsymlink("link", outside), tfile("link", "new", 0o644))
	if err := Extract(bytes.NewReader(data), dir); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "link")); got != "new" {
		t.Errorf("link = %q", got)
	}
	onlyTarget(t, parent)
}

func TestExtractSkipsDevices(t *testing.T) {
	_, dir := target(t)
	data := makeTar(t,
		entry{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Devmajor: 1, Devminor: 3, Mode: 0o666}},
		entry{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "fifo", Mode: 0o644}},
		tfile("ok", "x", 0o644),
	)
	var mu sync.Mutex
	var narration []string
	sink := event.SinkFunc(func(e event.Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Kind == event.KindNarration {
			narration = append(narration, e.Text)
		}
	})
	if err := ExtractWithEvents(bytes.NewReader(data), dir, sink); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dev/null", "fifo"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s was created", name)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "ok")); err != nil {
		t.Error(err)
	}
	if len(narration) != 1 || !strings.Contains(narration[0], "dev/null") || !strings.Contains(narration[0], "fifo") {
		t.Errorf("narration = %q, want one sentence naming dev/null and fifo", narration)
	}
}

func TestExtractLimits(t *testing.T) {
	t.Run("entries", func(t *testing.T) {
		_, dir := target(t)
		data := makeTar(t, tfile("1", "", 0o644), tfile("2", "", 0o644), tfile("3", "", 0o644))
		err := extract(bytes.NewReader(data), dir, event.Discard, limits{entries: 2, bytes: 1 << 20})
		if err == nil || !strings.Contains(err.Error(), `tar entry "3": archive has more than 2 entries`) {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		// Only a header claiming 3 GiB: the limit is checked before any
		// data is read or written.
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "huge", Size: 3 << 30, Mode: 0o644}); err != nil {
			t.Fatal(err)
		}
		_, dir := target(t)
		err := Extract(&buf, dir)
		if err == nil || !strings.Contains(err.Error(), `tar entry "huge": archive holds more than 2 GiB of file data`) {
			t.Fatalf("error = %v", err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "huge")); err == nil {
			t.Error("huge was created")
		}
	})
}

func TestExtractCorrupt(t *testing.T) {
	_, dir := target(t)
	data := normalArchive(t)
	if err := Extract(bytes.NewReader(data[:700]), dir); err == nil {
		t.Fatal("truncated archive extracted without error")
	}
	if err := Extract(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), dir); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Fatalf("bad gzip: error = %v", err)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add(normalArchive(f))
	f.Add(gzipped(f, normalArchive(f)))
	f.Add(makeTar(f, tsymlink("evil", "/etc"), tfile("evil/passwd", "x", 0o644)))
	f.Add(makeTar(f, tsymlink("evil", ".."), tfile("evil/x", "x", 0o644), thardlink("h", "evil/x")))
	f.Add(makeTar(f, tfile("../x", "x", 0o644), tdir("a/", 0o755), tsymlink("a/b", "../.."), tfile("a/b/c", "x", 0o644)))
	f.Add(makeTar(f, tsymlink("s", "."), tfile("s/s/s/f", "x", 0o644), thardlink("s/h", "f")))
	f.Add([]byte("not a tar"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parent, dir := target(t)
		// Small limits keep a fuzzed sparse header from writing gigabytes;
		// the property checked does not depend on them.
		_ = extract(bytes.NewReader(data), dir, event.Discard, limits{entries: 1000, bytes: 1 << 20})
		onlyTarget(t, parent)
	})
}
