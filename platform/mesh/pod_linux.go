//go:build linux

package mesh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/sandbox"
	// Pods join a bridge (Spec.Net), which is this plugin's job.
	_ "github.com/kcna-lab/kcna-lab/plugin/network"
)

// StartPod starts the sandbox, waits for its app to listen, then starts the
// sidecar inside the sandbox's network namespace and waits until it has
// joined cp. ctx bounds the start only: the pod runs until Close.
func StartPod(ctx context.Context, spec PodSpec, cp *ControlPlane, controlSocket string, sink event.Sink) (_ *Pod, err error) {
	if sink == nil {
		sink = event.Discard
	}
	if err := checkService(spec.Service); err != nil {
		return nil, fmt.Errorf("mesh: pod %s: %w", spec.Name, err)
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return nil, errors.New("mesh: nsenter was not found: a sidecar is started inside its pod's network namespace with nsenter(1), from util-linux; install it (e.g. apt-get install util-linux) and try again")
	}
	program, err := sidecarProgram(spec.Program)
	if err != nil {
		return nil, err
	}
	args := spec.Args
	if args == nil {
		args = []string{"sh", "-c", fmt.Sprintf(
			"mkdir -p /tmp/www && echo %[1]s > /tmp/www/index.html && echo %[2]s > /tmp/www/admin && exec httpd -f -p 127.0.0.1:%[3]d -h /tmp/www",
			shellQuote(spec.Service+" "+spec.Version), shellQuote(spec.Service+" "+spec.Version+" admin page"), AppPort)}
	}
	n := spec.Net
	// The sandbox lives until Close, not until the caller's ctx ends.
	sb, err := sandbox.Start(context.WithoutCancel(ctx), sandbox.Spec{Name: spec.Name, Args: args, Net: &n}, sink)
	if err != nil {
		return nil, fmt.Errorf("mesh: start pod %s: %w", spec.Name, err)
	}
	p := &Pod{Name: spec.Name, Service: spec.Service, Version: spec.Version, InitPID: sb.PID(), sb: sb, sink: sink, output: &tail{}}
	defer func() {
		if err != nil {
			_ = p.Close()
		}
	}()
	st, err := sandbox.Find(spec.Name)
	if err != nil {
		return nil, fmt.Errorf("mesh: pod %s: %w", spec.Name, err)
	}
	if st.Net == nil {
		return nil, fmt.Errorf("mesh: pod %s has no address on a bridge", spec.Name)
	}
	p.IP = st.Net.IP
	p.Inbound = net.JoinHostPort(p.IP.String(), strconv.Itoa(InboundPort))
	p.Metrics = net.JoinHostPort(p.IP.String(), strconv.Itoa(MetricsPort))
	app := net.JoinHostPort("127.0.0.1", strconv.Itoa(AppPort))
	if err := event.Step(sink,
		fmt.Sprintf("read /proc/%d/net/tcp until the app listens on %s (inside %s)", p.InitPID, app, spec.Name),
		fmt.Sprintf("nsenter --net=/proc/%d/ns/net ss -ltn 'sport = :%d'", p.InitPID, AppPort),
		func() error { return waitListening(ctx, p.InitPID, AppPort) }); err != nil {
		return nil, fmt.Errorf("mesh: pod %s: the app did not start: %w", spec.Name, err)
	}

	if p.journal, err = journal.Create(sandbox.JournalDir(), "kcna-sidecar-"+spec.Name); err != nil {
		return nil, fmt.Errorf("mesh: pod %s: %w (is `kcna-lab mesh` already running with these names? `kcna-lab clean` removes a crashed run's leftovers)", spec.Name, err)
	}
	cfg := SidecarConfig{
		Service: spec.Service, Version: spec.Version,
		Inbound: p.Inbound, Outbound: OutboundAddr(), App: app, Advertise: p.Inbound,
		Metrics: p.Metrics,
	}
	netns := fmt.Sprintf("/proc/%d/ns/net", p.InitPID)
	enter := []string{nsenter, "--net=" + netns}
	if os.Geteuid() != 0 {
		// Rootless, joining the pod's network namespace takes
		// capabilities over its user namespace: the user has them as the
		// owner of its ancestor (the network holder's), once in it.
		enter = []string{nsenter, fmt.Sprintf("--user=/proc/%d/ns/user", p.InitPID), "--net=" + netns, "--preserve-credentials"}
	}
	p.Command = slices.Concat(enter, []string{"--", program}, SidecarArgs(cfg, controlSocket))
	cmd := exec.Command(p.Command[0], p.Command[1:]...)
	cmd.Stdout, cmd.Stderr = p.output, p.output
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// The sidecar must not outlive the process that runs the mesh;
		// `kcna-lab clean` covers a kill -9 of that process's parent.
		Pdeathsig: syscall.SIGKILL,
		// Its own process group: Ctrl-C in the terminal reaches the mesh's
		// owner, which takes the pods down in order.
		Setpgid: true,
	}
	event.Narrate(sink, fmt.Sprintf("The %s %s sidecar joins only the network namespace of sandbox %s, as a pod's sidecar container shares its pod's network namespace: it reaches the app on %s, and owns the pod's address %s. nsenter(1) does the setns(2) and then runs kcna-lab itself as the proxy (a Go program cannot move all its threads into another network namespace once it runs).",
		spec.Service, spec.Version, spec.Name, app, p.IP))
	if err := event.Step(sink,
		fmt.Sprintf("setns(%s, CLONE_NEWNET); execve(%s mesh sidecar)", netns, filepath.Base(program)),
		strings.Join(shellWords(p.Command), " "),
		cmd.Start); err != nil {
		return nil, fmt.Errorf("mesh: pod %s: start the sidecar: %w", spec.Name, err)
	}
	p.sidecar, p.SidecarPID, p.exited = cmd, cmd.Process.Pid, make(chan struct{})
	go func() { _ = cmd.Wait(); close(p.exited) }()
	start, _ := journal.ProcStartTime(p.SidecarPID)
	if err := p.journal.Record(journal.Entry{Kind: journal.Process, PID: p.SidecarPID, StartTime: start, Shell: fmt.Sprintf("kill -9 %d", p.SidecarPID)}); err != nil {
		return nil, fmt.Errorf("mesh: pod %s: %w", spec.Name, err)
	}
	if err := p.waitJoined(ctx, cp); err != nil {
		return nil, err
	}
	return p, nil
}

