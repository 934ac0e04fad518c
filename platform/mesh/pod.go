package mesh

import (
	"bytes"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// A pod here is what a Kubernetes pod with an Istio sidecar is, made of
// kcna-lab's parts: a sandbox on a bridge running the app, which listens on
// 127.0.0.1 only, and a sidecar process that has joined the sandbox's
// network namespace (and nothing else of it), so that it sees the app on
// loopback and owns the pod's address on the bridge.

// PodSpec describes one pod.
type PodSpec struct {
	// Name is the sandbox's name, e.g. "mesh-reviews-v1".
	Name string
	// Service and Version name the app instance and its sidecar.
	Service, Version string
	// Args is the app's command. Nil: busybox httpd on 127.0.0.1:8080
	// answering "SERVICE VERSION" at / and "SERVICE VERSION admin page" at
	// /admin, so that what the mesh does to each path can be seen.
	Args []string
	// Net is the bridge the pod joins (zero: kcna-lab's kl-br0).
	Net sandbox.Net
	// Program is the kcna-lab binary to run as the sidecar. "":
	// sandbox.LabProgram().
	Program string
}

// Pod is a running pod.
type Pod struct {
	Name             string
	Service, Version string
	// IP is the pod's address on the bridge; Inbound is its sidecar's
	// inbound listener there, which other sidecars dial.
	IP      netip.Addr
	Inbound string
	// Metrics is where its sidecar serves /metrics, on the pod's address.
	Metrics string
	// InitPID is the sandbox's init on the host; SidecarPID the sidecar's.
	InitPID, SidecarPID int
	// Command is the command line that started the sidecar.
	Command []string

	sb       *sandbox.Sandbox
	sidecar  *exec.Cmd
	exited   chan struct{} // closed when the sidecar process has ended
	output   *tail
	journal  *journal.Journal
	sink     event.Sink
	stopOnce sync.Once
	stopErr  error
}

// LabSpec describes a lab: a control plane and the pods of LabServices.
type LabSpec struct {
	// Name names the control socket (ControlSocket(Name)) and prefixes the
	// pods' sandbox names; "" means "mesh".
	Name string
	// Net is the bridge the pods join (zero: kcna-lab's kl-br0).
	Net sandbox.Net
	// Program is the kcna-lab binary the sidecars run (see PodSpec).
	Program string
	// Services are the pods to start; nil means LabServices().
	Services []Service
}

// Lab is a running mesh: the control plane in this process, serving its
// unix socket, and its pods.
type Lab struct {
	Name   string
	CP     *ControlPlane
	Socket string
	Pods   []*Pod

	ln      net.Listener
	served  chan error
	closed  bool
	journal *journal.Journal
	sink    event.Sink
}

// Pod returns the lab's pod of service at version ("" for any).
func (l *Lab) Pod(service, version string) *Pod {
	i := slices.IndexFunc(l.Pods, func(p *Pod) bool {
		return p.Service == service && (version == "" || p.Version == version)
	})
	if i < 0 {
		return nil
	}
	return l.Pods[i]
}

// tail keeps the last few KiB a sidecar wrote, for the error that says
// why it died.
type tail struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const tailMax = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - tailMax; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := strings.TrimSpace(t.buf.String()); s != "" {
		return s
	}
	return "(it printed nothing)"
}
