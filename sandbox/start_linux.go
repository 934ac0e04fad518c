//go:build linux

package sandbox

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/kernel/overlay"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/kernel/seccomp"
	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// Run starts a sandbox, waits for its command and cleans up. The error is
// about the sandbox itself; the command's own failure is in the Result.
func Run(ctx context.Context, spec Spec, sink event.Sink) (Result, error) {
	sb, err := Start(ctx, spec, sink)
	if err != nil {
		return Result{}, err
	}
	return sb.Wait()
}

// Sandbox is a running sandbox, seen from the process that started it.
type Sandbox struct {
	Name string
	spec Spec
	sink event.Sink

	journal *journal.Journal
	group   *cgroup.Group
	layers  *overlay.FS // nil without --overlay or --layer
	// overlayData is the mount data of a rootless sandbox's overlay,
	// which its init mounts; "" otherwise.
	overlayData string
	// net is the sandbox's place on a network, with what serves it from
	// this process (DNS, published ports); nil without Spec.Net.
	net *Attachment
	// cmd is how the init is started; proc is the init once it runs: the
	// child cmd started, or, rootless on a network, the plugin's.
	cmd  *exec.Cmd
	proc InitProcess
	// bornIn is the cgroup directory the init was cloned into
	// (CLONE_INTO_CGROUP); "" when it was moved in after the clone.
	bornIn string
	// relay is the pseudo-terminal a rootless networked --tty sandbox
	// gets (see heldTerminal); nil otherwise.
	relay *ptyRelay
	dir   string
	// seccomp is the profile the init loads last; nil for unconfined.
	seccomp *seccomp.Profile

	// plan is what the init was sent, in whose words readEvents narrates
	// the init's reports; set before the init can read it.
	plan       atomic.Pointer[initproc.Plan]
	events     chan struct{} // closed when the init's event stream ends
	ready      chan struct{} // closed when the init has built the sandbox
	readyOnce  sync.Once
	initResult *Result
	initErr    string
	stopSample chan struct{}
	sampled    sync.WaitGroup
	stopWatch  chan struct{}
	cleanupMu  sync.Once

	waitOnce  sync.Once
	result    Result
	resultErr error
}

// Start builds the sandbox and starts its command; call Wait.
func Start(ctx context.Context, spec Spec, sink event.Sink) (_ *Sandbox, err error) {
	if sink == nil {
		sink = event.Discard
	}
	c, err := resolve(spec)
	if err != nil {
		return nil, err
	}
	profile, err := seccomp.Load(c.Seccomp)
	if err != nil {
		return nil, err
	}
	sb := &Sandbox{Name: c.Name, spec: c, sink: sink, seccomp: profile, events: make(chan struct{}), ready: make(chan struct{}), stopSample: make(chan struct{}), stopWatch: make(chan struct{})}

	if err := os.MkdirAll(filepath.Join(StateDir(), "sandboxes"), 0o711); err != nil {
		return nil, fmt.Errorf("create the state dir %s: %w", StateDir(), err)
	}
	_ = os.Chmod(StateDir(), 0o711) // MkdirAll keeps an existing dir's mode
	if st, err := Find(c.Name); err == nil {
		return nil, fmt.Errorf("a sandbox called %q is already running (init PID %d); stop it with `kcna-lab stop %s` or choose another --name", c.Name, st.InitPID, c.Name)
	}
	// A dead sandbox of the same name left its journal: sweep it first.
	if _, err := Clean(); err != nil {
		return nil, err
	}
	j, err := journal.Create(JournalDir(), hostID(c.Name))
	if err != nil {
		return nil, err
	}
	sb.journal = j
	defer func() {
		if err != nil {
			_ = sb.cleanup()
		}
	}()

	sb.dir = sandboxDir(c.Name)
	if err := sb.record(journal.Entry{Kind: journal.Dir, Path: sb.dir, Shell: "rm -rf " + sb.dir}); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(sb.dir, "root"), 0o711); err != nil {
		return nil, fmt.Errorf("create %s: %w", sb.dir, err)
	}

	userns := slices.Contains(c.Isolate, NSUser)
	owner := -1
	if userns && os.Geteuid() == 0 {
		owner = RootMapBase
		_ = os.Chown(filepath.Join(sb.dir, "root"), owner, owner)
	}
	fsDir, err := sb.prepareRootfs(owner)
	if err != nil {
		return nil, err
	}
	if c.Rootfs == "" && !c.Overlay && missingTargets(fsDir, c.Volumes) {
		// The default root filesystem is shared and read-only: a volume's
		// mount point that it lacks is made in a writable layer instead.
		event.Narrate(sb.sink, "A volume's mount point is missing from the shared root filesystem, so the sandbox gets a writable layer to make it in.")
		c.Overlay = true
	}
	if c.Overlay || len(c.Layers) > 0 {
		if fsDir, err = sb.mountLayers(fsDir, owner); err != nil {
			return nil, err
		}
	}
	if err := sb.createCgroup(); err != nil {
		return nil, err
	}
	if err := sb.startInit(ctx, fsDir, userns); err != nil {
		return nil, err
	}
	// Started means built: a caller may look inside at once (a check
	// reading /proc/PID/root, an exec).
	select {
	case <-sb.ready:
	case <-sb.events: // the init ended first; Wait reports why
	case <-ctx.Done():
	}
	return sb, nil
}

