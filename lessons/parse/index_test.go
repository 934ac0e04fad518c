package parse

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// The index LoadCached leaves beside its cache gives the slim front all
// that `lessons` counts, and is found only for the same files and program.
func TestLoadIndexAfterLoadCached(t *testing.T) {
	dir := t.TempDir()
	fsys := fstest.MapFS{"03-chroot.md": {Data: []byte(good)},
		lessons.GlossaryFile: {Data: []byte("- term: chroot\n  lesson: chroot\n  means: Changes a process's root directory.\n")}}
	if _, ok := lessons.LoadIndex(fsys, dir, "build 1"); ok {
		t.Fatal("an index before any course was parsed")
	}
	full, probs := LoadCached(fsys, reg, dir, "build 1")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	idx, ok := lessons.LoadIndex(fsys, dir, "build 1")
	if !ok || len(idx.Lessons) != len(full.Lessons) {
		t.Fatalf("LoadIndex after LoadCached: %v, %+v", ok, idx)
	}
	for i, l := range full.Lessons {
		x := idx.Lessons[i]
		if x.ID != l.ID || x.Title != l.Title || x.Order != l.Order || x.Domain != l.Domain ||
			len(x.Quiz) != len(l.Quiz) || len(x.Challenges) != len(l.Challenges) {
			t.Errorf("index lesson %d = %+v, course has %s %q %d %s, %d questions, %d challenges",
				i, x, l.ID, l.Title, l.Order, l.Domain, len(l.Quiz), len(l.Challenges))
		}
		for j, q := range l.Quiz {
			if x.Quiz[j].ID != q.ID {
				t.Errorf("question %d of %s: index %q, course %q", j, l.ID, x.Quiz[j].ID, q.ID)
			}
		}
		for j, ch := range l.Challenges {
			if got := x.Challenges[j]; got.ID != ch.ID || got.Title != ch.Title {
				t.Errorf("challenge %d of %s: index %q %q, course %q %q", j, l.ID, got.ID, got.Title, ch.ID, ch.Title)
			}
		}
	}
	if !reflect.DeepEqual(idx.Glossary, full.Glossary) || len(idx.Glossary) == 0 {
		t.Errorf("the index's glossary has %d terms, the course's %d, and they differ", len(idx.Glossary), len(full.Glossary))
	}
	// Progress counts the same over the index as over the course, for a
	// lesson read with its quiz all right (an empty progress is 0 on both).
	p := &lessons.Progress{Lessons: map[string]*lessons.LessonProgress{}}
	now := time.Now()
	for _, l := range full.Lessons {
		p.MarkRead(l, now)
		for i := range l.Quiz {
			p.RecordAnswer(&l.Quiz[i], l.Quiz[i].Answers, now)
		}
	}
	if c := p.Completion(idx); c == 0 || c != p.Completion(full) {
		t.Errorf("completion: index %v, course %v", c, p.Completion(full))
	}
	for i, l := range full.Lessons {
		if got, want := p.Status(idx.Lessons[i]), p.Status(l); got != want {
			t.Errorf("lesson %s: status %q over the index, %q over the course", l.ID, got, want)
		}
	}

	// Another program, or other files: no index (the front hands over).
	if _, ok := lessons.LoadIndex(fsys, dir, "build 2"); ok {
		t.Error("another build's index was read")
	}
	changed := fstest.MapFS{"03-chroot.md": {Data: []byte(strings.Replace(good, "title: chroot", "title: chroot again", 1))}}
	if _, ok := lessons.LoadIndex(changed, dir, "build 1"); ok {
		t.Error("a changed course's stale index was read")
	}
	// Its rebuild replaces the old index.
	if _, probs := LoadCached(changed, reg, dir, "build 1"); len(probs) > 0 {
		t.Fatal(probs)
	}
	idx, ok = lessons.LoadIndex(changed, dir, "build 1")
	files, _ := filepath.Glob(filepath.Join(dir, "course-*.index.json"))
	if !ok || idx.Lessons[0].Title != "chroot again" || len(files) != 1 {
		t.Fatalf("after a change: %v %+v, indexes %v", ok, idx, files)
	}
	// A corrupt index is no index.
	if err := os.WriteFile(files[0], []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := lessons.LoadIndex(changed, dir, "build 1"); ok {
		t.Error("a corrupt index was read")
	}
}

// A corrupt index is written again by the next LoadCached.
func TestLoadCachedRewritesACorruptIndex(t *testing.T) {
	dir := t.TempDir()
	fsys := fstest.MapFS{"03-chroot.md": {Data: []byte(good)}}
	LoadCached(fsys, reg, dir, "build 1")
	files, _ := filepath.Glob(filepath.Join(dir, "course-*.index.json"))
	if len(files) != 1 {
		t.Fatalf("indexes: %v", files)
	}
	if err := os.WriteFile(files[0], []byte(`{"format":"old"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	LoadCached(fsys, reg, dir, "build 1")
	if _, ok := lessons.LoadIndex(fsys, dir, "build 1"); !ok {
		t.Error("the corrupt index was not written again")
	}
}
