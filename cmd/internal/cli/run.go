package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/kernel/seccomp"
	"github.com/kcna-lab/kcna-lab/plugin/network"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// SandboxFlags are the flags `run` and `shell` share.
type SandboxFlags struct {
	name, isolate, root, rootfs, hostname string
	memory                                string
	cpus                                  float64
	pids                                  int64
	volumes, capDrop                      []string
	layers, publish                       []string
	net, bridge, subnet                   string
	seccomp                               string
	detach, Trace, keep, overlay          bool
	detachedChild                         bool
	image                                 string
}

func (f *SandboxFlags) Register(cmd *cobra.Command, detach bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "name the sandbox, for `exec NAME` and `stop NAME` (default: a generated one)")
	fl.StringVar(&f.isolate, "isolate", "all", "namespaces to create: a comma-separated `LIST` of pid,uts,mnt,ipc,net,user,cgroup,time, or all, or none")
	fl.StringVar(&f.root, "root", "pivot", "how to change root: pivot (pivot_root, safe) or chroot (escapable; for the chroot lesson)")
	fl.StringVar(&f.rootfs, "rootfs", "", "root filesystem: a `DIR`, FILE.tar or FILE.tar.gz (default: a busybox root built once in your cache dir)")
	fl.StringVar(&f.hostname, "hostname", "", "hostname inside the sandbox (default: its name)")
	fl.StringVar(&f.memory, "memory", "", "memory limit, e.g. 64M or 1G (cgroup memory.max / memory.limit_in_bytes)")
	fl.Float64Var(&f.cpus, "cpus", 0, "CPU limit in CPUs, e.g. 0.5 for half of one (cgroup cpu.max / cfs_quota_us)")
	fl.Int64Var(&f.pids, "pids", 0, "the most processes the sandbox may have (cgroup pids.max)")
	fl.StringArrayVar(&f.volumes, "volume", nil, "mount a host directory inside: `HOST:CONTAINER[:ro]` (repeatable)")
	fl.BoolVar(&f.overlay, "overlay", false, "give the sandbox a writable layer over its root filesystem (overlayfs); `kcna-lab layers NAME` shows what it holds")
	fl.StringArrayVar(&f.layers, "layer", nil, "lay a read-only `DIR` over the root filesystem, like an image layer (repeatable, the last on top; implies --overlay)")
	fl.StringSliceVar(&f.capDrop, "cap-drop", nil, "take capabilities out of the default set, e.g. NET_RAW or NET_RAW,CHOWN")
	fl.StringVar(&f.seccomp, "seccomp", seccomp.Default, "system call filter: default (Docker's default profile), unconfined (none), or a profile `FILE` in Docker's JSON format")
	fl.StringVar(&f.net, "net", "none", "network: none (loopback only, in its own namespace) or bridge (an address on kcna-lab's bridge, DNS for NAME.kcna.local)")
	fl.StringVar(&f.subnet, "subnet", "", "with --net bridge: the bridge's IPv4 `CIDR` (default "+network.DefaultSubnet.String()+", clear of Docker's and Kubernetes' usual ranges)")
	fl.StringVar(&f.bridge, "bridge", "", "with --net bridge: the bridge's `NAME`, starting kl- or kcna- (default "+network.DefaultBridge+")")
	fl.StringArrayVar(&f.publish, "publish", nil, "with --net bridge: forward 127.0.0.1:`HOSTPORT:CTRPORT` on the host to the sandbox (repeatable)")
	fl.BoolVar(&f.Trace, "trace", false, "print every kernel-level step to stderr, with the shell command that does the same")
	if detach {
		fl.BoolVar(&f.detach, "detach", false, "start the sandbox in the background and return; use exec, ps and stop with it")
		fl.BoolVar(&f.detachedChild, "detached-child", false, "internal: the background half of --detach")
		_ = fl.MarkHidden("detached-child")
	}
}