// resolve fills in the defaults of a Spec and checks it.
func resolve(spec Spec) (Spec, error) {
	if len(spec.Args) == 0 && !spec.Escape && !spec.Hold {
		return spec, errors.New("no command to run; e.g. kcna-lab run -- /bin/sh -c 'hostname; ps'")
	}
	if spec.Name == "" {
		// Unique, not secret: the runtime's generator, seeded by the
		// kernel, spares a run crypto/rand's setup.
		n := rand.Uint32()
		spec.Name = "s" + hex.EncodeToString([]byte{byte(n >> 16), byte(n >> 8), byte(n)})
	}
	if err := ValidateName(spec.Name); err != nil {
		return spec, err
	}
	if spec.Root == "" {
		spec.Root = RootPivot
	}
	if spec.Isolate == nil {
		spec.Isolate = DefaultIsolation()
	}
	has := func(n Namespace) bool { return slices.Contains(spec.Isolate, n) }
	if spec.Root == RootPivot && !has(NSMount) {
		return spec, errors.New("--root pivot needs a mount namespace (pivot_root would otherwise swap the host's own root): add mnt to --isolate, or use --root chroot")
	}
	if os.Geteuid() != 0 && !has(NSUser) {
		return spec, errors.New("as a non-root user kcna-lab needs a user namespace to create the others: add user to --isolate (or run with sudo)")
	}
	if os.Geteuid() != 0 {
		if err := UserNamespaceBlocked(); err != nil {
			return spec, err
		}
	}
	avail := Available()
	for _, n := range spec.Isolate {
		if !slices.Contains(avail, n) {
			return spec, fmt.Errorf("this kernel has no %s namespace (/proc/self/ns/%s is missing); leave it out of --isolate", n, n)
		}
	}
	if spec.Limits.Pids > 0 && spec.Limits.Pids < MinPids {
		return spec, fmt.Errorf("--pids %d leaves the sandbox no room: pids.max counts every task in the cgroup, and the sandbox's init alone holds up to %d threads; give --pids %d or more", spec.Limits.Pids, initThreads, MinPids)
	}
	if spec.Hostname == "" {
		spec.Hostname = spec.Name
	}
	if spec.Dir != "" && !filepath.IsAbs(spec.Dir) {
		return spec, fmt.Errorf("working directory %q: must be absolute, e.g. /app", spec.Dir)
	}
	if spec.Diff != nil && !spec.Overlay && len(spec.Layers) == 0 {
		return spec, errors.New("a Diff of the writable layer needs Overlay or Layers: without them the sandbox has no writable layer")
	}
	if spec.Env == nil {
		spec.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "HOSTNAME=" + spec.Hostname, "PS1=[sandbox \\h \\w]# "}
		if t := os.Getenv("TERM"); t != "" {
			spec.Env = append(spec.Env, "TERM="+t)
		}
		if spec.Root == RootChroot {
			// Where the init mounts the escape program for the chroot lesson.
			spec.Env[0] += ":" + initproc.EscapeDir
		}
	}
	for i, l := range spec.Layers {
		abs, err := filepath.Abs(l)
		if err != nil {
			return spec, err
		}
		if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
			return spec, fmt.Errorf("--layer %s: not a directory; a layer is a directory whose files are laid over the root filesystem", l)
		}
		spec.Layers[i] = abs
	}
	for _, name := range spec.CapDrop {
		if _, err := initproc.CapabilityBit(name); err != nil {
			return spec, err
		}
	}
	for i, v := range spec.Volumes {
		abs, err := filepath.Abs(v.Host)
		if err != nil {
			return spec, err
		}
		fi, err := os.Stat(abs)
		if err != nil {
			return spec, fmt.Errorf("--volume %s: %w", v.Host, err)
		}
		if !fi.IsDir() {
			return spec, fmt.Errorf("--volume %s: not a directory; volumes are directories", v.Host)
		}
		spec.Volumes[i].Host = abs
	}
	return spec, nil
}

// initThreads is the most tasks a sandbox's init holds: Go's runtime
// with the threads the Go init reserves (initproc.reserveThreads), which
// every sandbox with a pids limit runs.
const initThreads = 12

// MinPids is the smallest pids limit a sandbox accepts: its init's
// threads and a shell with a command beside them.
const MinPids = initThreads + 2

// DefaultIsolation is every namespace this kernel has, without user when
// running as root on a host that forbids user namespaces.
func DefaultIsolation() []Namespace {
	ns := Available()
	if os.Geteuid() == 0 && UserNamespaceBlocked() != nil {
		ns = slices.DeleteFunc(ns, func(n Namespace) bool { return n == NSUser })
	}
	return ns
}

func (sb *Sandbox) record(e journal.Entry) error { return sb.journal.Record(e) }

func (sb *Sandbox) prepareRootfs(owner int) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	arg := sb.spec.Rootfs
	dst := filepath.Join(sb.dir, "rootfs")
	if arg != "" {
		if fi, err := os.Stat(arg); err == nil && !fi.IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return "", err
			}
		}
	}
	// Prepare chowns what it builds or extracts to owner, the sandbox's
	// root on the host.
	return rootfs.Prepare(arg, cache, dst, owner, owner, sb.sink)
}

// missingTargets reports whether a volume's mount point is not yet in the
// root filesystem.
func missingTargets(rootfs string, vols []Volume) bool {
	for _, v := range vols {
		if _, err := os.Lstat(filepath.Join(rootfs, v.Target)); err != nil {
			return true
		}
	}
	return false
}

