//go:build linux

package roster

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

// Options tune when a student counts as stuck.
type Options struct {
	// FailedChecks in a row on one challenge make a student stuck (3).
	FailedChecks int
	// StuckAfter without progress on one screen, while connected, makes
	// a student stuck (10 minutes).
	StuckAfter time.Duration
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Roster is the live class.
type Roster struct {
	course *lessons.Course
	opts   Options

	mu       sync.Mutex
	students map[string]*student
	subs     map[chan struct{}]struct{}
	version  uint64
	watch    *watcher
	reloads  atomic.Int64 // how many reloads ran, for the tests
}

// A student's files are read at most this big: a course's progress of
// the whole course is a few KiB, its activity under 4 KiB (at most
// lessons.MaxActivityChecks checks); a bigger file is the student's own
// doing, and shows as no progress.
const (
	MaxProgressFile = 256 << 10
	MaxActivityFile = 64 << 10
)

// student is what the roster keeps of one student.
type student struct {
	name string
	// root is the student's own directory on the server (their home),
	// rel the place of progress.json and activity.json in it: every read
	// resolves rel inside root, whatever symlinks the student made.
	root, rel string
	dir       string // root/rel, for the watches
	sessions  int
	lastSeen  time.Time
	progress  *lessons.Progress
	activity  lessons.Activity
	changed   time.Time // when progress last changed
	usage     labhost.Usage
	usageSeen bool
}

// New makes an empty roster for course.
func New(course *lessons.Course, o Options) *Roster {
	if o.FailedChecks <= 0 {
		o.FailedChecks = 3
	}
	if o.StuckAfter <= 0 {
		o.StuckAfter = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Roster{course: course, opts: o, students: map[string]*student{}, subs: map[chan struct{}]struct{}{}}
}

// Add puts a student on the roster, their progress read from dir (the
// directory of their progress.json), and watches dir for changes once
// Watch runs.
func (r *Roster) Add(name, dir string) { r.AddIn(name, dir, ".") }

// AddIn is Add for a directory rel inside the student's own root (their
// home on the server): nothing outside root is read, whatever the
// student links there.
func (r *Roster) AddIn(name, root, rel string) {
	dir := filepath.Join(root, rel)
	r.mu.Lock()
	if _, ok := r.students[name]; ok {
		r.mu.Unlock()
		return
	}
	st := &student{name: name, root: root, rel: rel, dir: dir, progress: lessons.NewProgress()}
	r.students[name] = st
	w := r.watch
	r.mu.Unlock()
	r.Reload(name)
	if w != nil {
		w.add(name, target{root: root, dir: dir})
	}
}

// Reload reads a student's progress and activity again.
func (r *Roster) Reload(name string) {
	r.mu.Lock()
	st, ok := r.students[name]
	r.mu.Unlock()
	if !ok {
		return
	}
	r.reloads.Add(1)
	p, changed := loadProgress(st.root, st.rel)
	var a lessons.Activity
	if f, err := labhost.ReadInRootLimit(st.root, filepath.Join(st.rel, lessons.ActivityFile), MaxActivityFile); err == nil {
		_ = json.Unmarshal(f.Data, &a)
	}
	a = cleanActivity(r.course, a)
	r.mu.Lock()
	st.progress, st.activity = p, a
	if changed.After(st.changed) {
		st.changed = changed
	}
	r.mu.Unlock()
	r.notify()
}

// Sessions tells the roster a student's session came (+1) or went (-1).
func (r *Roster) Sessions(name string, delta int) {
	r.mu.Lock()
	if st, ok := r.students[name]; ok {
		st.sessions = max(st.sessions+delta, 0)
		st.lastSeen = r.opts.Now()
	}
	r.mu.Unlock()
	r.notify()
}

// SetUsage records what the kernel reports of a student's lab; a
// student without a lab has none.
func (r *Roster) SetUsage(name string, u labhost.Usage, ok bool) {
	u = cleanUsage(u)
	r.mu.Lock()
	st, known := r.students[name]
	same := known && st.usageSeen == ok && sameUsage(st.usage, u)
	if known {
		st.usage, st.usageSeen = u, ok
	}
	r.mu.Unlock()
	if known && !same {
		r.notify()
	}
}

// sameUsage ignores memory changes under 1 MiB, which would redraw the
// dashboard for nothing anyone reads.
func sameUsage(a, b labhost.Usage) bool {
	d := a.MemoryBytes - b.MemoryBytes
	return d < 1<<20 && d > -(1<<20) && slices.EqualFunc(a.Sandboxes, b.Sandboxes, func(x, y labhost.Sandbox) bool {
		return x.Name == y.Name && x.Created.Equal(y.Created)
	})
}

// Subscribe returns a channel told (coalesced) when anything changed,
// and the function that ends the subscription.
func (r *Roster) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.subs, ch)
		r.mu.Unlock()
	}
}

// Version counts changes, for a client that polls.
func (r *Roster) Version() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version
}

func (r *Roster) notify() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.version++
	for ch := range r.subs {
		select {
		case ch <- struct{}{}:
		default: // already told; it will read everything new at once
		}
	}
}

// Names lists the students by name.
func (r *Roster) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.students))
	for n := range r.students {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Class is every student now, by name.
func (r *Roster) Class() []Student {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Now()
	out := make([]Student, 0, len(r.students))
	for _, st := range r.students {
		out = append(out, r.row(st, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Student is one student's row, by name; ok is false for a name not on
// the roster.
func (r *Roster) Student(name string) (Student, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.students[name]
	if !ok {
		return Student{}, false
	}
	return r.row(st, r.opts.Now()), true
}

// Progress is a copy of a student's progress, for the export.
func (r *Roster) Progress(name string) (*lessons.Progress, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.students[name]
	if !ok {
		return nil, false
	}
	return st.progress.Clone(), true
}