func (f *SandboxFlags) Spec(args []string) (sandbox.Spec, error) {
	s := sandbox.Spec{Name: f.name, Args: args, Rootfs: f.rootfs, Hostname: f.hostname, CapDrop: f.capDrop, Seccomp: f.seccomp, Hold: len(args) == 0, Overlay: f.overlay, Layers: f.layers}
	var err error
	if s.Isolate, err = sandbox.ParseIsolate(f.isolate); err != nil {
		return s, err
	}
	if s.Root, err = sandbox.ParseRootMode(f.root); err != nil {
		return s, err
	}
	if f.memory != "" {
		if s.Limits.MemoryBytes, err = cgroup.ParseMemory(f.memory); err != nil {
			return s, err
		}
	}
	if f.cpus < 0 || f.pids < 0 {
		return s, errors.New("--cpus and --pids must be positive")
	}
	s.Limits.CPUs, s.Limits.Pids = f.cpus, f.pids
	for _, v := range f.volumes {
		vol, err := sandbox.ParseVolume(v)
		if err != nil {
			return s, err
		}
		s.Volumes = append(s.Volumes, vol)
	}
	s.Net, err = f.network()
	return s, err
}

// network reads --net, --bridge, --subnet and --publish.
func (f *SandboxFlags) network() (*sandbox.Net, error) {
	switch f.net {
	case "", "none":
		if f.subnet != "" || f.bridge != "" || len(f.publish) > 0 {
			return nil, errors.New("--subnet, --bridge and --publish need --net bridge: a sandbox with only loopback has nothing to publish")
		}
		return nil, nil
	case "bridge":
	default:
		return nil, fmt.Errorf("--net %q: use none (loopback only) or bridge (kcna-lab's bridge, %s)", f.net, network.DefaultBridge)
	}
	n := &sandbox.Net{Bridge: f.bridge}
	if f.subnet != "" {
		p, err := network.ParseSubnet(f.subnet)
		if err != nil {
			return nil, err
		}
		n.Subnet = p
	}
	for _, p := range f.publish {
		m, err := network.ParsePublish(p)
		if err != nil {
			return nil, err
		}
		n.Publish = append(n.Publish, m)
	}
	return n, nil
}

func NewRunCmd(a *App) *cobra.Command {
	var f SandboxFlags
	cmd := &cobra.Command{
		Use:   "run [flags] -- CMD [ARG...]",
		Short: "Run a command in a sandbox: namespaces, a private root, cgroup limits",
		Long: `Run CMD isolated on this kernel, the way a container runtime would: in new
namespaces (all that the host allows, unless --isolate says otherwise), with a
private root filesystem switched in by pivot_root, capabilities reduced to a
container's default set, and cgroup limits if you ask for them.

The exit status is CMD's own: its exit code, 128+N if signal N ended it, and
137 when the kernel's OOM killer ended it for going over --memory (which
kcna-lab reads from the cgroup, and reports, rather than guessing from 137).
126 means CMD could not be run, 127 that it was not found. kcna-lab's own
failures (a bad flag, a sandbox that could not start) exit 125, as docker
run's do, so that they are not mistaken for CMD's exit 1.

--seccomp filters the system calls themselves, as Docker does. By default
every sandbox gets Docker's own default profile: an allow list of the calls
containers need, the rest failing with EPERM (keyctl, bpf, mount, unshare,
...), some allowed only with certain arguments (personality, clone, socket)
or capabilities (chroot needs CAP_SYS_CHROOT). kcna-lab compiles it into a
BPF program, and the sandbox's init loads it last, so every process inside
inherits it. --seccomp unconfined loads none; --seccomp FILE takes a profile
in Docker's JSON format, as docker run --security-opt seccomp=FILE does, and
names the line and column of a mistake in it.

--trace prints each kernel-level step to stderr beside the shell command that
would do the same. Everything kcna-lab creates is removed when CMD ends.`,
		Example: `  # who am I, what is my hostname, which processes exist?
  sudo kcna-lab run -- sh -c 'id; hostname; ps'

  # watch every step
  sudo kcna-lab run --trace -- hostname

  # a 32 MiB memory limit, and a command that needs more
  sudo kcna-lab run --memory 32M -- sh -c 'head -c 100m /dev/zero | tail'

  # only new PID and UTS namespaces
  sudo kcna-lab run --isolate pid,uts,mnt -- ps

  # in the background, then look inside and stop it
  sudo kcna-lab run --detach --name web -- sleep 600
  sudo kcna-lab exec web -- ps
  sudo kcna-lab stop web

  # no command: PID 1 only holds the namespaces, like a pod's pause container
  sudo kcna-lab run --detach --name pod

  # without CAP_NET_RAW (ping needs it)
  sudo kcna-lab run --cap-drop NET_RAW -- grep Cap /proc/self/status

  # Docker's seccomp profile refuses personality(ADDR_NO_RANDOMIZE), for
  # which no capability is needed; unconfined, the call works
  sudo kcna-lab run -- linux64 -R cat /proc/self/personality
  sudo kcna-lab run --seccomp unconfined -- linux64 -R cat /proc/self/personality

  # an image built with kcna-lab build, then one from a registry
  sudo kcna-lab run --image hello:1
  sudo kcna-lab run --image 127.0.0.1:5000/hello:1 -- ls /srv

  # two sandboxes on a bridge: one serves, the other finds it by name
  sudo kcna-lab run --detach --name web --net bridge --publish 8080:80 -- httpd -f -p 80 -h /etc
  sudo kcna-lab run --net bridge -- wget -qO- http://web.kcna.local/hostname
  curl http://127.0.0.1:8080/hostname      # the published port, from the host`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.detachedChild {
				LongLived() // as long as the sandbox it holds
			}
			if len(args) == 0 && !f.detach && !f.detachedChild && f.image == "" {
				return errors.New("no command to run: give one after --, e.g. kcna-lab run -- hostname (only --detach may leave it out, to hold an empty sandbox)")
			}
			spec, err := f.Spec(args)
			if err != nil {
				return err
			}
			if f.image != "" {
				if err := a.imageSpec(cmd.Context(), &spec, f, args); err != nil {
					return err
				}
			}
			if f.detach {
				return a.detach(cmd.Context(), f.name, append(append([]string{"run", "--detached-child"}, setFlags(cmd, "detach")...), dashArgs(args)...))
			}
			return a.runSandbox(cmd.Context(), spec, f)
		},
	}
	f.Register(cmd, true)
	cmd.Flags().StringVar(&f.image, "image", "", "run an image built with `kcna-lab build` (NAME:TAG) or from a registry (REGISTRY/NAME:TAG): its layers under a writable one, its entrypoint, command, env and workdir; a command after -- replaces its CMD")
	OwnFailures(cmd, RunFailed)
	return cmd
}