// mountLayers stacks the --layer directories (the last given on top) over
// the root filesystem with a writable upper layer, as a container runtime
// does with an image's layers, and returns the merged view. As root it is
// mounted here, on the host, before the clone. Rootless, the host refuses
// the mount; the init makes it inside its user namespace (Linux 5.11+),
// and the root filesystem it is given stays rootfs.
func (sb *Sandbox) mountLayers(rootfs string, owner int) (string, error) {
	lower := []string{rootfs}
	for _, l := range sb.spec.Layers {
		lower = append([]string{l}, lower...) // overlayfs lists the top-most first
	}
	uid := max(owner, 0)
	if os.Geteuid() != 0 {
		uid = os.Geteuid()
	}
	spec := overlay.Spec{Lower: lower, Dir: filepath.Join(sb.dir, "layers"), UID: uid, GID: uid}
	if os.Geteuid() != 0 {
		dir, err := rootlessLayersDir(sb.dir, sb.Name)
		if err != nil {
			return "", err
		}
		spec.Dir = dir
		fs, err := overlay.Prepare(spec, sb.journal, sb.sink)
		if err != nil {
			return "", err
		}
		sb.layers = fs
		// userxattr: a user namespace may not set the trusted.overlay.*
		// attributes that mark opaque directories; user.overlay.* it may.
		sb.overlayData = fs.Options("userxattr")
		if n := len(sb.overlayData); n >= os.Getpagesize() {
			return "", fmt.Errorf("%d layers make a %d-byte overlay option string, more than the one page mount(2) takes (%d), which the init uses rootless: give fewer --layer directories, or shorter paths", len(lower), n, os.Getpagesize())
		}
		event.Narrate(sb.sink, fmt.Sprintf("Rootless, so the sandbox's init mounts the overlay itself, inside its user namespace: %d read-only layer(s) plus a writable upper layer at %s.", len(lower), fs.Upper))
		return rootfs, nil
	}
	fs, err := overlay.Mount(spec, sb.journal, sb.sink)
	if err != nil {
		return "", err
	}
	sb.layers = fs
	event.Narrate(sb.sink, fmt.Sprintf("The root filesystem is now %d read-only layer(s) plus a writable upper layer at %s: what the sandbox writes lands there, and goes when the sandbox does.", len(lower), fs.Upper))
	return fs.Merged, nil
}

// rootlessLayersDir is where a rootless sandbox keeps its writable layer:
// on a filesystem with user extended attributes, which overlayfs in a
// user namespace (userxattr) needs to mark a deleted directory. The state
// dir is often a tmpfs, which has them only since Linux 6.6; the cache
// dir, in the home, is usually on disk.
func rootlessLayersDir(stateDir, name string) (string, error) {
	err := userXattrs(stateDir)
	if err == nil {
		return filepath.Join(stateDir, "layers"), nil
	}
	cache, cerr := CacheDir()
	if cerr == nil {
		if cerr = userXattrs(cache); cerr == nil {
			return filepath.Join(cache, "layers-"+hostID(name)), nil
		}
	}
	return "", fmt.Errorf("a rootless writable layer needs a filesystem with user extended attributes (overlayfs marks deleted directories with them), and neither %s (%v) nor the cache dir (%v) has them; tmpfs has them since Linux 6.6: "+
		"set XDG_CACHE_HOME to a directory on ext4, xfs or btrfs, or run kcna-lab with sudo", stateDir, err, cerr)
}

// userXattrs reports whether files in dir take user.* extended attributes.
func userXattrs(dir string) error {
	f, err := os.CreateTemp(dir, ".kcna-xattr-")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	defer f.Close()
	if err := unix.Fsetxattr(int(f.Fd()), "user.kcna-lab", []byte("1"), 0); err != nil {
		return fmt.Errorf("setxattr user.*: %w", err)
	}
	return nil
}

func (sb *Sandbox) createCgroup() error {
	lim, node := sb.spec.Limits, sb.spec.Node
	// A sandbox on a node needs its group even without limits of its own:
	// the group, inside the node's, is what puts it under the node's.
	need := !lim.Zero() || node != ""
	rootless := os.Geteuid() != 0
	if rootless && !need {
		return nil // nothing to limit, and an unprivileged user may have no cgroup to write to
	}
	host, err := cgroup.Detect()
	if err != nil {
		if !need {
			return nil
		}
		return fmt.Errorf("limits and nodes need cgroups: %w", err)
	}
	if err := host.Usable(rootless); err != nil {
		if !need {
			return nil
		}
		return err
	}
	// CreateIn with no node is Create; with one, it refuses a node whose
	// cgroup is missing and says to start `kcna-lab orchestrate`.
	g, err := host.CreateIn(node, hostID(sb.Name), lim, sb.journal, sb.sink)
	if err != nil {
		return err
	}
	sb.group = g
	return nil
}

// startInit starts the sandbox's first process in three phases, as runc's
// parent does: clone the init into its namespaces, where it waits on its
// config pipe; attach from outside what only the parent can (its journal
// entry, cgroup, network and state file); then plan the inside and send
// the config, which releases it. A failure after the clone kills the init,
// once, here.
func (sb *Sandbox) startInit(ctx context.Context, fsDir string, userns bool) (err error) {
	cfg, err := sb.initConfig(fsDir)
	if err != nil {
		return err
	}
	w, err := sb.openWires(&cfg, userns)
	if err != nil {
		return err
	}
	defer w.close()
	// Without a network the plan is complete before the clone; attaching
	// one fills in the addresses and routes it sets up.
	var plan *sentPlan
	if sb.spec.Net == nil {
		if plan, err = sb.buildPlan(&cfg); err != nil {
			return err
		}
	}
	if err := sb.clone(w, userns); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = sb.proc.Signal(syscall.SIGKILL)
		}
	}()
	if userns {
		event.Narrate(sb.sink, fmt.Sprintf("The user namespace maps root inside to %s on the host (see /proc/%d/uid_map).", describeMap(sb.cmd.SysProcAttr.UidMappings), sb.proc.Pid()))
	}
	if err := sb.release(&cfg, plan, w.cfgW); err != nil {
		return err
	}
	if sb.group != nil {
		// Where a gauge would show a number the kernel does not keep for
		// this sandbox, say why instead of showing nothing (or zero).
		for _, why := range sb.group.Unsampled() {
			event.Narrate(sb.sink, why+".")
		}
		sb.sampled.Add(1)
		go sb.sample()
	}
	go sb.watch(ctx)
	return nil
}

