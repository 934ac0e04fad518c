package roster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// TestRosterReloadsBoundedUnderAWriteLoop: a student who opens and
// closes their progress file and renames activity into place in a loop
// costs the server at most ~2 reloads a second (before: one per
// IN_CLOSE_WRITE 30 ms apart, ~33 a second, overlapping), and a file over
// the bounds is not parsed (shows as no progress).
func TestRosterReloadsBoundedUnderAWriteLoop(t *testing.T) {
	c := testCourse(t)
	dir := t.TempDir()
	r := New(c, Options{})
	r.Add("mallory", dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Watch(ctx) }()
	time.Sleep(50 * time.Millisecond)

	p := lessons.NewProgress()
	p.MarkRead(c.Lessons[0], time.Now())
	store := &lessons.Store{Path: filepath.Join(dir, "progress.json"), UID: -1, GID: -1}
	if err := store.Save(p); err != nil {
		t.Fatal(err)
	}
	// Padded past MaxProgressFile: valid JSON, refused for its size.
	b, err := os.ReadFile(store.Path)
	if err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, ".big")
	if err := os.WriteFile(big, append(b, []byte(strings.Repeat(" ", MaxProgressFile))...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(big, store.Path); err != nil {
		t.Fatal(err)
	}
	before := r.reloads.Load()
	const loop = 1500 * time.Millisecond
	a := lessons.Activity{Screen: "reader", Since: time.Now()}
	for end := time.Now().Add(loop); time.Now().Before(end); {
		f, err := os.OpenFile(store.Path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := lessons.WriteJSON(filepath.Join(dir, lessons.ActivityFile), a, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(minReloadGap + 100*time.Millisecond) // the last one comes
	n := r.reloads.Load() - before
	if want := int64(loop/minReloadGap) + 2; n > want || n == 0 {
		t.Errorf("%d reloads in %v of writes, want 1..%d", n, loop, want)
	}
	if s, _ := r.Student("mallory"); s.LessonsRead != 0 || s.Screen != "reader" {
		t.Errorf("row %+v: want the oversized progress ignored (0 read) and the activity read", s)
	}
}

// TestRosterWatchRefusesASymlinkedDirectory: a student whose .local is a
// link to another student's directory is not watched there.
func TestRosterWatchRefusesASymlinkedDirectory(t *testing.T) {
	c := testCourse(t)
	home, other := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(other, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, filepath.Join(home, ".local")); err != nil {
		t.Fatal(err)
	}
	r := New(c, Options{})
	r.AddIn("mallory", home, ".local/state")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Watch(ctx) }()
	time.Sleep(50 * time.Millisecond)
	before := r.reloads.Load()
	if err := lessons.WriteJSON(filepath.Join(other, "state", lessons.ActivityFile), lessons.Activity{Screen: "map"}, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := r.reloads.Load() - before; n != 0 {
		t.Errorf("%d reloads of mallory for a write in the directory her symlink points to, want 0", n)
	}
}

// TestRosterOverflowReloadsEveryone: when the kernel's inotify queue
// overflowed (IN_Q_OVERFLOW, wd -1), events were lost, so every student
// is reloaded (before, the event matched no watch and was dropped).
func TestRosterOverflowReloadsEveryone(t *testing.T) {
	r := New(testCourse(t), Options{})
	w, err := newWatcher(r)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	for _, n := range []string{"ann", "ben"} {
		dir := t.TempDir()
		w.add(n, target{root: dir, dir: dir})
	}
	ev := unix.InotifyEvent{Wd: -1, Mask: unix.IN_Q_OVERFLOW}
	buf := unsafe.Slice((*byte)(unsafe.Pointer(&ev)), unix.SizeofInotifyEvent)
	if got := w.students(buf); len(got) != 2 || !got["ann"] || !got["ben"] {
		t.Errorf("after an overflow: reload %v, want ann and ben", got)
	}
}
