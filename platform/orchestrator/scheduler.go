package orchestrator

import (
	"fmt"
	"strings"
)

// Binding is a replica and the node it is placed on ("" before it is).
type Binding struct {
	Replica  string   `json:"replica"`
	Node     string   `json:"node,omitempty"`
	Requests Requests `json:"requests"`
}

// Unschedulable is a replica no node can hold, and why, as a Kubernetes
// Pod that stays Pending with "0/2 nodes are available: Insufficient memory".
type Unschedulable struct {
	Replica  string   `json:"replica"`
	Version  string   `json:"version,omitempty"`
	Requests Requests `json:"requests"`
	Reason   string   `json:"reason"`
}

// cpuEpsilon absorbs float rounding when CPU requests are summed (four
// replicas of 0.25 CPU fill one CPU exactly).
const cpuEpsilon = 1e-9

// Schedule places each of pending, in order, on a node, given the replicas
// already bound. It is a pure function of its arguments: the controller
// calls it with what it knows, and tests call it with what they like.
//
// The rule, Kubernetes' default in miniature: first filter, then score.
// A node fits a replica when its free capacity (capacity less the requests
// already bound to it, never what is actually used) covers the replica's
// requests, CPU and memory both. Of the nodes that fit, the one with the
// most free capacity afterwards wins, measured as the mean of the free
// fractions of CPU and memory (the scheduler's LeastAllocated score), so
// replicas spread out; a tie goes to the node listed first. A replica that
// fits no node is returned as Unschedulable with what each node lacks.
//
// Requests are bookkeeping: nothing here stops a replica from using more.
// What does is the kernel: each replica's cgroup gets its requests as its
// limits (Kubernetes' Guaranteed QoS class, requests equal to limits), and
// each node's cgroup has the node's capacity as its limits, which bound
// every replica inside it together.
func Schedule(nodes []Node, bound, pending []Binding) (placed []Binding, unschedulable []Unschedulable) {
	used := map[string]Requests{}
	for _, b := range bound {
		u := used[b.Node]
		u.CPUs += b.Requests.CPUs
		u.MemoryBytes += b.Requests.MemoryBytes
		used[b.Node] = u
	}
	for _, p := range pending {
		best, bestScore := -1, -1.0
		for i, n := range nodes {
			free := Free(n, used[n.Name])
			if !fits(free, p.Requests) {
				continue
			}
			score := ((free.CPUs-p.Requests.CPUs)/n.CPUs + float64(free.MemoryBytes-p.Requests.MemoryBytes)/float64(n.MemoryBytes)) / 2
			if score > bestScore+cpuEpsilon {
				best, bestScore = i, score
			}
		}
		if best < 0 {
			unschedulable = append(unschedulable, Unschedulable{Replica: p.Replica, Requests: p.Requests, Reason: whyNot(nodes, used, p.Requests)})
			continue
		}
		n := nodes[best]
		p.Node = n.Name
		u := used[n.Name]
		u.CPUs += p.Requests.CPUs
		u.MemoryBytes += p.Requests.MemoryBytes
		used[n.Name] = u
		placed = append(placed, p)
	}
	return placed, unschedulable
}

// Free is what is left of a node's capacity once used is taken out.
func Free(n Node, used Requests) Requests {
	return Requests{CPUs: n.CPUs - used.CPUs, MemoryBytes: n.MemoryBytes - used.MemoryBytes}
}

func fits(free, r Requests) bool {
	return free.CPUs+cpuEpsilon >= r.CPUs && free.MemoryBytes >= r.MemoryBytes
}

// whyNot says why no node can hold r, naming only what falls short:
// "0/2 nodes can hold it: it needs 512 MiB of memory; node-a has 192 MiB
// free, node-b 256 MiB".
func whyNot(nodes []Node, used map[string]Requests, r Requests) string {
	cpuShort, memShort := false, false
	for _, n := range nodes {
		free := Free(n, used[n.Name])
		cpuShort = cpuShort || free.CPUs+cpuEpsilon < r.CPUs
		memShort = memShort || free.MemoryBytes < r.MemoryBytes
	}
	var needs []string
	if cpuShort {
		needs = append(needs, CPUText(r.CPUs))
	}
	if memShort {
		needs = append(needs, MiB(r.MemoryBytes)+" of memory")
	}
	var have []string
	for i, n := range nodes {
		free := Free(n, used[n.Name])
		var parts []string
		if cpuShort {
			parts = append(parts, CPUText(max(free.CPUs, 0)))
		}
		if memShort {
			parts = append(parts, MiB(max(free.MemoryBytes, 0)))
		}
		s := strings.Join(parts, " and ")
		if i == 0 {
			s = n.Name + " has " + s + " free"
		} else {
			s = n.Name + " " + s
		}
		have = append(have, s)
	}
	return fmt.Sprintf("0/%d nodes can hold it: it needs %s; %s", len(nodes), strings.Join(needs, " and "), strings.Join(have, ", "))
}