// sidecarProgram is the kcna-lab binary that runs a sidecar.
func sidecarProgram(program string) (string, error) {
	if program == "" {
		p, err := sandbox.LabProgram()
		if err != nil {
			return "", fmt.Errorf("mesh: the sidecar program: %w", err)
		}
		return p, nil
	}
	if _, err := os.Stat(program); err != nil {
		return "", fmt.Errorf("mesh: the sidecar program: %w", err)
	}
	return program, nil
}

// waitJoined waits until the sidecar is in cp's registry with its
// inbound address, or has died trying.
func (p *Pod) waitJoined(ctx context.Context, cp *ControlPlane) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		eps, _ := cp.Resolve(p.Service)
		if slices.ContainsFunc(eps, func(ep Endpoint) bool { return ep.Sidecar == p.Inbound }) {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("mesh: pod %s: the sidecar ended before it joined the control plane (%s): %s", p.Name, p.sidecar.ProcessState, p.output.String())
		case <-ctx.Done():
			return fmt.Errorf("mesh: pod %s: the sidecar did not join the control plane within 15s: %s", p.Name, p.output.String())
		case <-tick.C:
		}
	}
}

// Close stops the sidecar (which leaves the mesh), then the sandbox, and
// removes everything both made. Calling it again returns the same error.
func (p *Pod) Close() error {
	p.stopOnce.Do(func() {
		var errs []error
		if p.sidecar != nil {
			_ = p.sidecar.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(3 * time.Second):
				_ = p.sidecar.Process.Kill()
				<-p.exited
			}
			event.Narrate(p.sink, fmt.Sprintf("%s %s sidecar (PID %d) stopped", p.Service, p.Version, p.SidecarPID))
		}
		if p.journal != nil {
			if err := p.journal.Rollback(sandbox.Undo); err != nil {
				errs = append(errs, err)
			}
		}
		_ = p.sb.Signal(syscall.SIGTERM)
		if _, err := p.sb.Wait(); err != nil {
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			p.stopErr = fmt.Errorf("mesh: stop pod %s: %w", p.Name, err)
		}
	})
	return p.stopErr
}

