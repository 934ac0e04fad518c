// Package journal records every object a sandbox creates before it is
// created, so that it can be undone in reverse order on exit, and so that a
// crashed run (kill -9) leaves a list that `kcna-lab clean` can sweep.
//
// A journal is a file of JSON lines in a state directory. The first line
// names the owner, a process identified by PID and start time (PIDs are
// reused; the pair is not). A journal whose owner is gone is an orphan: its
// objects are leftovers and safe to remove. A journal whose owner lives is
// never touched, so one kcna-lab never sweeps another's running sandbox.
package journal

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Kind is the kind of object an Entry records.
type Kind string

// The kinds of object a sandbox creates.
const (
	Mount   Kind = "mount"   // Path is the mount point.
	Dir     Kind = "dir"     // Path is a directory kcna-lab made (a temp root, a state dir).
	File    Kind = "file"    // Path is a file kcna-lab wrote.
	Cgroup  Kind = "cgroup"  // Path is a cgroup directory.
	Process Kind = "process" // PID and StartTime identify a process.
	Link    Kind = "link"    // Name is a network link (kl-*).
	Netns   Kind = "netns"   // Path is a bind-mounted network namespace file.
)

// Entry is one object.
type Entry struct {
	Kind      Kind   `json:"kind"`
	Path      string `json:"path,omitempty"`
	Name      string `json:"name,omitempty"`
	PID       int    `json:"pid,omitempty"`
	StartTime uint64 `json:"start_time,omitempty"`
	// Shell says how to undo it by hand, for `kcna-lab clean` to show.
	Shell string `json:"shell,omitempty"`
}

// String describes the entry for a learner.
func (e Entry) String() string {
	switch {
	case e.PID != 0:
		return fmt.Sprintf("%s %d", e.Kind, e.PID)
	case e.Name != "":
		return fmt.Sprintf("%s %s", e.Kind, e.Name)
	default:
		return fmt.Sprintf("%s %s", e.Kind, e.Path)
	}
}

// Owner is the process whose life keeps a journal's objects in use.
type Owner struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
}

// Self is the calling process as an Owner.
func Self() (Owner, error) {
	st, err := ProcStartTime(os.Getpid())
	if err != nil {
		return Owner{}, err
	}
	return Owner{PID: os.Getpid(), StartTime: st}, nil
}

// Alive reports whether the owner process still runs (and is the same one).
func (o Owner) Alive() bool {
	st, err := ProcStartTime(o.PID)
	return err == nil && st == o.StartTime
}

// record is one line of a journal file: either an owner (the last one wins)
// or an entry.
type record struct {
	Owner *Owner    `json:"owner,omitempty"`
	Entry *Entry    `json:"entry,omitempty"`
	Time  time.Time `json:"time"`
}

// Journal is an open journal. Its methods are safe for concurrent use.
type Journal struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	owner   Owner
	entries []Entry
}

// Undoer removes the object an entry names. It must treat an object that is
// already gone as success.
type Undoer func(Entry) error

