package labhost

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
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
	root := filepath.Join("/proc", strconv.Itoa(pid), "root")
	states, _ := filepath.Glob(filepath.Join(root, "run", "kcna-lab", "sandboxes", "*", "state.json"))
	for _, p := range states {
		var st struct {
			Name    string    `json:"name"`
			Args    []string  `json:"args"`
			Created time.Time `json:"created"`
			InitPID int       `json:"init_pid"`
			Cgroups []string  `json:"cgroups"`
		}
		b, err := os.ReadFile(p)
		if err != nil || json.Unmarshal(b, &st) != nil {
			continue // being written or removed
		}
		// The sandbox's init, seen in the lab's own /proc (its PID
		// namespace's numbers): gone means the sandbox ended.
		if _, err := os.Stat(filepath.Join(root, "proc", strconv.Itoa(st.InitPID))); err != nil {
			continue
		}
		sb := Sandbox{Name: st.Name, Command: strings.Join(st.Args, " "), Created: st.Created}
		for _, cg := range st.Cgroups {
			if n, err := readInt(filepath.Join(root, cg, "memory.current")); err == nil {
				sb.MemoryBytes = n
				break
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
