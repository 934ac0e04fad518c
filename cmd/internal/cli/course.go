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
	return identity(path, fi), nil
}

// RunningIdentity is ProgramIdentity of the program this process runs.
// Its stat is /proc/self/exe's, which is the running file even after a
// new build has replaced the one at its path: an old kcna-lab-full still
// running must not write its course under the new one's identity.
func RunningIdentity() (string, error) {
	path, err := os.Executable()
	if err != nil {
		return "", err
	}
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	return identity(path, fi), nil
}

func identity(path string, fi os.FileInfo) string {
	id := fmt.Sprintf("%s %d %d", path, fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id += fmt.Sprintf(" %d:%d", st.Dev, st.Ino)
	}
	return id
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
