package roster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	// wds maps a watch to the students it is for and whether it is their
	// progress directory itself or a parent waited on: students waiting
	// on one parent (the class's students/ directory) share its watch.
	wds     map[int32][]watch
	target  map[string]string // student -> progress dir
	pending map[string]bool   // students with a reload coming
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
	return &watcher{r: r, fd: fd, file: os.NewFile(uintptr(fd), "inotify"), wds: map[int32][]watch{}, target: map[string]string{}, pending: map[string]bool{}}, nil
}

const (
	// IN_DONT_FOLLOW: a student's symlink is not followed to a watch
	// on someone else's directory.
	dirEvents    = unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW
	parentEvents = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW
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
// w.mu is held. A directory made below the one just watched, before the
// watch was in place, sent no event: arm looks again, and goes deeper.
func (w *watcher) arm(name string) {
	dir := w.target[name]
	for {
		d, ok := w.watchDeepest(name, dir)
		if !ok || d == dir {
			return
		}
		next := dir
		for filepath.Dir(next) != d {
			next = filepath.Dir(next)
		}
		if _, err := os.Stat(next); err != nil {
			return // the watch on d will tell when it comes
		}
	}
}

// watchDeepest adds a watch on the deepest existing directory on the way
// to dir, and returns it.
func (w *watcher) watchDeepest(name, dir string) (string, bool) {
	for d := dir; ; d = filepath.Dir(d) {
		mask := uint32(parentEvents)
		if d == dir {
			mask = dirEvents
		}
		wd, err := unix.InotifyAddWatch(w.fd, d, mask|unix.IN_MASK_ADD)
		if err == nil {
			wt := watch{name: name, target: d == dir}
			if !slices.Contains(w.wds[int32(wd)], wt) {
				w.wds[int32(wd)] = append(w.wds[int32(wd)], wt)
			}
			return d, true
		}
		if !errors.Is(err, unix.ENOENT) || d == filepath.Dir(d) {
			return "", false
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
			if ev.Mask&unix.IN_IGNORED != 0 {
				delete(w.wds, ev.Wd)
				continue
			}
			file := cString(nameBytes)
			for _, wt := range w.wds[ev.Wd] {
				if !wt.target {
					// A parent changed: perhaps the next directory down
					// is there now.
					w.arm(wt.name)
					if st, err := os.Stat(w.target[wt.name]); err == nil && st.IsDir() {
						reload[wt.name] = true
					}
					continue
				}
				if file == "progress.json" || file == lessons.ActivityFile {
					reload[wt.name] = true
				}
			}
		}
		w.mu.Unlock()
		for name := range reload {
			w.reloadSoon(name)
		}
	}
}

// reloadDelay gathers a student's writes into one reload: a course saves
// progress and activity together, and a student who writes their files
// in a loop costs the server at most 1/reloadDelay reloads a second.
const reloadDelay = 30 * time.Millisecond

// reloadSoon reloads a student after reloadDelay, once however many
// events come meanwhile.
func (w *watcher) reloadSoon(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending[name] {
		return
	}
	w.pending[name] = true
	time.AfterFunc(reloadDelay, func() {
		w.mu.Lock()
		delete(w.pending, name)
		w.mu.Unlock()
		w.r.Reload(name)
	})
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
