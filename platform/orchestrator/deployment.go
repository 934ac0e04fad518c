package orchestrator

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Deployment is what should run: the desired state.
type Deployment struct {
	// Name names the replicas, DEPLOY-XXXX, and the API socket.
	Name string
	// Replicas is how many should run.
	Replicas int
	// Version is the version to run, handed to Command.
	Version string
	// Requests are what each replica asks of its node. The scheduler
	// places by them, and each replica's cgroup gets them as its limits.
	Requests Requests
	// Command gives a replica's command for a version; nil is
	// DefaultCommand.
	Command func(version string) []string
	// Net puts the replicas on a bridge (an address each, DNS for
	// NAME.kcna.local), and makes a replica ready only once its HTTP port
	// answers; Network says which bridge (the zero value: kcna-lab's
	// default, kl-br0).
	Net     bool
	Network sandbox.Net
}

// Requests are what a replica asks of a node, as a Kubernetes container's
// resources.requests are.
type Requests struct {
	CPUs        float64 `json:"cpus"`
	MemoryBytes int64   `json:"memory_bytes"`
}

// String gives e.g. "0.25 CPU, 64 MiB".
func (r Requests) String() string { return CPUText(r.CPUs) + ", " + MiB(r.MemoryBytes) }

// Node is a place replicas run: a cgroup whose limits are its capacity.
type Node struct {
	Name        string  `json:"name"`
	CPUs        float64 `json:"cpus"`
	MemoryBytes int64   `json:"memory_bytes"`
}

// Config is what a Controller runs.
type Config struct {
	Deployment Deployment
	Nodes      []Node
	// ReadyAfter is how long a replica's command must have been running
	// before the replica counts as ready, as Kubernetes' minReadySeconds;
	// 0 means 500ms. With Deployment.Net, a replica is ready once its HTTP
	// port answers.
	ReadyAfter time.Duration
	// Serve answers the API (`kcna-lab orchestrate status` and friends) on
	// SocketPath(Deployment.Name) while the controller runs.
	Serve bool
	// Trace passes every sandbox's own kernel steps and narration on to the
	// sink; without it only the controller's are, since each replica's
	// start is some thirty steps.
	Trace bool
}

// Limits the controller holds a learner's machine to.
const (
	// MaxReplicas is the most replicas a deployment may ask for.
	MaxReplicas = 32
	// minMemory is the smallest memory request: a replica's init and its
	// command must fit in it, since it is also the replica's limit.
	minMemory = 8 << 20
	// defaultReadyAfter is Config.ReadyAfter's default.
	defaultReadyAfter = 500 * time.Millisecond
)

var versionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,23}$`) })

// ValidateVersion checks a version: it becomes part of a replica's
// command line, so only a short, plain word will do.
func ValidateVersion(v string) error {
	if !versionRE().MatchString(v) {
		return fmt.Errorf("version %q: use up to 24 lower-case letters, digits, dots, dashes and underscores, e.g. v2", v)
	}
	return nil
}

// validate checks a Config and fills in its defaults.
func (c Config) validate() (Config, error) {
	d := &c.Deployment
	if d.Name == "" {
		d.Name = "web"
	}
	if err := sandbox.ValidateName(d.Name + "-0000"); err != nil {
		return c, fmt.Errorf("deployment name %q: its replicas are named %s-XXXX, which must be a valid sandbox name: use up to 26 lower-case letters, digits and dashes", d.Name, d.Name)
	}
	if d.Replicas < 0 || d.Replicas > MaxReplicas {
		return c, fmt.Errorf("replicas %d: choose 0 to %d", d.Replicas, MaxReplicas)
	}
	if d.Version == "" {
		d.Version = "v1"
	}
	if err := ValidateVersion(d.Version); err != nil {
		return c, err
	}
	if err := d.Requests.validate(); err != nil {
		return c, err
	}
	if d.Command == nil {
		d.Command = DefaultCommand(d.Name, d.Net)
	}
	if len(c.Nodes) == 0 {
		return c, errors.New("no nodes: give at least one, e.g. --nodes node-a=1cpu/256M")
	}
	seen := map[string]bool{}
	for _, n := range c.Nodes {
		if err := cgroup.ValidateNode(n.Name); err != nil {
			return c, err
		}
		if seen[cgroup.NodeDir(n.Name)] {
			return c, fmt.Errorf("node %s is given twice (its cgroup would be %s)", n.Name, cgroup.NodeDir(n.Name))
		}
		seen[cgroup.NodeDir(n.Name)] = true
		if err := (cgroup.Limits{CPUs: n.CPUs, MemoryBytes: n.MemoryBytes}).Validate(); err != nil || n.CPUs <= 0 || n.MemoryBytes <= 0 {
			return c, fmt.Errorf("node %s: its capacity needs a number of CPUs and an amount of memory, both above zero, e.g. node-a=1cpu/256M", n.Name)
		}
	}
	if c.ReadyAfter <= 0 {
		c.ReadyAfter = defaultReadyAfter
	}
	return c, nil
}

func (r Requests) validate() error {
	if err := (cgroup.Limits{CPUs: r.CPUs, MemoryBytes: r.MemoryBytes}).Validate(); err != nil {
		return fmt.Errorf("requests: %w", err)
	}
	if r.CPUs <= 0 {
		return errors.New("requests: a replica must request some CPU, e.g. --cpu 0.25 (it is also its limit)")
	}
	if r.MemoryBytes < minMemory {
		return fmt.Errorf("requests: %s of memory is too little for a replica's init and command; request at least %s, e.g. --memory 64M", MiB(r.MemoryBytes), MiB(minMemory))
	}
	return nil
}

// VersionEnv is the environment variable in which the demo app's
// process carries its version, so that anyone can read which version a
// replica runs from the kernel: /proc/PID/environ of the init's child.
const VersionEnv = "APP_VERSION"

// DefaultCommand is the demo app: a shell that says which version it is
// and then serves (busybox httpd on port 80 with net, else a long sleep)
// with APP_VERSION in its environment, as a real image's program would. A
// version ending in "-broken" stands for an image whose program fails at
// start: it exits 1 at once, which is what makes a rolling update stall.
func DefaultCommand(name string, net bool) func(version string) []string {
	return func(version string) []string {
		if strings.HasSuffix(version, "-broken") {
			return []string{"sh", "-c", fmt.Sprintf(`echo "%s %s: cannot read its configuration, exiting" >&2; exit 1`, name, version)}
		}
		if net {
			return []string{"sh", "-c", fmt.Sprintf(`mkdir -p /tmp/www && echo "%s %s on $(hostname)" > /tmp/www/index.html && echo "%s %s serving on :80" && exec env %s=%s httpd -f -p 80 -h /tmp/www`, name, version, name, version, VersionEnv, version)}
		}
		return []string{"sh", "-c", fmt.Sprintf(`echo "%s %s started on $(hostname)"; exec env %s=%s sleep 86400`, name, version, VersionEnv, version)}
	}
}

// ParseNodes reads --nodes: NAME=CPUScpu/MEMORY, comma-separated, e.g.
// "node-a=1cpu/256M,node-b=0.5cpu/128M".
func ParseNodes(s string) ([]Node, error) {
	var out []Node
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		name, capacity, ok := strings.Cut(part, "=")
		cpu, mem, ok2 := strings.Cut(capacity, "/")
		if !ok || !ok2 || name == "" {
			return nil, fmt.Errorf("--nodes %q: want NAME=CPUScpu/MEMORY, e.g. node-a=1cpu/256M", part)
		}
		cpus, err := strconv.ParseFloat(strings.TrimSuffix(strings.ToLower(cpu), "cpu"), 64)
		if err != nil || cpus <= 0 || math.IsInf(cpus, 0) {
			return nil, fmt.Errorf("--nodes %q: %q is not a number of CPUs, e.g. 1cpu or 0.5cpu", part, cpu)
		}
		bytes, err := cgroup.ParseMemory(mem)
		if err != nil {
			return nil, fmt.Errorf("--nodes %q: %w", part, err)
		}
		out = append(out, Node{Name: name, CPUs: cpus, MemoryBytes: bytes})
	}
	return out, nil
}

// MiB gives a size in MiB, as a learner reads memory limits.
func MiB(b int64) string {
	if b%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", b>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

// CPUText gives a CPU amount, e.g. "0.25 CPU".
func CPUText(c float64) string {
	return strconv.FormatFloat(math.Round(c*1000)/1000, 'f', -1, 64) + " CPU"
}
