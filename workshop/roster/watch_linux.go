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
// activity (both are renamed into place, lessons.Store and
// lessons.WriteJSON: IN_MOVED_TO is all it waits for). A directory the
// student's course has not made yet is waited for from its nearest
// existing parent. A student's reloads never overlap and come at most
// 1/minReloadGap a second, however fast they write. Every StuckAfter/10 the rows are looked at again,
// since time alone makes a student stuck.
func (r *Roster) Watch(ctx context.Context) error {
	w, err := newWatcher(r)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.watch = w
	targets := map[string]target{}
	for n, st := range r.students {
		targets[n] = target{root: st.root, dir: st.dir}
	}
	r.mu.Unlock()
	for n, t := range targets {
		w.add(n, t)
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
	target  map[string]target  // student -> progress dir
	reloads map[string]*reload // students reloaded or with a reload coming
}

// target is a student's progress directory, dir, inside their own root:
// the directories between root and dir are the student's, and are
// watched only when none of them is a symlink.
type target struct{ root, dir string }

// reload is where a student's reloads are: one pending (timer set or
// running), again if an event came while it ran, and when the last ended.
type reload struct {
	pending, again bool
	last           time.Time
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
	return &watcher{r: r, fd: fd, file: os.NewFile(uintptr(fd), "inotify"), wds: map[int32][]watch{}, target: map[string]target{}, reloads: map[string]*reload{}}, nil
}

// Only renames into the progress directory are followed: the course
// writes nothing else (IN_CLOSE_WRITE would let a student's open/close
// loop cost a reload each). IN_DONT_FOLLOW: a symlink is not followed to
// a watch on someone else's directory (the student's own directories
// are resolved without symlinks first: watchIn).
const (
	dirEvents    = unix.IN_MOVED_TO | unix.IN_ONLYDIR
	parentEvents = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_ONLYDIR
)

// add watches a student's progress directory, or its nearest existing
// parent until it exists.
func (w *watcher) add(name string, t target) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.target[name] = t
	w.arm(name)
}

// arm watches the deepest existing directory on the way to the target;
// w.mu is held. A directory made below the one just watched, before the
// watch was in place, sent no event: arm looks again, and goes deeper.
func (w *watcher) arm(name string) {
	dir := w.target[name].dir
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
	root := w.target[name].root
	for d := dir; ; d = filepath.Dir(d) {
		mask := uint32(parentEvents)
		if d == dir {
			mask = dirEvents
		}
		var wd int
		var err error
		if rel, err2 := filepath.Rel(root, d); err2 == nil && filepath.IsLocal(rel) {
			wd, err = w.watchIn(root, rel, mask)
		} else {
			// root and above: the server's own directories.
			wd, err = unix.InotifyAddWatch(w.fd, d, mask|unix.IN_DONT_FOLLOW|unix.IN_MASK_ADD)
		}
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

// watchIn watches rel, a directory inside the student's root, resolved
// with no symlink on the way (RESOLVE_NO_SYMLINKS, in the root): the
// kernel's IN_DONT_FOLLOW only looks at the last component, and a
// student's .local linked to another student's home would have the
// server watch that one's directory for them.
func (w *watcher) watchIn(root, rel string, mask uint32) (int, error) {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(rfd)
	fd, err := unix.Openat2(rfd, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, err
	}
	defer unix.Close(fd)
	// The magic link to the directory just opened: followed on purpose.
	return unix.InotifyAddWatch(w.fd, fmt.Sprintf("/proc/self/fd/%d", fd), mask|unix.IN_MASK_ADD)
}

// run reads events until the watcher is closed.
func (w *watcher) run() {
	buf := make([]byte, 64<<10)
	for {
		n, err := w.file.Read(buf)
		if err != nil {
			return // closed
		}
		for name := range w.students(buf[:n]) {
			w.reloadSoon(name)
		}
	}
}

// students reads a buffer of inotify events and says which students to
// reload, arming deeper watches on the way.
func (w *watcher) students(buf []byte) map[string]bool {
	reload := map[string]bool{}
	w.mu.Lock()
	defer w.mu.Unlock()
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
		off += unix.SizeofInotifyEvent + int(ev.Len)
		if ev.Mask&unix.IN_IGNORED != 0 {
			delete(w.wds, ev.Wd)
			continue
		}
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			// Events were lost (wd -1): anyone may have changed,
			// and a directory may have been made.
			for name := range w.target {
				w.arm(name)
				reload[name] = true
			}
			continue
		}
		file := cString(nameBytes)
		for _, wt := range w.wds[ev.Wd] {
			if !wt.target {
				// A parent changed: perhaps the next directory down
				// is there now.
				w.arm(wt.name)
				if st, err := os.Stat(w.target[wt.name].dir); err == nil && st.IsDir() {
					reload[wt.name] = true
				}
				continue
			}
			if file == "progress.json" || file == lessons.ActivityFile {
				reload[wt.name] = true
			}
		}
	}
	return reload
}

// reloadDelay gathers a student's writes into one reload: a course saves
// progress and activity together. minReloadGap is the least time between
// the end of one reload of a student and the start of the next: a
// student who renames their files in a loop costs the server at most
// 1/minReloadGap (bounded, ReadInRootLimit) reloads a second.
const (
	reloadDelay  = 30 * time.Millisecond
	minReloadGap = 500 * time.Millisecond
)

// reloadSoon reloads a student after reloadDelay, once however many
// events come meanwhile; an event during a reload brings one more after
// it, since the reload may have read the files before that write.
func (w *watcher) reloadSoon(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	rl := w.reloads[name]
	if rl == nil {
		rl = &reload{}
		w.reloads[name] = rl
	}
	if rl.pending {
		rl.again = true
		return
	}
	w.schedule(name, rl)
}

// schedule sets a student's next reload; w.mu is held.
func (w *watcher) schedule(name string, rl *reload) {
	rl.pending, rl.again = true, false
	delay := max(reloadDelay, time.Until(rl.last.Add(minReloadGap)))
	time.AfterFunc(delay, func() {
		w.r.Reload(name)
		w.mu.Lock()
		defer w.mu.Unlock()
		rl.last, rl.pending = time.Now(), false
		if rl.again {
			w.schedule(name, rl)
		}
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