// initConfig is what the init is told: the command, the root to build,
// what to drop and filter.
func (sb *Sandbox) initConfig(fsDir string) (initproc.Config, error) {
	c := sb.spec
	cfg := initproc.Config{
		Args: c.Args, Env: c.Env, Hostname: c.Hostname, Dir: c.Dir,
		Root: filepath.Join(sb.dir, "root"), Rootfs: fsDir, RootMode: c.Root,
		ReadOnly: c.Rootfs == "" && sb.layers == nil, Isolate: c.Isolate, Tty: c.Tty, Escape: c.Escape, Hold: c.Hold,
		Overlay: sb.overlayData,
		Volumes: c.Volumes,
	}
	for _, name := range c.CapDrop {
		n, _ := initproc.CapabilityBit(name) // checked by resolve
		cfg.CapDrop = append(cfg.CapDrop, uintptr(n))
	}
	filter, err := sb.seccompFilter(&cfg)
	if err != nil {
		return cfg, err
	}
	cfg.Seccomp = filter
	return cfg, nil
}

// initWires are the files the init inherits from fd 3 on (initproc.FDConfig):
// its config pipe, its event pipe, the listening socket `exec` connects
// to, and each volume opened from outside (an idmapped mount).
type initWires struct {
	cfgR, cfgW *os.File
	evR, evW   *os.File
	sock       string
	lnFile     *os.File
	volumes    []*os.File
	extra      []*os.File
	evHanded   bool // evR belongs to readEvents once the init runs
}

func (sb *Sandbox) openWires(cfg *initproc.Config, userns bool) (_ *initWires, err error) {
	w := &initWires{sock: filepath.Join(sb.dir, "exec.sock")}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	if w.cfgR, w.cfgW, err = os.Pipe(); err != nil {
		return nil, err
	}
	if w.evR, w.evW, err = os.Pipe(); err != nil {
		return nil, err
	}
	if w.lnFile, err = listenUnix(w.sock); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", w.sock, err)
	}
	w.extra = []*os.File{w.cfgR, w.evW, w.lnFile}
	for _, f := range sb.openVolumes(userns) {
		cfg.VolumeFDs = append(cfg.VolumeFDs, 0)
		if f != nil {
			w.volumes = append(w.volumes, f)
			cfg.VolumeFDs[len(cfg.VolumeFDs)-1] = initproc.FDConfig + len(w.extra)
			w.extra = append(w.extra, f)
		}
	}
	return w, nil
}

