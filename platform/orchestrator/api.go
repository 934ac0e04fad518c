package orchestrator

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Status is what a controller reports: the desired state beside what runs.
type Status struct {
	Deployment string `json:"deployment"`
	// Version is the desired version; Previous the one Rollback returns to.
	Version  string `json:"version"`
	Previous string `json:"previous,omitempty"`
	Desired  int    `json:"desired"`
	// Ready counts the replicas that are ready, at any version.
	Ready         int             `json:"ready"`
	Requests      Requests        `json:"requests"`
	Replicas      []Replica       `json:"replicas"`
	Unschedulable []Unschedulable `json:"unschedulable,omitempty"`
	Nodes         []NodeStatus    `json:"nodes"`
	// Rollout says where a rolling update stands: "complete", "rolling
	// out v2: ..." or "stalled: ...".
	Rollout string `json:"rollout"`
	// Events are the controller's latest events, oldest first.
	Events []string `json:"events,omitempty"`
}

// Replica is one replica as the controller sees it.
type Replica struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Node    string `json:"node"`
	// PID is the replica's init on the host.
	PID int `json:"pid"`
	// State is "starting" (its command has not yet been running for
	// ReadyAfter, or its port does not answer yet), "ready" or
	// "terminating".
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	// Cgroups are its cgroup directories, inside its node's.
	Cgroups []string `json:"cgroups,omitempty"`
	IP      string   `json:"ip,omitempty"`
}

// NodeStatus is a node's capacity, what is bound to it, and the limits
// its cgroup has as the kernel reports them.
type NodeStatus struct {
	Node
	Requested Requests `json:"requested"`
	Replicas  int      `json:"replicas"`
	Cgroups   []string `json:"cgroups"`
	// MemoryFile and MemoryMax are the node cgroup's memory limit, read
	// back from the kernel (memory.max, or memory.limit_in_bytes on v1).
	MemoryFile string `json:"memory_file"`
	MemoryMax  int64  `json:"memory_max"`
	// CPUFile and CPUMax are its CPU limit (cpu.max, or cpu.cfs_quota_us).
	CPUFile string  `json:"cpu_file"`
	CPUMax  float64 `json:"cpu_max"`
}

// Request is one call on a controller's API socket: Op is "status",
// "scale" (with Replicas), "update" (with Version) or "rollback".
type Request struct {
	Op       string `json:"op"`
	Replicas int    `json:"replicas,omitempty"`
	Version  string `json:"version,omitempty"`
}

// Response answers a Request: what was done, or why not, and the status.
type Response struct {
	Message string  `json:"message,omitempty"`
	Error   string  `json:"error,omitempty"`
	Status  *Status `json:"status,omitempty"`
}

// SocketPath is where the controller of deployment name answers while it
// runs: in kcna-lab's state dir, which only root can reach when kcna-lab
// runs as root (whoever can call it can start sandboxes).
func SocketPath(name string) string {
	return filepath.Join(sandbox.StateDir(), "orchestrator", name+".sock")
}

// Call sends req to the controller of deployment name and returns its
// answer. An error from the controller (a bad version, nothing to roll
// back) comes back as an error too.
func Call(ctx context.Context, name string, req Request) (Response, error) {
	sock := SocketPath(name)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return Response{}, fmt.Errorf("no orchestrator called %s is running (nothing answers on %s); start one with `sudo kcna-lab orchestrate --name %s --replicas 3`", name, sock, name)
		}
		if errors.Is(err, os.ErrPermission) {
			return Response{}, fmt.Errorf("cannot reach the orchestrator %s on %s: %w; run this with sudo, as the orchestrator does", name, sock, err)
		}
		return Response{}, fmt.Errorf("reach the orchestrator %s on %s: %w", name, sock, err)
	}
	defer func() { _ = conn.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return Response{}, fmt.Errorf("send %s to the orchestrator %s: %w", req.Op, name, err)
	}
	var resp Response
	if err := json.NewDecoder(bufio.NewReader(conn)).Decode(&resp); err != nil {
		return Response{}, fmt.Errorf("read the orchestrator %s's answer to %s: %w", name, req.Op, err)
	}
	if resp.Error != "" {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}
