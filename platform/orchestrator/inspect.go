package orchestrator

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
)

// Process is what the kernel says about a replica's init, read from /proc
// rather than from the controller's bookkeeping: lessons and checks use it
// to show that what the controller claims is so.
type Process struct {
	PID int `json:"pid"`
	// Node is the kcna-node-* cgroup directory the process lies in, from
	// /proc/PID/cgroup; "" if it lies in none.
	Node string `json:"node,omitempty"`
	// Cgroup is the first /proc/PID/cgroup path that runs through Node.
	Cgroup string `json:"cgroup,omitempty"`
	// Command is the init's child, the replica's command, and Version the
	// APP_VERSION in its environment (/proc/CHILD/environ); 0 and "" when
	// it has none.
	Command int    `json:"command,omitempty"`
	Version string `json:"version,omitempty"`
}

// Inspect reads pid's cgroups and its command's version from /proc. An
// error means the process does not exist (any more).
func Inspect(pid int) (Process, error) {
	p := Process{PID: pid}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return p, fmt.Errorf("process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		// "ID:CONTROLLERS:PATH"; the path runs through the node's directory.
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		for _, part := range strings.Split(f[2], "/") {
			if strings.HasPrefix(part, cgroup.NodePrefix) && p.Node == "" {
				p.Node, p.Cgroup = part, f[2]
			}
		}
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		c, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(c)) {
			if _, err := fmt.Sscan(f, &p.Command); err == nil {
				break
			}
		}
		if p.Command != 0 {
			break
		}
	}
	if p.Command != 0 {
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.Command))
		for _, kv := range bytes.Split(env, []byte{0}) {
			if v, ok := bytes.CutPrefix(kv, []byte(VersionEnv+"=")); ok {
				p.Version = string(v)
			}
		}
	}
	return p, nil
}