func NewShellCmd(a *App) *cobra.Command {
	var f SandboxFlags
	cmd := &cobra.Command{
		Use:   "shell [flags]",
		Short: "An interactive shell inside a fresh sandbox",
		Long: `Open /bin/sh inside a new sandbox, with the same flags as run. Look around:
ps shows the sandbox's own processes with the shell near PID 1, hostname
shows the sandbox's name, mount shows its own mount table. Leave with exit
or Ctrl-D; everything is removed when you leave.

With --keep (and --name) the sandbox stays after you leave, and the same
command joins it again: that is how a lesson's challenge keeps what you did
until kcna-lab checks it. Stop it with kcna-lab stop NAME.`,
		Example: `  sudo kcna-lab shell
  sudo kcna-lab shell --memory 64M --pids 20 --hostname lab

  # a sandbox that outlives the shell; run it again to go back in
  sudo kcna-lab shell --name lab --keep`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := f.Spec([]string{"/bin/sh"})
			if err != nil {
				return err
			}
			if _, ok := Terminal(a.Stdin); !ok {
				return errors.New("shell needs a terminal; for a one-off command use `kcna-lab run -- CMD`")
			}
			if f.keep {
				return a.keptShell(cmd, f)
			}
			spec.Tty = true
			return a.runSandbox(cmd.Context(), spec, f)
		},
	}
	f.Register(cmd, false)
	cmd.Flags().BoolVar(&f.keep, "keep", false, "keep the sandbox (named by --name) after the shell exits, and join it if it is already running")
	return cmd
}

// runSandbox runs spec with the CLI's stdio and exits with its status.
func (a *App) runSandbox(ctx context.Context, spec sandbox.Spec, f SandboxFlags) error {
	spec.Stdin, spec.Stdout, spec.Stderr = a.Stdin, a.Stdout, a.Stderr
	var sink event.Sink
	if f.Trace {
		sink = NewTraceSink(a.Stderr)
	} else {
		sink = event.SinkFunc(func(e event.Event) {
			switch e.Kind {
			case event.KindOOM:
				fmt.Fprintf(a.Stderr, "kcna-lab: %s\n", e.Text)
			case event.KindWarning:
				fmt.Fprintf(a.Stderr, "kcna-lab: warning: %s\n", e.Text)
			}
		})
	}
	if f.detachedChild {
		return a.runDetachedChild(ctx, spec, sink)
	}
	res, err := sandbox.Run(ctx, spec, sink)
	if err != nil {
		if res.ExitCode == 126 || res.ExitCode == 127 { // cannot run, not found: as a shell says
			fmt.Fprintf(a.Stderr, "kcna-lab: %v\n", err)
			return ExitError{Code: res.ExitCode}
		}
		return err
	}
	if res.ExitCode != 0 {
		return ExitError{Code: res.ExitCode}
	}
	return nil
}

