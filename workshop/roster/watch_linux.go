package roster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// Watch follows every student's progress directory with inotify until
// ctx ends, reloading a student when their course writes progress or
// activity (both are renamed into place: IN_MOVED_TO). A directory the
// student's course has not made yet is waited for from its nearest
// existing parent. Every StuckAfter/10 the rows are looked at again,
// since time alone makes a student stuck.
func (r *Roster) Watch(ctx context.Context) error {
	w, err := newWatcher(r)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.watch = w
	dirs := map[string]string{}
	for n, st := range r.students {
		dirs[n] = st.dir
	}
	r.mu.Unlock()
	for n, d := range dirs {
		w.add(n, d)
	}
	go func() {
		<-ctx.Done()
		w.close()
	}()
	go r.tick(ctx)
	w.run()
	return nil
}

func (r *Roster) tick(ctx context.Context) {
	t := time.NewTicker(max(r.opts.StuckAfter/10, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.notify()
		}
	}
}

// watcher is one inotify instance for the class.
type watcher struct {
	r    *Roster
	fd   int
	file *os.File // fd, read through Go's poller so that close wakes run

	mu sync.Mutex
	// wds maps a watch to the student it is for and whether it is their
	// progress directory itself or a parent waited on.
	wds    map[int32]watch
	target map[string]string // student -> progress dir
}

type watch struct {
	name   string
	target bool
}

func newWatcher(r *Roster) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch the students' progress (inotify): %w", err)
	}
	return &watcher{r: r, fd: fd, file: os.NewFile(uintptr(fd), "inotify"), wds: map[int32]watch{}, target: map[string]string{}}, nil
}

const (
	dirEvents    = unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_ONLYDIR
	parentEvents = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_ONLYDIR
)

// add watches a student's progress directory, or its nearest existing
// parent until it exists.
func (w *watcher) add(name, dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.target[name] = dir
	w.arm(name)
}

// arm watches the deepest existing directory on the way to the target;
// w.mu is held.
func (w *watcher) arm(name string) {
	dir := w.target[name]
	for d := dir; ; d = filepath.Dir(d) {
		mask := uint32(parentEvents)
		if d == dir {
			mask = dirEvents
		}
		wd, err := unix.InotifyAddWatch(w.fd, d, mask)
		if err == nil {
			w.wds[int32(wd)] = watch{name: name, target: d == dir}
			return
		}
		if !errors.Is(err, unix.ENOENT) || d == filepath.Dir(d) {
			return
		}
	}
}

// run reads events until the watcher is closed.
func (w *watcher) run() {
	buf := make([]byte, 64<<10)
	for {
		n, err := w.file.Read(buf)
		if err != nil {
			return // closed
		}
		reload := map[string]bool{}
		w.mu.Lock()
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			wt, ok := w.wds[ev.Wd]
			if !ok {
				continue
			}
			if ev.Mask&unix.IN_IGNORED != 0 {
				delete(w.wds, ev.Wd)
				continue
			}
			if !wt.target {
				// A parent changed: perhaps the next directory down is
				// there now.
				w.arm(wt.name)
				if st, err := os.Stat(w.target[wt.name]); err == nil && st.IsDir() {
					reload[wt.name] = true
				}
				continue
			}
			switch file := cString(nameBytes); file {
			case "progress.json", lessons.ActivityFile:
				reload[wt.name] = true
			}
		}
		w.mu.Unlock()
		for name := range reload {
			w.r.Reload(name)
		}
	}
}

func (w *watcher) close() { _ = w.file.Close() }

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