// Create starts a new journal named id in dir, owned by the calling process.
func Create(dir, id string) (*Journal, error) {
	if strings.ContainsAny(id, `/\`) || id == "" || id == "." || id == ".." {
		return nil, fmt.Errorf("journal id %q: must be a plain file name", id)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal dir %s: %w", dir, err)
	}
	owner, err := Self()
	if err != nil {
		return nil, fmt.Errorf("journal owner: %w", err)
	}
	path := filepath.Join(dir, id+".journal")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	j := &Journal{path: path, f: f}
	if err := j.SetOwner(owner); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return nil, err
	}
	return j, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Owner is the journal's current owner.
func (j *Journal) Owner() Owner {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.owner
}

// SetOwner hands the journal to another process, e.g. a detached sandbox's
// init, whose life then keeps the objects from being swept.
func (j *Journal) SetOwner(o Owner) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.append(record{Owner: &o}); err != nil {
		return fmt.Errorf("journal owner %d: %w", o.PID, err)
	}
	j.owner = o
	return nil
}

// Record writes e to the journal file before the caller creates the object.
func (j *Journal) Record(e Entry) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.append(record{Entry: &e}); err != nil {
		return fmt.Errorf("journal %s: %w", e, err)
	}
	j.entries = append(j.entries, e)
	return nil
}

// Entries returns a copy of the recorded entries, oldest first.
func (j *Journal) Entries() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Entry(nil), j.entries...)
}

// Rollback undoes every entry, newest first. It goes on past failures, so
// one stuck object does not leave the rest behind, and removes the journal
// file only when everything was undone; otherwise the file stays for
// `kcna-lab clean` and the joined errors are returned.
func (j *Journal) Rollback(undo Undoer) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	errs := undoAll(j.entries, undo)
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	j.entries = nil
	if err := os.Remove(j.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal: %w", err)
	}
	return nil
}

// Close closes the file without undoing anything (the objects live on, e.g.
// a detached sandbox's).
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

func (j *Journal) append(r record) error {
	if j.f == nil {
		return errors.New("journal is closed")
	}
	r.Time = time.Now().UTC()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// No fsync: a write is in the page cache, so it survives the crash
	// that matters, kcna-lab being killed. What a machine crash would
	// lose, it takes with it too: mounts, cgroups, links and processes do
	// not outlive a reboot, and the state dir is normally a tmpfs (/run).
	// An fsync per object cost milliseconds on a disk-backed /run.
	_, err = j.f.Write(append(b, '\n'))
	return err
}

func undoAll(entries []Entry, undo Undoer) []error {
	var errs []error
	for i := len(entries) - 1; i >= 0; i-- {
		if err := undo(entries[i]); err != nil {
			errs = append(errs, fmt.Errorf("undo %s: %w", entries[i], err))
		}
	}
	return errs
}

// Orphan is a journal left by a process that is gone.
type Orphan struct {
	Path    string
	Owner   Owner
	Entries []Entry
}

// Orphans reads every journal in dir whose owner is no longer alive. A
// missing dir has none. A line cut short by a crash mid-write is ignored:
// the object it was about to name had not been created yet.
func Orphans(dir string) ([]Orphan, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.journal"))
	if err != nil {
		return nil, err
	}
	var out []Orphan
	for _, p := range names {
		o, err := read(p)
		if err != nil {
			return nil, err
		}
		if o.Owner.PID != 0 && o.Owner.Alive() {
			continue
		}
		out = append(out, o)
	}
	return out, nil
}

// Sweep undoes every orphan in dir, newest entry first, and removes each
// journal it fully undid. It returns what it removed.
func Sweep(dir string, undo Undoer) ([]Entry, error) {
	orphans, err := Orphans(dir)
	if err != nil {
		return nil, fmt.Errorf("read journals in %s: %w", dir, err)
	}
	var swept []Entry
	var errs []error
	for _, o := range orphans {
		if e := undoAll(o.Entries, undo); len(e) > 0 {
			errs = append(errs, e...)
			continue
		}
		swept = append(swept, o.Entries...)
		if err := os.Remove(o.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove journal %s: %w", o.Path, err))
		}
	}
	return swept, errors.Join(errs...)
}

func read(path string) (Orphan, error) {
	f, err := os.Open(path)
	if err != nil {
		return Orphan{}, fmt.Errorf("open journal: %w", err)
	}
	defer f.Close()
	o := Orphan{Path: path}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var r record
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if r.Owner != nil {
			o.Owner = *r.Owner
		}
		if r.Entry != nil {
			o.Entries = append(o.Entries, *r.Entry)
		}
	}
	if err := sc.Err(); err != nil {
		return Orphan{}, fmt.Errorf("read journal %s: %w", path, err)
	}
	return o, nil
}