// listenUnix is a listening socket at path, for the init to accept exec
// requests on. It is made with the system calls themselves: the init
// gets the descriptor, so package net's poller and its reading of
// somaxconn would be set up for nothing.
func listenUnix(path string) (*os.File, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	// The kernel caps the backlog at net.core.somaxconn, as net's would be.
	if err := unix.Listen(fd, unix.SOMAXCONN); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// close closes the parent's copies; the init keeps its own.
func (w *initWires) close() {
	for _, f := range append([]*os.File{w.cfgR, w.cfgW, w.evW, w.lnFile}, w.volumes...) {
		if f != nil {
			_ = f.Close()
		}
	}
	if w.evR != nil && !w.evHanded {
		_ = w.evR.Close()
	}
}

// clone starts the init in its new namespaces (clone(2) with the
// namespace flags, the user namespace's maps written by Go), where it
// waits for its config. With a cgroup v2 directory it is cloned straight
// into the sandbox's cgroup (cloneInto); where the kernel refuses that,
// attach moves it in afterwards.
func (sb *Sandbox) clone(w *initWires, userns bool) error {
	cmd := sb.initCmd(w, userns)
	flags := describeClone(sb.spec.Isolate)
	switch {
	case sb.spec.Net != nil && os.Geteuid() != 0:
		return sb.spawnHeld(w, cmd, flags)
	case sb.group != nil:
		return sb.cloneInto(w, cmd, flags, userns)
	default:
		return sb.plainClone(w, cmd, flags)
	}
}

// spawnHeld has the rootless network holder clone the init: only a
// process with capabilities over the sandbox's namespaces can plug a veth
// into them, so the sandbox's user namespace must be a child of the
// holder's.
func (sb *Sandbox) spawnHeld(w *initWires, cmd *exec.Cmd, flags cloneText) error {
	c := sb.spec
	sp, ok := networkPlugin().(InitSpawner)
	if !ok {
		return errors.New("--net bridge as a non-root user needs a network plugin that runs rootless (package plugin/network); run with sudo, or without --net")
	}
	event.Narrate(sb.sink, "Rootless, the bridge lives in the network namespace of kcna-lab's network holder, a process in a user namespace of your own. Only a process with capabilities over the sandbox's namespaces can plug a veth into them, so the holder clones the sandbox's init: its user namespace becomes a child of the holder's.")
	sb.heldTerminal(cmd)
	start := func() (err error) {
		sb.proc, err = sp.SpawnInit(cmd, sb.sink)
		if sb.relay != nil {
			if err == nil {
				sb.relay.closePeer()
				out := io.Writer(os.Stdout)
				if c.Stdout != nil {
					out = c.Stdout
				}
				sb.relay.start(out)
			} else {
				sb.relay.finish()
				sb.relay = nil
			}
		}
		return err
	}
	if err := event.Step(sb.sink, "clone("+flags.action+")", flags.shell, start); err != nil {
		return explainCloneError(err, c.Isolate)
	}
	sb.started(w)
	return nil
}

// initCmd is how the init is started: its program, files and clone
// attributes. A fresh one for every try, since an exec.Cmd starts once.
func (sb *Sandbox) initCmd(w *initWires, userns bool) *exec.Cmd {
	c := sb.spec
	cmd := &exec.Cmd{
		Path: InitProgram(),
		Args: []string{initproc.Arg0},
		// One OS thread for Go code keeps the init's thread count, which
		// pids.max counts too, small.
		Env:        []string{"GOMAXPROCS=1"},
		ExtraFiles: w.extra,
		Stdin:      c.Stdin,
		Stdout:     c.Stdout,
		Stderr:     c.Stderr,
	}
	if cmd.Stdout == nil {
		cmd.Stdout = &outputWriter{sink: sb.sink, stream: "stdout"}
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &outputWriter{sink: sb.sink, stream: "stderr"}
	}
	cmd.SysProcAttr = sb.sysProcAttr(userns)
	sb.cmd = cmd
	return cmd
}

// cloneInto clones the init straight into the sandbox's cgroup: clone3
// with CLONE_INTO_CGROUP and a descriptor of its v2 directory. Moving a
// running process in instead (a cgroup.procs write) makes the kernel
// (6.0+, without favordynmods) wait for an RCU grace period, about 10 ms
// here, more than the rest of the start; being born there costs nothing
// extra. Where the kernel
// refuses (before Linux 5.7, under a seccomp filter, pure cgroup v1), it
// clones plainly and attach moves the init in, and says so.
func (sb *Sandbox) cloneInto(w *initWires, cmd *exec.Cmd, flags cloneText, userns bool) error {
	dir, done, err := sb.group.CloneInto(cmd.SysProcAttr)
	if err != nil {
		return err
	}
	if dir == "" {
		return sb.plainClone(w, cmd, flags) // pure v1: no v2 directory to clone into
	}
	if f := cloneAttr.Load(); f != nil {
		(*f)(cmd.SysProcAttr)
	}
	event.Narrate(sb.sink, fmt.Sprintf("The init is cloned straight into its cgroup, %s: clone3 with CLONE_INTO_CGROUP and a descriptor of that directory (Linux 5.7+, cgroup v2 only). A shell has no such call: it moves itself in (echo $$ > cgroup.procs) and then execs. kcna-lab forks into the group instead because every move takes the kernel's cgroup_threadgroup_rwsem for writing, which since Linux 6.0 waits for an RCU grace period (milliseconds; not on a hierarchy mounted with favordynmods), while a clone into the group takes it only for reading.", dir))
	action := fmt.Sprintf("clone3(%s|CLONE_INTO_CGROUP, cgroup=%s)", flags.action, dir)
	shell := fmt.Sprintf("echo $$ > %s/cgroup.procs; exec %s", dir, flags.shell)
	err = event.Step(sb.sink, action, shell, func() error {
		defer done()
		if err := cmd.Start(); err != nil {
			return err
		}
		sb.proc, sb.bornIn = &childInit{cmd: cmd}, dir
		return nil
	})
	if err == nil {
		sb.started(w)
		return nil
	}
	if !cgroup.CloneRefused(err) {
		return explainCloneError(err, sb.spec.Isolate)
	}
	// The same errno may be the child's, not the clone's (an init
	// program that cannot run, a user namespace the host refuses):
	// only a plain clone that succeeds shows it was CLONE_INTO_CGROUP.
	refused := err
	cmd = sb.initCmd(w, userns)
	if err := sb.plainClone(w, cmd, flags); err != nil {
		return err
	}
	var errno syscall.Errno
	_ = errors.As(refused, &errno)
	event.Narrate(sb.sink, fmt.Sprintf("The kernel refused CLONE_INTO_CGROUP (%v: clone3 is missing before Linux 5.3, CLONE_INTO_CGROUP before 5.7, and a container's seccomp filter may forbid clone3), so the init was cloned plainly and is moved into its cgroup with a write to cgroup.procs, which on Linux 6.0 and later costs an RCU grace period.", errno))
	return nil
}

// plainClone starts the init with a plain clone: no cgroup is given, so
// attach moves it into its own.
func (sb *Sandbox) plainClone(w *initWires, cmd *exec.Cmd, flags cloneText) error {
	start := func() error {
		if err := cmd.Start(); err != nil {
			return err
		}
		sb.proc = &childInit{cmd: cmd}
		return nil
	}
	if err := event.Step(sb.sink, "clone("+flags.action+")", flags.shell, start); err != nil {
		return explainCloneError(err, sb.spec.Isolate)
	}
	sb.started(w)
	return nil
}

// started hands the event pipe's read end to readEvents once the init
// runs: the parent's copy of the write end is closed, so the stream ends
// when the init's does.
func (sb *Sandbox) started(w *initWires) {
	_ = w.evW.Close()
	w.evW = nil
	w.evHanded = true
	go sb.readEvents(w.evR)
}

// attach does, from outside, what the init cannot do for itself: journal
// it, put it in its cgroup, plug it into the network, and write the state
// that ps and exec read.
func (sb *Sandbox) attach(cfg *initproc.Config) error {
	c := sb.spec
	pid := sb.proc.Pid()
	start, _ := journal.ProcStartTime(pid)
	if err := sb.record(journal.Entry{Kind: journal.Process, PID: pid, StartTime: start, Shell: fmt.Sprintf("kill -9 %d", pid)}); err != nil {
		return err
	}
	if sb.group != nil {
		// Every directory but the one it was cloned into, if any: on a
		// hybrid host, the v1 hierarchies of the controllers it is
		// limited by; after a refused CLONE_INTO_CGROUP, all of them.
		if err := sb.group.AddExcept(pid, sb.bornIn, sb.sink); err != nil {
			return err
		}
	}
	if c.Net != nil {
		if err := sb.attachNetwork(pid, cfg); err != nil {
			return err
		}
	}
	st := State{
		Name: c.Name, Args: c.Args, Isolate: c.Isolate, Root: c.Root, Limits: c.Limits,
		Created: time.Now(), InitPID: pid, InitStart: start, ExecSocket: filepath.Join(sb.dir, "exec.sock"),
	}
	if a := sb.net; a != nil {
		st.Net = &NetState{Bridge: a.Bridge, IP: a.IP, Publish: c.Net.Publish}
	}
	if sb.group != nil {
		st.Cgroups = sb.group.Paths()
	}
	if sb.layers != nil {
		st.Layers = &LayersState{Dir: sb.layers.Dir, Lower: sb.layers.Lower}
	}
	return writeState(sb.dir, st)
}

// cloneAttr, when set, may change the attributes of an init cloned into
// its cgroup: the test of the fallback hands the kernel a descriptor
// that is no cgroup, which it refuses as an old kernel would.
var cloneAttr atomic.Pointer[func(*syscall.SysProcAttr)]

// planned, when set, is shown every plan before it is sent: the test that
// runs every step through both inits (export_test.go's OnPlan) learns
// from it which steps a sandbox took.
var planned atomic.Pointer[func(*initproc.Plan)]

// release attaches the init and sends it its plan (built now if plan is
// nil), in the order that lets it start soonest. The init waits for its
// plan and builds the sandbox the moment it has it, so the plan goes
// first unless this process must still act on the init before then:
// attach the network (which fills in the addresses and routes the plan
// sets up), or move the init into a cgroup by a write (a command forked
// before that would escape the limits). Then the journal and the state
// file are written while the init works; should that fail (a full
// disk), the init is killed as on any error, its command perhaps just
// begun.
func (sb *Sandbox) release(cfg *initproc.Config, plan *sentPlan, cfgW *os.File) error {
	if plan != nil && sb.group.JoinedAtClone(sb.bornIn) {
		if err := sb.send(plan, cfgW); err != nil {
			return err
		}
		return sb.attach(cfg)
	}
	if err := sb.attach(cfg); err != nil {
		return err
	}
	if plan == nil {
		var err error
		if plan, err = sb.buildPlan(cfg); err != nil {
			return err
		}
	}
	return sb.send(plan, cfgW)
}

// sentPlan is a plan and its wire form, ready to send.
type sentPlan struct {
	plan *initproc.Plan
	msg  []byte
}

// buildPlan turns what the init is told into the plan it carries out.
func (sb *Sandbox) buildPlan(cfg *initproc.Config) (*sentPlan, error) {
	plan, err := initproc.BuildPlan(cfg)
	if err != nil {
		return nil, fmt.Errorf("plan the sandbox: %w", err)
	}
	if sb.spec.Limits.Pids > 0 {
		// Handing a running sandbox over to the Go init (its first
		// `exec`) starts Go's runtime, which needs threads the pids
		// limit may have given away by then, and PID 1 would die of it.
		// The Go init reserves its threads before the command starts.
		plan.Native = false
	}
	if f := planned.Load(); f != nil {
		(*f)(plan)
	}
	msg, err := plan.Marshal()
	if err != nil {
		return nil, fmt.Errorf("plan the sandbox: %w", err)
	}
	return &sentPlan{plan: plan, msg: msg}, nil
}

// send hands the init its plan, which releases it: it has waited for it.
func (sb *Sandbox) send(p *sentPlan, cfgW *os.File) error {
	sb.plan.Store(p.plan) // before the init can report a step of it
	if _, err := cfgW.Write(p.msg); err != nil {
		return fmt.Errorf("send the plan to the sandbox's init: %w", err)
	}
	if err := cfgW.Close(); err != nil {
		return fmt.Errorf("send the plan to the sandbox's init: %w", err)
	}
	return nil
}

func (sb *Sandbox) sysProcAttr(userns bool) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{
		Cloneflags: cloneFlags(sb.spec.Isolate),
		// The init must not outlive kcna-lab; `clean` covers a kill -9.
		Pdeathsig: syscall.SIGKILL,
	}
	// No Unshareflags CLONE_NEWNS: Go would unshare a second mount
	// namespace after the clone's, copying the host's mount table twice.
	// The init makes every mount private itself (its first mount step,
	// before any other), so nothing the sandbox mounts reaches the host.
	// Its own process group: without a terminal, a ^C reaches only
	// kcna-lab, which stops the sandbox in order; with one (`shell`), the
	// group takes the terminal's foreground while it runs.
	attr.Setpgid = true
	attr.Foreground = sb.spec.Tty
	if userns {
		if os.Geteuid() == 0 {
			attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: RootMapBase, Size: 65536}}
			attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: RootMapBase, Size: 65536}}
			attr.GidMappingsEnableSetgroups = true
			// Host root is not in the map, so the child must become the
			// namespace's root itself before it execs, or it would run
			// as the overflow user with no capabilities.
			attr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
		} else {
			attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
			attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
			attr.GidMappingsEnableSetgroups = false
		}
	}
	return attr
}

