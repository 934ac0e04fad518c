package labhost

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Usage is what the kernel reports of a lab now, for the instructor's
// dashboard: its memory and the sandboxes running in it.
type Usage struct {
	// MemoryBytes is the lab's cgroup's memory in use: every session and
	// sandbox of the student together.
	MemoryBytes int64
	Sandboxes   []Sandbox
}

// Sandbox is one sandbox running in a lab.
type Sandbox struct {
	Name    string    `json:"name"`
	Command string    `json:"command"`
	Created time.Time `json:"created"`
	// MemoryBytes is the sandbox's own cgroup's, where it has one (a lab
	// on cgroup v2); 0 where the kernel keeps no separate count (v1).
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
}

// Usage reads the lab's memory from its cgroup and its sandboxes from
// the state kcna-lab keeps in the lab's /run, through the lab's init's
// view of its own root (/proc/PID/root): the files the student's ps reads.
func (l *Lab) Usage() (Usage, error) {
	var u Usage
	if l.cgroups != nil && l.cgroups.memFile != "" {
		n, err := readInt(l.cgroups.memFile)
		if err != nil {
			return u, fmt.Errorf("the memory of %s's lab: %w", l.cfg.Name, err)
		}
		u.MemoryBytes = n
	}
	pid := l.InitPID()
	if pid <= 0 {
		return u, nil
	}
	// The lab's root as its init sees it; every path below is resolved
	// in it (ReadInRoot), never on the server's.
	root := filepath.Join("/proc", strconv.Itoa(pid), "root")
	const dir = "run/kcna-lab/sandboxes"
	entries, _ := readDirInRoot(root, dir)
	for _, name := range entries {
		var st struct {
			Name    string    `json:"name"`
			Args    []string  `json:"args"`
			Created time.Time `json:"created"`
			InitPID int       `json:"init_pid"`
			Cgroups []string  `json:"cgroups"`
		}
		b, err := ReadInRoot(root, filepath.Join(dir, name, "state.json"))
		if err != nil || json.Unmarshal(b, &st) != nil || st.InitPID <= 0 {
			continue // being written or removed
		}
		// The sandbox's init, seen in the lab's own /proc (its PID
		// namespace's numbers): gone means the sandbox ended.
		if _, err := ReadInRoot(root, filepath.Join("proc", strconv.Itoa(st.InitPID), "stat")); err != nil {
			continue
		}
		sb := Sandbox{Name: st.Name, Command: strings.Join(st.Args, " "), Created: st.Created}
		for _, cg := range st.Cgroups {
			if b, err := ReadInRoot(root, filepath.Join(cg, "memory.current")); err == nil {
				if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
					sb.MemoryBytes = n
					break
				}
			}
		}
		u.Sandboxes = append(u.Sandboxes, sb)
	}
	sort.Slice(u.Sandboxes, func(i, j int) bool { return u.Sandboxes[i].Name < u.Sandboxes[j].Name })
	return u, nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// MaxStudentFile bounds what the server reads of a file a student wrote.
const MaxStudentFile = 4 << 20

// ReadInRoot reads rel as if root were "/": the server reads what a
// student controls (their home, their lab's /run), and a student who
// replaces a file or a directory on the way by a symlink (to /etc/shadow,
// to /dev/zero) must reach only their own files. openat2's
// RESOLVE_IN_ROOT keeps every step below root; the file must be a
// regular one, and at most MaxStudentFile bytes are read.
func ReadInRoot(root, rel string) ([]byte, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: filepath.Join(root, rel), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(root, rel))
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", f.Name())
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxStudentFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxStudentFile {
		return nil, fmt.Errorf("%s is over %d bytes", f.Name(), MaxStudentFile)
	}
	return b, nil
}

// readDirInRoot lists a directory resolved as ReadInRoot resolves files.
func readDirInRoot(root, rel string) ([]string, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	return f.Readdirnames(1000)
}
