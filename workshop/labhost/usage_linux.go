package labhost

import (
	"encoding/json"
	"errors"
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

// Usage bounds: what a student writes in their lab's /run is read at
// most this much, so that no student's lab slows the sampling of the
// class (a state.json hard-linked into a thousand directories is read
// once, and only its first MaxSandboxes entries are looked at).
const (
	// MaxSandboxes bounds the sandbox directories read in one sample.
	MaxSandboxes = 64
	// MaxStateFile bounds a sandbox's state.json.
	MaxStateFile = 64 << 10
	// maxKernelFile bounds a file the kernel writes (a /proc stat, a
	// cgroup's memory.current), which a student could bind something
	// else over in their lab; maxCgroups the cgroups looked at for one
	// sandbox (a sandbox has one per hierarchy).
	maxKernelFile = 4 << 10
	maxCgroups    = 16
	// usageBudget is the time one lab's sample may take; the sandboxes
	// not read by then are left out of it.
	usageBudget = 500 * time.Millisecond
)

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
	u.Sandboxes = sandboxesIn(filepath.Join("/proc", strconv.Itoa(pid), "root"), time.Now().Add(usageBudget))
	return u, nil
}

// sandboxesIn lists the sandboxes running in a lab whose root is root,
// reading until deadline. The state files are read below the lab's /run
// without leaving its mount (RESOLVE_NO_XDEV: a student's bind mount of
// something else over a state.json is refused), each inode once.
func sandboxesIn(root string, deadline time.Time) []Sandbox {
	run, err := openInRoot(root, "run", unix.O_DIRECTORY, unix.RESOLVE_IN_ROOT|unix.RESOLVE_NO_MAGICLINKS)
	if err != nil {
		return nil
	}
	defer unix.Close(run)
	const dir = "kcna-lab/sandboxes"
	entries, _ := readDirAt(run, dir, MaxSandboxes)
	seen := map[[2]uint64]bool{}
	var out []Sandbox
	for _, name := range entries {
		if time.Now().After(deadline) {
			break
		}
		var st struct {
			Name    string    `json:"name"`
			Args    []string  `json:"args"`
			Created time.Time `json:"created"`
			InitPID int       `json:"init_pid"`
			Cgroups []string  `json:"cgroups"`
		}
		f, err := readAt(run, filepath.Join(dir, name, "state.json"), MaxStateFile, unix.RESOLVE_NO_XDEV, seen)
		if err != nil || json.Unmarshal(f.Data, &st) != nil || st.InitPID <= 0 {
			continue // being written or removed, too big, or seen already
		}
		// The sandbox's init, seen in the lab's own /proc (its PID
		// namespace's numbers): gone means the sandbox ended.
		if _, err := ReadInRootLimit(root, filepath.Join("proc", strconv.Itoa(st.InitPID), "stat"), maxKernelFile); err != nil {
			continue
		}
		sb := Sandbox{Name: st.Name, Command: strings.Join(st.Args, " "), Created: st.Created}
		for _, cg := range st.Cgroups[:min(len(st.Cgroups), maxCgroups)] {
			if f, err := ReadInRootLimit(root, filepath.Join(cg, "memory.current"), maxKernelFile); err == nil {
				if n, err := strconv.ParseInt(strings.TrimSpace(string(f.Data)), 10, 64); err == nil {
					sb.MemoryBytes = n
					break
				}
			}
		}
		out = append(out, sb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// MaxStudentFile bounds what the server reads of a file a student wrote,
// where the caller names no smaller bound (ReadInRootLimit).
const MaxStudentFile = 4 << 20

// ReadInRoot reads rel as if root were "/": the server reads what a
// student controls (their home, their lab's /run), and a student who
// replaces a file or a directory on the way by a symlink (to /etc/shadow,
// to /dev/zero) must reach only their own files. openat2's
// RESOLVE_IN_ROOT keeps every step below root; the file must be a
// regular one, and at most MaxStudentFile bytes are read.
func ReadInRoot(root, rel string) ([]byte, error) {
	f, err := ReadInRootLimit(root, rel, MaxStudentFile)
	return f.Data, err
}

// StudentFile is a file read from a student's root, with its change time
// as fstat reported it on the file read (not on a path a student could
// point elsewhere meanwhile).
type StudentFile struct {
	Data    []byte
	ModTime time.Time
}

// ReadInRootLimit is ReadInRoot for a file of at most limit bytes: a
// bigger one is refused before a byte of it is read.
func ReadInRootLimit(root, rel string, limit int64) (StudentFile, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return StudentFile{}, &os.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(dir)
	f, err := readAt(dir, rel, limit, 0, nil)
	if err != nil {
		return f, fmt.Errorf("%s: %w", root, err)
	}
	return f, nil
}

// errSeen is an inode read already in this sample (a hard link).
var errSeen = errors.New("read already through another link")

// readAt reads rel below dir (RESOLVE_IN_ROOT, plus resolve). It opens
// the path first with O_PATH, which opens nothing, fstats that, and only
// then opens for reading a regular file within limit: a fifo, a device
// or /proc/kmsg bound over the name is never opened. seen, when not nil,
// skips an inode already read.
func readAt(dir int, rel string, limit int64, resolve uint64, seen map[[2]uint64]bool) (StudentFile, error) {
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | resolve,
	})
	if err != nil {
		return StudentFile{}, &os.PathError{Op: "open", Path: rel, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return StudentFile{}, &os.PathError{Op: "stat", Path: rel, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return StudentFile{}, fmt.Errorf("%s is not a regular file", rel)
	}
	if st.Size > limit {
		return StudentFile{}, fmt.Errorf("%s is over %d bytes", rel, limit)
	}
	if seen != nil {
		key := [2]uint64{st.Dev, st.Ino}
		if seen[key] {
			return StudentFile{}, fmt.Errorf("%s: %w", rel, errSeen)
		}
		seen[key] = true
	}
	// Reopen the very inode checked, for reading.
	rfd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return StudentFile{}, &os.PathError{Op: "open", Path: rel, Err: err}
	}
	f := os.NewFile(uintptr(rfd), rel)
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return StudentFile{}, err
	}
	if int64(len(b)) > limit {
		return StudentFile{}, fmt.Errorf("%s is over %d bytes", rel, limit)
	}
	return StudentFile{Data: b, ModTime: time.Unix(st.Mtim.Unix())}, nil
}

// openInRoot opens rel below root (O_PATH plus flags) with resolve.
func openInRoot(root, rel string, flags int, resolve uint64) (int, error) {
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(dir)
	return unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   uint64(unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC | flags),
		Resolve: resolve,
	})
}

// readDirAt lists at most n names of rel below dir, without leaving
// dir's mount or root.
func readDirAt(dir int, rel string, n int) ([]string, error) {
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	return f.Readdirnames(n)
}