func describeMap(m []syscall.SysProcIDMap) string {
	if len(m) == 0 {
		return "nothing"
	}
	if m[0].Size == 1 {
		return fmt.Sprintf("your own user (uid %d)", m[0].HostID)
	}
	return fmt.Sprintf("uids %d-%d, an unprivileged range", m[0].HostID, m[0].HostID+m[0].Size-1)
}

// cloneNamespaces are the namespaces clone itself creates, with the flag,
// its name and unshare(1)'s option. cgroup and time are left to the init:
// a cgroup namespace takes its root from the cgroup its creator is in,
// and the init is in all of its cgroups only once attach has run (it is
// born in its v2 directory, but a hybrid host's v1 hierarchies, or a
// kernel that refuses CLONE_INTO_CGROUP, still need a write after the
// clone); and a time namespace can only be entered by children.
var cloneNamespaces = []struct {
	ns     Namespace
	flag   uintptr
	name   string
	option string
}{
	{NSPid, syscall.CLONE_NEWPID, "CLONE_NEWPID", "--pid"},
	{NSUTS, syscall.CLONE_NEWUTS, "CLONE_NEWUTS", "--uts"},
	{NSMount, syscall.CLONE_NEWNS, "CLONE_NEWNS", "--mount"},
	{NSIPC, syscall.CLONE_NEWIPC, "CLONE_NEWIPC", "--ipc"},
	{NSNet, syscall.CLONE_NEWNET, "CLONE_NEWNET", "--net"},
	{NSUser, syscall.CLONE_NEWUSER, "CLONE_NEWUSER", "--user --map-root-user"},
}