// Fetch sends n GETs from inside the sandbox called from, with busybox
// wget, to url with host as the Host header, and returns each answer. With
// url http://127.0.0.1:15001/... it is the app's own call through its
// sidecar; with another pod's inbound address it skips the sidecar.
func Fetch(ctx context.Context, from, url, host string, n int) ([]Answer, error) {
	return fetch(ctx, from, url, host, n)
}

func fetch(ctx context.Context, from, url, host string, n int, extra ...string) ([]Answer, error) {
	out, res, err := sandbox.ExecOutput(ctx, from, "sh", "-c", fetchScript(url, host, n, extra...))
	if err != nil {
		return nil, fmt.Errorf("mesh: wget inside %s: %w", from, err)
	}
	answers := parseFetch(out)
	if len(answers) != n {
		return answers, fmt.Errorf("mesh: wget inside %s: %d of %d answers read (exit %d): %s", from, len(answers), n, res.ExitCode, strings.TrimSpace(out))
	}
	return answers, nil
}

// Call sends n GETs for path to service from inside the sandbox called
// from, through its sidecar's outbound listener, as its app would.
func Call(ctx context.Context, from, service, path string, n int) ([]Answer, error) {
	return Fetch(ctx, from, "http://"+OutboundAddr()+path, service, n)
}

// CallTraced sends one GET for path to service from inside the sandbox
// called from, through its sidecar, carrying the W3C traceparent header
// given, as an app that takes part in a trace would.
func CallTraced(ctx context.Context, from, service, path, traceparent string) (Answer, error) {
	a, err := fetch(ctx, from, "http://"+OutboundAddr()+path, service, 1, TraceparentHeader+": "+traceparent)
	if err != nil {
		return Answer{}, err
	}
	return a[0], nil
}

// SandboxAt finds the running sandbox whose address on a bridge is the
// host part of addr (a sidecar's inbound address).
func SandboxAt(addr string) (sandbox.State, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return sandbox.State{}, fmt.Errorf("mesh: sidecar address %q: %w", addr, err)
	}
	list, err := sandbox.List()
	if err != nil {
		return sandbox.State{}, err
	}
	for _, st := range list {
		if st.Net != nil && st.Net.IP == ap.Addr() && st.Running() {
			return st, nil
		}
	}
	return sandbox.State{}, fmt.Errorf("mesh: no running sandbox has the address %s", ap.Addr())
}

// waitListening waits until something in pid's network namespace listens
// on 127.0.0.1:port, read from /proc/PID/net/tcp, which shows the sockets
// of that namespace.
func waitListening(ctx context.Context, pid, port int) error {
	want := fmt.Sprintf("0100007F:%04X", port)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/tcp", pid))
		if err != nil || processZombie(pid) {
			return errors.New("the sandbox ended")
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 3 && (f[1] == want || f[1] == fmt.Sprintf("00000000:%04X", port)) && f[3] == "0A" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nothing listens on 127.0.0.1:%d after 15s", port)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func processZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// shellWords quotes the words of a command line that need it.
func shellWords(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"$`\\|&;<>()*?[]#~!{}") {
			a = shellQuote(a)
		}
		out[i] = a
	}
	return out
}
