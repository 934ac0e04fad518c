package parse

import (
	"bytes"
	"encoding/gob"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kcna-lab/kcna-lab/lessons"
)

func TestLoadCachedParsesOnceThenReadsTheCache(t *testing.T) {
	dir := t.TempDir()
	fsys := fstest.MapFS{"03-chroot.md": {Data: []byte(good)}}
	want, probs := Load(fsys, reg)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	got, probs := LoadCached(fsys, reg, dir, "build 1")
	if len(probs) > 0 || !sameCourse(got, want) {
		t.Fatalf("first LoadCached = %+v, %v; want what Load gives", got, probs)
	}
	caches, _ := filepath.Glob(filepath.Join(dir, "course-*.gob"))
	if len(caches) != 1 {
		t.Fatalf("caches written: %v", caches)
	}
	// Change the cached course behind its back: only a read of the cache
	// can give this title.
	marked := *want.Lessons[0]
	marked.Title = "FROM THE CACHE"
	writeGob(t, caches[0], &lessons.Course{Lessons: []*lessons.Lesson{&marked}})
	if c, _ := LoadCached(fsys, reg, dir, "build 1"); c.Lessons[0].Title != "FROM THE CACHE" {
		t.Fatalf("second LoadCached parsed again (title %q)", c.Lessons[0].Title)
	}

	// Another program (a new build) parses for itself.
	if c, _ := LoadCached(fsys, reg, dir, "build 2"); c.Lessons[0].Title != "chroot" {
		t.Fatalf("another build read the cache (title %q)", c.Lessons[0].Title)
	}
	caches, _ = filepath.Glob(filepath.Join(dir, "course-*.gob"))
	if len(caches) != 1 {
		t.Fatalf("caches after a new build: %v", caches)
	}

	// Other files: another key, parsed, the old cache removed.
	fsys["03-chroot.md"] = &fstest.MapFile{Data: []byte(strings.Replace(good, "title: chroot", "title: chroot again", 1))}
	c, _ := LoadCached(fsys, reg, dir, "build 2")
	now, _ := filepath.Glob(filepath.Join(dir, "course-*.gob"))
	if c.Lessons[0].Title != "chroot again" || len(now) != 1 || now[0] == caches[0] {
		t.Fatalf("after a change: title %q, caches %v (was %v)", c.Lessons[0].Title, now, caches)
	}

	// A cache that does not decode: parsed, and written again.
	if err := os.WriteFile(now[0], []byte("not gob"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, probs := LoadCached(fsys, reg, dir, "build 2"); len(probs) > 0 || c.Lessons[0].Title != "chroot again" {
		t.Fatalf("corrupt cache: %+v %v", c, probs)
	}
	if _, ok := readCache(now[0]); !ok {
		t.Fatal("the corrupt cache was not rewritten")
	}
}

func TestLoadCachedChecksTheRegistryAndSkipsBadCourses(t *testing.T) {
	dir := t.TempDir()
	fsys := fstest.MapFS{"03-chroot.md": {Data: []byte(good)}}
	if _, probs := LoadCached(fsys, reg, dir, "build 1"); len(probs) > 0 {
		t.Fatal(probs)
	}
	// A build whose registry lacks the lesson's demo must see the problem,
	// with its place, as Load reports it.
	_, probs := LoadCached(fsys, fakeRegistry{checks: []string{"build-jail"}}, dir, "build 1")
	if p, ok := find(probs, `demo "chroot-jail" is not registered`); !ok || p.Line != 9 {
		t.Fatalf("problems from a cached course: %v", probs)
	}
	// A course with problems is never cached.
	bad := t.TempDir()
	if _, probs := LoadCached(fstest.MapFS{"03-chroot.md": {Data: []byte("no front matter")}}, reg, bad, "build 1"); len(probs) == 0 {
		t.Fatal("no problem for a broken lesson")
	}
	if caches, _ := filepath.Glob(filepath.Join(bad, "course-*.gob")); len(caches) != 0 {
		t.Fatalf("a broken course was cached: %v", caches)
	}
}

// sameCourse compares what a cache keeps: every exported field.
func sameCourse(a, b *lessons.Course) bool {
	if len(a.Lessons) != len(b.Lessons) || !reflect.DeepEqual(a.Glossary, b.Glossary) {
		return false
	}
	for i := range a.Lessons {
		if !reflect.DeepEqual(*a.Lessons[i], *b.Lessons[i]) {
			return false
		}
	}
	return true
}

func writeGob(t *testing.T, path string, c *lessons.Course) {
	t.Helper()
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(c); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