func cloneFlags(ns []Namespace) uintptr {
	var f uintptr
	for _, c := range cloneNamespaces {
		if slices.Contains(ns, c.ns) {
			f |= c.flag
		}
	}
	return f
}

type cloneText struct{ action, shell string }

func describeClone(ns []Namespace) cloneText {
	var flags, opts []string
	for _, c := range cloneNamespaces {
		if slices.Contains(ns, c.ns) {
			flags, opts = append(flags, c.name), append(opts, c.option)
		}
	}
	if len(flags) == 0 {
		return cloneText{"SIGCHLD", "kcna-lab init  # no new namespaces"}
	}
	return cloneText{strings.Join(flags, "|"), "unshare " + strings.Join(opts, " ") + " --fork"}
}

// explainCloneError turns EPERM/ENOSPC from clone into the setting that
// caused it.
func explainCloneError(err error, ns []Namespace) error {
	if slices.Contains(ns, NSUser) {
		if blocked := UserNamespaceBlocked(); blocked != nil {
			return fmt.Errorf("create namespaces: %w; %w", err, blocked)
		}
	}
	if errors.Is(err, syscall.EPERM) && os.Geteuid() != 0 {
		return fmt.Errorf("create namespaces: %w; the kernel refused an unprivileged user namespace: run `kcna-lab doctor` to see which setting blocks it", err)
	}
	return fmt.Errorf("create namespaces (%s): %w", namesOf(ns), err)
}

// readEvents turns the init's reports into events for the sink, in the
// words of the plan it was sent, keeping its result.
func (sb *Sandbox) readEvents(r io.ReadCloser) {
	defer close(sb.events)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4<<10), 1<<20) // report lines are short
	for sc.Scan() {
		rep, err := initproc.ParseReport(sc.Bytes())
		if err != nil {
			continue
		}
		switch rep.Kind {
		case initproc.ReportReady:
			sb.readyOnce.Do(func() { close(sb.ready) })
		case initproc.ReportFail:
			sb.initErr = rep.Text
		case initproc.ReportExit:
			res := rep.Result()
			sb.initResult = &res // the parent emits the final result itself
		default:
			if e, ok := sb.plan.Load().Event(rep); ok {
				e.Time = time.Now()
				sb.sink.Emit(e)
			}
		}
	}
}

// sample emits the cgroup's usage a few times a second, for the gauges.
func (sb *Sandbox) sample() {
	defer sb.sampled.Done()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-sb.stopSample:
			return
		case <-t.C:
			for _, m := range sb.group.Sample() {
				m := m
				sb.sink.Emit(event.Event{Time: time.Now(), Kind: event.KindMetric, Metric: &m})
			}
		}
	}
}

// watch stops the sandbox when ctx ends: SIGTERM to the init, which passes
// it on to the command, then SIGKILL after a grace period.
func (sb *Sandbox) watch(ctx context.Context) {
	select {
	case <-sb.stopWatch:
		return
	case <-ctx.Done():
	}
	_ = sb.proc.Signal(syscall.SIGTERM)
	select {
	case <-sb.stopWatch:
	case <-time.After(3 * time.Second):
		_ = sb.proc.Signal(syscall.SIGKILL)
	}
}

// Signal sends sig to the sandbox's init, which forwards it to the command.
func (sb *Sandbox) Signal(sig os.Signal) error { return sb.proc.Signal(sig) }

// CPUStat reads the sandbox's cpu.stat (throttling counters), if it has
// a cgroup.
func (sb *Sandbox) CPUStat() (map[string]int64, error) {
	if sb.group == nil {
		return nil, errors.New("this sandbox has no cgroup")
	}
	return sb.group.CPUStat()
}

// PID is the init's PID on the host.
func (sb *Sandbox) PID() int { return sb.proc.Pid() }

// Isolate is the set of namespaces the sandbox has.
func (sb *Sandbox) Isolate() []Namespace { return slices.Clone(sb.spec.Isolate) }

// Cgroups are the sandbox's cgroup directories (one per v1 controller, or
// one on v2); none when it has no cgroup.
func (sb *Sandbox) Cgroups() []string {
	if sb.group == nil {
		return nil
	}
	return sb.group.Paths()
}

