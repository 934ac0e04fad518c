package lessons

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// Store keeps Progress in one JSON file.
type Store struct {
	// Path is the progress file.
	Path string
	// UID and GID own what the store writes when >= 0: under sudo, the
	// invoking user, so their own later runs can still write it.
	UID, GID int
}

// DefaultStore places progress under $XDG_STATE_HOME/kcna-lab, else
// ~/.local/state/kcna-lab. Under sudo it is the invoking user's directory
// and files, not root's: a learner who sometimes runs with sudo keeps one
// record.
func DefaultStore() (*Store, error) {
	s := &Store{UID: -1, GID: -1}
	if sudoUser := os.Getenv("SUDO_USER"); os.Geteuid() == 0 && sudoUser != "" && sudoUser != "root" {
		u, err := user.Lookup(sudoUser)
		if err != nil {
			return nil, fmt.Errorf("find the home of SUDO_USER %q: %w", sudoUser, err)
		}
		s.UID, _ = strconv.Atoi(u.Uid)
		s.GID, _ = strconv.Atoi(u.Gid)
		s.Path = filepath.Join(u.HomeDir, ".local", "state", "kcna-lab", "progress.json")
		return s, nil
	}
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" || !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("find a place for progress: %w (set XDG_STATE_HOME or HOME)", err)
		}
		dir = filepath.Join(home, ".local", "state")
	}
	s.Path = filepath.Join(dir, "kcna-lab", "progress.json")
	return s, nil
}

// ErrNewerFormat is the error of a Load or Save that found a progress file
// written by a newer kcna-lab, which this one can neither read nor replace.
var ErrNewerFormat = errors.New("progress file written by a newer kcna-lab")

// Load reads the progress file. A missing file is a fresh start. A file that
// cannot be parsed is moved aside to a .bak file, never deleted, and Load
// returns fresh progress with a notice saying where the old file went; the
// error is reserved for failures to read or move the file, and for a file
// in a newer format (ErrNewerFormat), which is left exactly as it is: the
// learner who downgrades and upgrades again must find their progress.
func (s *Store) Load() (p *Progress, notice string, err error) {
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return NewProgress(), "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read progress %s: %w", s.Path, err)
	}
	if err := s.checkFormat(b); err != nil {
		return nil, "", err
	}
	p = NewProgress()
	perr := json.Unmarshal(b, p)
	if perr == nil {
		if p.Lessons == nil {
			p.Lessons = map[string]*LessonProgress{}
		}
		p.migrate()
		return p, "", nil
	}
	bak, err := s.moveAside()
	if err != nil {
		return nil, "", fmt.Errorf("progress file %s is unreadable (%w) and could not be kept aside: %w", s.Path, perr, err)
	}
	return NewProgress(), fmt.Sprintf("Your progress file could not be read (%v). It was kept as %s and kcna-lab started fresh.", perr, bak), nil
}

// checkFormat returns ErrNewerFormat, with what to do, when b is a
// progress file whose version is above the one this build writes. A file
// that is not JSON, or has no version, is not newer: Load keeps it aside.
func (s *Store) checkFormat(b []byte) error {
	var v struct {
		Version int `json:"version"`
	}
	if json.Unmarshal(b, &v) != nil || v.Version <= progressVersion {
		return nil
	}
	return fmt.Errorf("%w: %s is format %d and this kcna-lab reads formats up to %d; "+
		"it was left untouched. Run the newer kcna-lab again, or set XDG_STATE_HOME "+
		"to another directory to keep a separate record with this one",
		ErrNewerFormat, s.Path, v.Version, progressVersion)
}

// Save writes p atomically: a temp file in the same directory, fsynced, then
// renamed over the old one, so a crash leaves either the old or the new file.
// What another session of the same learner saved meanwhile is merged into
// p first (under a lock), so two sessions at once never lose each other's
// progress (two terminals, or two SSH sessions on a workshop server).
// It never replaces a file in a newer format (ErrNewerFormat), such as one a
// newer kcna-lab wrote since p was loaded.
func (s *Store) Save(p *Progress) error {
	dir := filepath.Dir(s.Path)
	if err := s.mkdirAll(dir); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	disk, err := s.readCurrent()
	if err != nil {
		return err
	}
	p.Merge(disk)
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("encode progress: %w", err)
	}
	f, err := os.CreateTemp(dir, ".progress-*.json")
	if err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	tmp := f.Name()
	defer func() { _ = os.Remove(tmp) }() // a no-op after the rename
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("save progress: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save progress: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	if err := s.chown(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.Path); err != nil {
		return fmt.Errorf("save progress: %w", err)
	}
	// The rename is durable only once the directory entry is on disk.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// lock serialises savers of one progress file: a flock on its directory,
// which leaves no lock file behind.
func (s *Store) lock() (func(), error) {
	f, err := os.Open(filepath.Dir(s.Path))
	if err != nil {
		return nil, fmt.Errorf("lock progress: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock progress: %w", err)
	}
	return func() { f.Close() }, nil
}

// readCurrent reads what is on disk now, for Save to merge: nil when
// there is nothing usable (no file, or one that does not parse, which
// Load has already kept aside), ErrNewerFormat for a newer kcna-lab's.
func (s *Store) readCurrent() (*Progress, error) {
	b, err := os.ReadFile(s.Path)
	if err != nil {
		return nil, nil
	}
	if err := s.checkFormat(b); err != nil {
		return nil, err
	}
	p := NewProgress()
	if err := json.Unmarshal(b, p); err != nil {
		return nil, nil
	}
	p.migrate()
	return p, nil
}

// Reset starts over. The old file is kept as a .bak, so a reset by mistake
// can be undone by hand.
func (s *Store) Reset() (bak string, err error) {
	if _, err := os.Stat(s.Path); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return s.moveAside()
}

// moveAside renames the progress file to the first free .bak name.
func (s *Store) moveAside() (string, error) {
	for i := 0; i < 1000; i++ {
		bak := s.Path + ".bak"
		if i > 0 {
			bak = fmt.Sprintf("%s.bak.%d", s.Path, i)
		}
		if _, err := os.Lstat(bak); errors.Is(err, os.ErrNotExist) {
			return bak, os.Rename(s.Path, bak)
		}
	}
	return "", fmt.Errorf("too many .bak files next to %s; remove some", s.Path)
}

func (s *Store) mkdirAll(dir string) error {
	// Create missing parents one by one so each can be given to the sudo user.
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := s.mkdirAll(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return s.chown(dir)
}

func (s *Store) chown(path string) error {
	if s.UID < 0 {
		return nil
	}
	if err := os.Lchown(path, s.UID, s.GID); err != nil {
		return fmt.Errorf("give %s to the sudo user: %w", path, err)
	}
	return nil
}