// keptShell joins the sandbox --name if it runs, else starts it in the
// background holding its namespaces, then runs /bin/sh in it with exec.
func (a *App) keptShell(cmd *cobra.Command, f SandboxFlags) error {
	if f.name == "" {
		return errors.New("--keep needs --name, so that you can come back to the sandbox: e.g. --name lab --keep")
	}
	if _, err := sandbox.Find(f.name); err != nil {
		args := append([]string{"run", "--detached-child"}, setFlags(cmd, "keep")...)
		if err := a.detach(cmd.Context(), f.name, args); err != nil {
			return err
		}
	} else if len(setFlags(cmd, "keep", "name")) > 0 {
		fmt.Fprintf(a.Stderr, "kcna-lab: joining the running sandbox %s; its other flags were fixed when it started\n", f.name)
	}
	in, out, errf, err := a.files()
	if err != nil {
		return err
	}
	res, err := sandbox.Exec(cmd.Context(), f.name, []string{"/bin/sh"}, in, out, errf, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stderr, "kcna-lab: sandbox %s keeps running; `kcna-lab shell --name %s --keep` joins it again, `kcna-lab stop %s` ends it\n", f.name, f.name, f.name)
	if res.ExitCode != 0 {
		return ExitError{Code: res.ExitCode}
	}
	return nil
}

// setFlags are the flags given on cmd's command line, as arguments again,
// leaving out skip.
func setFlags(cmd *cobra.Command, skip ...string) []string {
	var out []string
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if slices.Contains(skip, fl.Name) {
			return
		}
		if sv, ok := fl.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				out = append(out, "--"+fl.Name+"="+v)
			}
			return
		}
		out = append(out, "--"+fl.Name+"="+fl.Value.String())
	})
	return out
}

// dashArgs puts a command after "--", so its own flags stay its own.
func dashArgs(args []string) []string {
	if len(args) == 0 {
		return nil
	}
	return append([]string{"--"}, args...)
}

// detach starts `kcna-lab run --detached-child ...` (args) in a session of
// its own; it owns the sandbox and cleans up when the command ends. It
// tells us on fd 3 once the sandbox runs.
func (a *App) detach(ctx context.Context, name string, args []string) error {
	if name == "" {
		return errors.New("--detach needs --name, so that you can reach the sandbox afterwards: e.g. --detach --name web")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer null.Close()
	child := exec.CommandContext(ctx, "/proc/self/exe", args...)
	child.Stdin, child.Stdout, child.Stderr = null, null, null
	child.ExtraFiles = []*os.File{w}
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start the background sandbox: %w", err)
	}
	w.Close()
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if pid, ok := strings.CutPrefix(line, "ok "); ok {
		_ = child.Process.Release()
		fmt.Fprintf(a.Stdout, "sandbox %s is running (init PID %s on the host)\n  look inside:  kcna-lab exec %s -- ps\n  its output:   kcna-lab logs %s\n  stop it:      kcna-lab stop %s\n", name, pid, name, name, name)
		return nil
	}
	_ = child.Wait()
	if msg, ok := strings.CutPrefix(line, "error "); ok {
		return errors.New(msg)
	}
	return errors.New("the background sandbox ended before it started; run it without --detach to see why")
}

func (a *App) runDetachedChild(ctx context.Context, spec sandbox.Spec, sink event.Sink) error {
	ready := os.NewFile(3, "ready")
	log, err := openLog(spec.Name)
	if err != nil {
		fmt.Fprintf(ready, "error %s\n", err)
		ready.Close()
		return err
	}
	defer log.Close()
	// One writer for both streams: exec.Cmd then writes to it from one
	// goroutine at a time, which keeps lines whole and the cap shared.
	out := &cappedWriter{w: log, n: logLimit}
	spec.Stdin, spec.Stdout, spec.Stderr = nil, out, out
	sb, err := sandbox.Start(ctx, spec, sink)
	if err != nil {
		fmt.Fprintf(ready, "error %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		ready.Close()
		return err
	}
	fmt.Fprintf(ready, "ok %s\n", strconv.Itoa(sb.PID()))
	ready.Close()
	_, err = sb.Wait()
	return err
}