// Unjoined are the controllers of memory and pids for which the kernel
// keeps no count of this sandbox's own (cgroup.UnjoinedWhy says why);
// none when it keeps both, or it has no cgroup.
func (sb *Sandbox) Unjoined() []string {
	if sb.group == nil {
		return nil
	}
	return sb.group.Unjoined()
}

// Wait waits for the command to end, reports the result and removes
// everything the sandbox created. Calling it again, from any goroutine,
// returns the same result.
func (sb *Sandbox) Wait() (Result, error) {
	sb.waitOnce.Do(func() { sb.result, sb.resultErr = sb.wait() })
	return sb.result, sb.resultErr
}

func (sb *Sandbox) wait() (Result, error) {
	ws, waitErr := sb.proc.Wait()
	close(sb.stopWatch)
	<-sb.events
	close(sb.stopSample)
	sb.sampled.Wait()
	if sb.relay != nil {
		sb.relay.finish()
	}
	if sb.spec.Tty {
		reclaimTerminal()
	}

	var res Result
	switch {
	case sb.initResult != nil:
		res = *sb.initResult
	case waitErr == nil:
		res = initproc.ResultOf(unix.WaitStatus(ws))
	default:
		res = Result{ExitCode: 1}
	}
	var err error
	if sb.initErr != "" && sb.initResult == nil {
		if res.ExitCode == initproc.ExitFailed {
			err = fmt.Errorf("build the sandbox: %s", sb.initErr)
		} else {
			err = errors.New(sb.initErr)
		}
	} else if sb.initResult == nil && waitErr != nil {
		err = waitErr
	}
	if sb.group != nil {
		if n, oerr := sb.group.OOMKills(); oerr == nil && n > 0 {
			res.OOMKilled = true
			sb.sink.Emit(event.Event{Time: time.Now(), Kind: event.KindOOM, Text: fmt.Sprintf("the kernel's OOM killer ended %d process(es): the cgroup hit its memory limit of %d bytes", n, sb.spec.Limits.MemoryBytes)})
		}
	}
	if err == nil {
		r := res
		sb.sink.Emit(event.Event{Time: time.Now(), Kind: event.KindResult, Result: &r})
	}
	if sb.spec.Diff != nil && sb.layers != nil && err == nil {
		// The command and every process of its PID namespace are gone,
		// so the writable layer no longer changes.
		if derr := sb.spec.Diff(sb.layers.Upper); derr != nil {
			err = fmt.Errorf("read the writable layer %s: %w", sb.layers.Upper, derr)
		}
	}
	if cerr := sb.cleanup(); cerr != nil && err == nil {
		err = cerr
	}
	return res, err
}

// cleanup undoes everything in the journal, newest first.
func (sb *Sandbox) cleanup() error {
	var err error
	sb.cleanupMu.Do(func() {
		if sb.proc != nil {
			// Wait returns at once for an init already waited for.
			_ = sb.proc.Signal(syscall.SIGKILL)
			_, _ = sb.proc.Wait()
		}
		if err := sb.detachNetwork(); err != nil {
			event.Narrate(sb.sink, fmt.Sprintf("Taking %s off its bridge: %v (kcna-lab clean retries).", sb.Name, err))
		}
		if sb.group != nil {
			_ = sb.group.Destroy(sb.sink)
		}
		if sb.journal != nil {
			err = sb.journal.Rollback(Undo)
		}
	})
	return err
}

// reclaimTerminal puts kcna-lab's own process group back in the
// terminal's foreground after a shell that held it.
func reclaimTerminal() {
	signalIgnoreTTOU(func() {
		_ = unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, unix.Getpgrp())
	})
}

// outputWriter turns the command's output into output events.
type outputWriter struct {
	sink   event.Sink
	stream string
}

func (w *outputWriter) Write(p []byte) (int, error) {
	w.sink.Emit(event.Event{Time: time.Now(), Kind: event.KindOutput, Stream: w.stream, Text: string(p)})
	return len(p), nil
}

// childInit is an init this process started and waits for itself.
type childInit struct {
	cmd  *exec.Cmd
	once sync.Once
	ws   syscall.WaitStatus
	err  error
}

func (c *childInit) Pid() int { return c.cmd.Process.Pid }

// Signal does nothing once the init has been waited for: its PID may
// belong to another process by then.
func (c *childInit) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Wait reaps the init once; an exit status is a result, not an error.
func (c *childInit) Wait() (syscall.WaitStatus, error) {
	c.once.Do(func() {
		err := c.cmd.Wait()
		if c.cmd.ProcessState != nil {
			c.ws, _ = c.cmd.ProcessState.Sys().(syscall.WaitStatus)
			return
		}
		c.err = err
	})
	return c.ws, c.err
}

// heldTerminal gives a --tty sandbox that the network holder starts a
// pseudo-terminal of its own, as exec -t does. The holder runs in a
// session of its own, so the learner's terminal, which controls the
// learner's session, cannot become the sandbox's controlling terminal (no
// job control, ^C lost); a fresh pty can, in a new session (setsid,
// TIOCSCTTY), and kcna-lab copies bytes between the two.
func (sb *Sandbox) heldTerminal(cmd *exec.Cmd) {
	in, ok := sb.spec.Stdin.(*os.File)
	if !sb.spec.Tty || !ok {
		return
	}
	relay, err := newPTYRelay(in, 0) // no init yet: a pty from the host's devpts
	if err != nil {
		return // not a terminal: the files are passed as they are
	}
	sb.relay = relay
	cmd.Stdin, cmd.Stdout, cmd.Stderr = relay.peer, relay.peer, relay.peer
	a := cmd.SysProcAttr
	a.Setsid, a.Setctty, a.Ctty = true, true, 0
	a.Setpgid, a.Foreground = false, false
}
