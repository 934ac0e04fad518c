package cli

import (
	"fmt"
	"os"
	"syscall"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// ProgramIdentity tells the kcna-lab executable at path from any other
// build: its path, size, modification time and inode change with every
// build and upgrade, and a stat costs microseconds where hashing 20 MB
// would cost milliseconds. The course's cache and index are kept under
// kcna-lab-full's identity, the program that parses the course; the
// slim front asks for that program's, to find the index.
func ProgramIdentity(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	id := fmt.Sprintf("%s %d %d", path, fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id += fmt.Sprintf(" %d:%d", st.Dev, st.Ino)
	}
	return id, nil
}

// Progress opens the learner's store and reads it, printing to stderr a
// notice (a corrupt file kept aside) if there is one.
func (a *App) Progress() (*lessons.Store, *lessons.Progress, error) {
	store, p, notice, err := OpenProgress()
	if notice != "" {
		fmt.Fprintln(a.Stderr, notice)
	}
	return store, p, err
}

// OpenProgress is Progress for the TUI, which shows the notice itself.
func OpenProgress() (*lessons.Store, *lessons.Progress, string, error) {
	store, err := lessons.DefaultStore()
	if err != nil {
		return nil, nil, "", err
	}
	p, notice, err := store.Load()
	if err != nil {
		return nil, nil, "", err
	}
	return store, p, notice, nil
}
