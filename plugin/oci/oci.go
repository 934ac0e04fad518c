// Package oci describes a kcna-lab sandbox in the terms of the Open
// Container Initiative's runtime specification: the config.json of an OCI
// bundle, built with the spec's own Go types
// (github.com/opencontainers/runtime-spec/specs-go), that asks a runtime
// such as runc for what kcna-lab does itself. Explain says, field by
// field, which of kcna-lab's kernel steps each part of that file stands
// for, and WriteBundle writes a bundle that runc can run.
package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/atomicfile"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/kernel/seccomp"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// nsTypes maps kcna-lab's namespace names to the runtime spec's types,
// in the order kcna-lab lists them.
var nsTypes = []struct {
	ns  sandbox.Namespace
	typ specs.LinuxNamespaceType
}{
	{sandbox.NSPid, specs.PIDNamespace},
	{sandbox.NSUTS, specs.UTSNamespace},
	{sandbox.NSMount, specs.MountNamespace},
	{sandbox.NSIPC, specs.IPCNamespace},
	{sandbox.NSNet, specs.NetworkNamespace},
	{sandbox.NSUser, specs.UserNamespace},
	{sandbox.NSCgroup, specs.CgroupNamespace},
	// Time namespaces entered the runtime spec in 1.2.0 (and runc in 1.2).
	{sandbox.NSTime, specs.TimeNamespace},
}

// NamespaceType is the runtime spec's name for a kcna-lab namespace
// ("mnt" is "mount", "net" is "network").
func NamespaceType(n sandbox.Namespace) (specs.LinuxNamespaceType, bool) {
	for _, t := range nsTypes {
		if t.ns == n {
			return t.typ, true
		}
	}
	return "", false
}

// defaultEnv is the environment kcna-lab gives a command when Spec.Env is
// nil (resolve in sandbox/start_linux.go).
func defaultEnv(hostname string) []string {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "HOSTNAME=" + hostname, "PS1=[sandbox \\h \\w]# "}
	if t := os.Getenv("TERM"); t != "" {
		env = append(env, "TERM="+t)
	}
	return env
}

// Config is the OCI runtime configuration (a bundle's config.json) that
// asks a runtime for what kcna-lab does for spec, with rootfs as root.path
// ("" leaves the bundle's conventional "rootfs"). It is checked as kcna-lab
// checks a Spec before it starts; what has no place in config.json is an
// error that says where it lives instead.
func Config(spec sandbox.Spec, rootfs string) (*specs.Spec, error) {
	if err := representable(spec); err != nil {
		return nil, err
	}
	isolate := spec.Isolate
	if isolate == nil {
		var err error
		if isolate, err = defaultIsolation(); err != nil {
			return nil, err
		}
	}
	has := func(n sandbox.Namespace) bool { return slices.Contains(isolate, n) }
	if !has(sandbox.NSMount) {
		return nil, errors.New("pivot_root needs a mount namespace, and an OCI runtime always switches root with it: add mnt to --isolate")
	}
	rootless := os.Geteuid() != 0
	if rootless && !has(sandbox.NSUser) {
		return nil, errors.New("as a non-root user kcna-lab needs a user namespace to create the others: add user to --isolate (or run with sudo)")
	}
	caps, err := capabilities(spec.CapDrop)
	if err != nil {
		return nil, err
	}
	hostname := spec.Hostname
	if hostname == "" {
		hostname = spec.Name
	}
	if hostname == "" {
		hostname = "sandbox"
	}
	env := spec.Env
	if env == nil {
		env = defaultEnv(hostname)
	}
	if rootfs == "" {
		rootfs = "rootfs"
	}
	// kcna-lab keeps its shared, cached default root filesystem read-only;
	// a directory or archive the learner gives is theirs to write.
	readOnly := spec.Rootfs == ""

	cfg := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Terminal: spec.Tty,
			User:     specs.User{UID: 0, GID: 0},
			Args:     slices.Clone(spec.Args),
			Env:      slices.Clone(env),
			Cwd:      "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding:  caps,
				Effective: slices.Clone(caps),
				Permitted: slices.Clone(caps),
			},
			NoNewPrivileges: true,
		},
		Root: &specs.Root{Path: rootfs, Readonly: readOnly},
		Linux: &specs.Linux{
			MaskedPaths:   sandbox.MaskedPaths(),
			ReadonlyPaths: sandbox.ReadonlyPaths(),
		},
	}
	if has(sandbox.NSUTS) {
		// A runtime refuses a hostname without a UTS namespace of its own.
		cfg.Hostname = hostname
	}
	cfg.Mounts, err = mounts(spec, has, readOnly)
	if err != nil {
		return nil, err
	}
	for _, t := range nsTypes {
		if has(t.ns) {
			cfg.Linux.Namespaces = append(cfg.Linux.Namespaces, specs.LinuxNamespace{Type: t.typ})
		}
	}
	if has(sandbox.NSUser) {
		uid, gid, size := uint32(sandbox.RootMapBase), uint32(sandbox.RootMapBase), uint32(65536)
		if rootless {
			uid, gid, size = uint32(os.Geteuid()), uint32(os.Getegid()), 1
		}
		cfg.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: size}}
		cfg.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: size}}
	}
	cfg.Linux.Resources, err = resources(spec.Limits)
	if err != nil {
		return nil, err
	}
	cfg.Linux.Seccomp, err = seccompProfile(spec.Seccomp, caps)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

// seccompProfile is linux.seccomp: the profile resolved for the bounding
// set as Docker resolves it before it writes config.json, every rule
// spelt out for the runtime (runc compiles it with libseccomp); nil when
// unconfined.
func seccompProfile(value string, bounding []string) (*specs.LinuxSeccomp, error) {
	p, err := seccomp.Load(value)
	if err != nil || p == nil {
		return nil, err
	}
	return p.Resolve(bounding)
}

// representable refuses what a config.json cannot say.
func representable(spec sandbox.Spec) error {
	switch {
	case spec.Escape:
		return errors.New("the chroot-escape program is kcna-lab's own lesson tool; config.json can only name a command from the root filesystem")
	case spec.Hold || len(spec.Args) == 0:
		return errors.New("no command: process.args must name the program the runtime starts, e.g. -- /bin/sh")
	case spec.Root == sandbox.RootChroot:
		return errors.New("--root chroot has no config.json field: an OCI runtime always uses pivot_root in its own mount namespace (runc's --no-pivot flag is the escapable exception); leave --root out")
	case spec.Overlay || len(spec.Layers) > 0:
		return errors.New("--overlay and --layer have no config.json field: a high-level runtime (containerd, CRI-O, podman) mounts an image's layers with overlayfs and passes the merged directory to the OCI runtime as root.path; leave them out, or pass the merged directory with --rootfs")
	}
	l := spec.Limits
	if l.MemoryBytes < 0 || l.Pids < 0 || l.CPUs < 0 || math.IsNaN(l.CPUs) || math.IsInf(l.CPUs, 0) {
		return errors.New("--memory, --cpus and --pids must be positive")
	}
	return nil
}

// capabilities is kcna-lab's default set minus drop, as CAP_* names.
func capabilities(drop []string) ([]string, error) {
	def, err := defaultCapabilities()
	if err != nil {
		return nil, err
	}
	dropped := map[string]bool{}
	for _, name := range drop {
		if _, err := sandbox.CapabilityBit(name); err != nil {
			return nil, err
		}
		dropped[capName(name)] = true
	}
	var out []string
	for _, c := range def {
		if n := capName(c); !dropped[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// capName turns "net_raw", "NET_RAW" or "cap_net_raw" into "CAP_NET_RAW",
// the form config.json uses.
func capName(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	if !strings.HasPrefix(s, "CAP_") {
		s = "CAP_" + s
	}
	return s
}

// mounts are kcna-lab's mounts, in the order it makes them.
func mounts(spec sandbox.Spec, has func(sandbox.Namespace) bool, readOnly bool) ([]specs.Mount, error) {
	ms := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "nodev", "noexec"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=65536k"}},
	}
	if has(sandbox.NSIPC) {
		ms = append(ms, specs.Mount{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "nodev", "noexec"}})
	}
	if has(sandbox.NSNet) {
		// sysfs shows the network namespace of whoever mounts it; kcna-lab
		// leaves /sys empty without one of its own.
		ms = append(ms, specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "nodev", "noexec", "ro"}})
	}
	if readOnly {
		for _, d := range sandbox.ScratchDirs() {
			mode := "mode=755"
			if d == "/tmp" {
				mode = "mode=1777"
			}
			ms = append(ms, specs.Mount{Destination: d, Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", mode, "size=64m"}})
		}
	}
	for _, v := range spec.Volumes {
		host, err := filepath.Abs(v.Host)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(host)
		if err != nil {
			return nil, fmt.Errorf("--volume %s: %w", v.Host, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("--volume %s: not a directory; volumes are directories", v.Host)
		}
		opts := []string{"rbind"}
		if v.ReadOnly {
			opts = append(opts, "ro")
		}
		ms = append(ms, specs.Mount{Destination: v.Target, Type: "bind", Source: host, Options: opts})
	}
	return ms, nil
}

// resources are the cgroup limits; nil when there are none.
func resources(l sandbox.Limits) (*specs.LinuxResources, error) {
	if l.Zero() {
		return nil, nil
	}
	// The same checks kcna-lab makes before it creates a cgroup.
	if err := l.Validate(); err != nil {
		return nil, err
	}
	r := &specs.LinuxResources{}
	if l.MemoryBytes > 0 {
		limit := l.MemoryBytes
		// memory.swap is memory plus swap: equal to the limit means no
		// swap, which kcna-lab sets too (memory.swap.max 0, or v1's
		// memory.memsw.limit_in_bytes = the limit).
		swap := l.MemoryBytes
		r.Memory = &specs.LinuxMemory{Limit: &limit, Swap: &swap}
	}
	if l.CPUs > 0 {
		quota := l.Quota()
		period := uint64(cgroup.CPUPeriod)
		r.CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	if l.Pids > 0 {
		pids := l.Pids
		r.Pids = &specs.LinuxPids{Limit: &pids}
	}
	return r, nil
}

// Mapping ties one field of config.json to what kcna-lab does for it.
type Mapping struct {
	// Field is the field's path, e.g. "linux.namespaces[pid]" or
	// "mounts[/proc]".
	Field string
	// Value is the field's value, short, e.g. "67108864"; "" when the
	// field's presence says it all.
	Value string
	// Step is the kernel step kcna-lab takes for it, as its trace shows
	// it, e.g. "clone(CLONE_NEWPID)".
	Step string
	// Trace are substrings of the Action of the step event kcna-lab emits
	// for it (any one is enough); nil when no single event shows it, such
	// as the uid map that Go writes during clone.
	Trace []string
}

// Explain maps each interesting field of cfg to kcna-lab's step for it,
// in the order the fields appear in config.json.
func Explain(cfg *specs.Spec) []Mapping {
	var out []Mapping
	add := func(m Mapping) { out = append(out, m) }
	if p := cfg.Process; p != nil {
		// The init, PID 1, forks and execs the command (runc makes the
		// command PID 1 itself).
		add(Mapping{Field: "process.args", Value: strings.Join(p.Args, " "), Step: "fork+execve by kcna-lab's init"})
		add(Mapping{Field: "process.env", Value: fmt.Sprintf("%d variables", len(p.Env)), Step: "execve's envp"})
		add(Mapping{Field: "process.cwd", Value: p.Cwd, Step: `chdir("/") after pivot_root`, Trace: []string{`chdir("/")`}})
		if p.Terminal {
			add(Mapping{Field: "process.terminal", Value: "true", Step: "tcsetpgrp: take the terminal"})
		}
		add(Mapping{Field: "process.user", Value: fmt.Sprintf("uid %d gid %d", p.User.UID, p.User.GID), Step: "runs as root, uid 0, inside"})
		if c := p.Capabilities; c != nil {
			add(Mapping{Field: "process.capabilities.bounding", Value: strconv.Itoa(len(c.Bounding)),
				Step: "prctl(PR_CAPBSET_DROP) the others", Trace: []string{"PR_CAPBSET_DROP"}})
			add(Mapping{Field: "process.capabilities.effective", Value: strconv.Itoa(len(c.Effective)),
				Step: "capset(effective=these)", Trace: []string{"capset("}})
			add(Mapping{Field: "process.capabilities.permitted", Value: strconv.Itoa(len(c.Permitted)),
				Step: "capset(permitted=these)", Trace: []string{"capset("}})
		}
		if p.NoNewPrivileges {
			add(Mapping{Field: "process.noNewPrivileges", Value: "true", Step: "prctl(PR_SET_NO_NEW_PRIVS, 1)", Trace: []string{"PR_SET_NO_NEW_PRIVS"}})
		}
	}
	if r := cfg.Root; r != nil {
		add(Mapping{Field: "root.path", Value: r.Path, Step: `bind it, pivot_root(".", ".")`, Trace: []string{`pivot_root(".", ".")`}})
		if r.Readonly {
			add(Mapping{Field: "root.readonly", Value: "true", Step: "remount the root MS_RDONLY", Trace: []string{`/root", MS_REMOUNT|MS_BIND|MS_RDONLY)`}})
		}
	}
	if cfg.Hostname != "" {
		add(Mapping{Field: "hostname", Value: cfg.Hostname, Step: fmt.Sprintf("sethostname(%q)", cfg.Hostname), Trace: []string{fmt.Sprintf("sethostname(%q)", cfg.Hostname)}})
	}
	isolated := func(t specs.LinuxNamespaceType) bool {
		return cfg.Linux != nil && slices.ContainsFunc(cfg.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == t })
	}
	for _, m := range cfg.Mounts {
		out = append(out, explainMount(m, isolated(specs.PIDNamespace)))
	}
	l := cfg.Linux
	if l == nil {
		return out
	}
	for _, n := range l.Namespaces {
		add(explainNamespace(n.Type))
	}
	for _, m := range l.UIDMappings {
		add(Mapping{Field: "linux.uidMappings", Value: idMap(m), Step: "clone writes /proc/PID/uid_map"})
	}
	for _, m := range l.GIDMappings {
		add(Mapping{Field: "linux.gidMappings", Value: idMap(m), Step: "clone writes /proc/PID/gid_map"})
	}
	if r := l.Resources; r != nil {
		if m := r.Memory; m != nil && m.Limit != nil {
			n := strconv.FormatInt(*m.Limit, 10)
			add(Mapping{Field: "linux.resources.memory.limit", Value: n, Step: "write memory.max (v1: memory.limit_in_bytes)",
				Trace: []string{"memory.max = " + n, "memory.limit_in_bytes = " + n}})
			if m.Swap != nil {
				s := strconv.FormatInt(*m.Swap, 10)
				add(Mapping{Field: "linux.resources.memory.swap", Value: s, Step: "write memory.swap.max 0 (v1: memory.memsw.limit_in_bytes)",
					Trace: []string{"memory.swap.max = 0", "memory.memsw.limit_in_bytes = " + s}})
			}
		}
		if c := r.CPU; c != nil && c.Quota != nil && c.Period != nil {
			q, p := strconv.FormatInt(*c.Quota, 10), strconv.FormatUint(*c.Period, 10)
			add(Mapping{Field: "linux.resources.cpu.quota+period", Value: q + " " + p, Step: "write cpu.max (v1: cpu.cfs_quota_us, cpu.cfs_period_us)",
				Trace: []string{"cpu.max = " + q + " " + p, "cpu.cfs_quota_us = " + q}})
		}
		if p := r.Pids; p != nil && p.Limit != nil {
			n := strconv.FormatInt(*p.Limit, 10)
			add(Mapping{Field: "linux.resources.pids.limit", Value: n, Step: "write pids.max", Trace: []string{"pids.max = " + n}})
		}
	}
	if s := l.Seccomp; s != nil {
		add(Mapping{Field: "linux.seccomp", Value: fmt.Sprintf("%s, %d rules", s.DefaultAction, len(s.Syscalls)),
			Step: "seccomp(SECCOMP_SET_MODE_FILTER), the init's last step", Trace: []string{"seccomp(SECCOMP_SET_MODE_FILTER"}})
	}
	if len(l.MaskedPaths) > 0 {
		var trace []string
		for _, p := range l.MaskedPaths {
			trace = append(trace, fmt.Sprintf(`mount("/dev/null", %q`, p), fmt.Sprintf(`mount("tmpfs", %q`, p))
		}
		add(Mapping{Field: "linux.maskedPaths", Value: fmt.Sprintf("%d paths", len(l.MaskedPaths)),
			Step: "/dev/null or empty tmpfs over each", Trace: trace})
	}
	if len(l.ReadonlyPaths) > 0 {
		var trace []string
		for _, p := range l.ReadonlyPaths {
			trace = append(trace, fmt.Sprintf(`mount(%q, %q, MS_BIND)`, p, p))
		}
		add(Mapping{Field: "linux.readonlyPaths", Value: fmt.Sprintf("%d paths", len(l.ReadonlyPaths)),
			Step: "bind each, remount it MS_RDONLY", Trace: trace})
	}
	return out
}

func idMap(m specs.LinuxIDMapping) string {
	return fmt.Sprintf("%d %d %d", m.ContainerID, m.HostID, m.Size)
}

func explainNamespace(t specs.LinuxNamespaceType) Mapping {
	m := Mapping{Field: fmt.Sprintf("linux.namespaces[%s]", t)}
	flag := map[specs.LinuxNamespaceType]string{
		specs.PIDNamespace: "CLONE_NEWPID", specs.UTSNamespace: "CLONE_NEWUTS", specs.MountNamespace: "CLONE_NEWNS",
		specs.IPCNamespace: "CLONE_NEWIPC", specs.NetworkNamespace: "CLONE_NEWNET", specs.UserNamespace: "CLONE_NEWUSER",
		specs.CgroupNamespace: "CLONE_NEWCGROUP", specs.TimeNamespace: "CLONE_NEWTIME",
	}[t]
	switch {
	case flag == "":
		m.Step = "no such namespace in kcna-lab"
	case t == specs.CgroupNamespace:
		m.Step = "unshare(CLONE_NEWCGROUP)" // once the init is in its cgroup
		m.Trace = []string{"unshare(CLONE_NEWCGROUP)"}
	case t == specs.TimeNamespace:
		m.Step = "unshare(CLONE_NEWTIME) + offsets"
		m.Trace = []string{"unshare(CLONE_NEWTIME)"}
	default:
		m.Step = "clone(" + flag + ")"
		m.Trace = []string{flag}
	}
	return m
}

func explainMount(m specs.Mount, pidns bool) Mapping {
	e := Mapping{Field: "mounts[" + m.Destination + "]", Value: m.Type}
	switch {
	case m.Type == "bind" || slices.Contains(m.Options, "rbind") || slices.Contains(m.Options, "bind"):
		e.Value = m.Source
		e.Step = fmt.Sprintf("mount --rbind %s %s", m.Source, m.Destination)
		if slices.Contains(m.Options, "ro") {
			e.Step += ", remount ro"
		}
		e.Trace = []string{m.Destination + `", MS_BIND|MS_REC)`}
	case m.Destination == "/proc" && !pidns:
		// Without a PID namespace kcna-lab binds the host's /proc: a new
		// proc instance would show the same processes, but a user
		// namespace may not mount one.
		e.Step = "mount --rbind /proc /proc"
		e.Trace = []string{`/proc", MS_BIND|MS_REC)`}
	default:
		e.Step = fmt.Sprintf("mount -t %s %s %s", m.Type, m.Source, m.Destination)
		if m.Destination == "/dev" {
			e.Step += " + devices" // null, zero, full, random, urandom, tty bound from the host
		}
		e.Trace = []string{fmt.Sprintf(`%s", %q`, m.Destination, m.Type)}
	}
	return e
}

// PrepareRootfs returns the root filesystem spec runs in, prepared as
// kcna-lab prepares it: the default one, built once into the cache dir and
// owned by the user namespace's root (uid 100000 when running as root) so
// that root inside may use it; a directory, as it is; or a .tar[.gz]
// archive, unpacked into dst (an empty or missing directory, typically the
// bundle's "rootfs"), which an archive needs.
func PrepareRootfs(spec sandbox.Spec, dst string, sink event.Sink) (string, error) {
	if sink == nil {
		sink = event.Discard
	}
	isolate := spec.Isolate
	if isolate == nil {
		var err error
		if isolate, err = defaultIsolation(); err != nil {
			return "", err
		}
	}
	owner := -1
	if os.Geteuid() == 0 && slices.Contains(isolate, sandbox.NSUser) {
		owner = sandbox.RootMapBase
	}
	cache, err := sandbox.CacheDir()
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(spec.Rootfs); spec.Rootfs != "" && err == nil && !fi.IsDir() {
		if dst == "" {
			return "", fmt.Errorf("the --rootfs archive %s must be unpacked into a bundle: add --bundle DIR, and it is unpacked into DIR/rootfs", spec.Rootfs)
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return "", err
		}
	}
	return rootfs.Prepare(spec.Rootfs, cache, dst, owner, owner, sink)
}

// RootPath is the root filesystem a bundle's config names: root.path, taken
// relative to the bundle directory when it is not absolute.
func RootPath(bundle string, cfg *specs.Spec) string {
	if cfg.Root == nil || cfg.Root.Path == "" {
		return ""
	}
	if filepath.IsAbs(cfg.Root.Path) {
		return cfg.Root.Path
	}
	return filepath.Join(bundle, cfg.Root.Path)
}

// ReadBundle parses dir/config.json as an OCI runtime configuration.
func ReadBundle(dir string) (*specs.Spec, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg specs.Spec
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON for an OCI runtime spec: %w", path, err)
	}
	if cfg.Version == "" {
		return nil, fmt.Errorf("%s has no ociVersion: an OCI runtime config starts with the spec version it follows, e.g. \"ociVersion\": %q", path, specs.Version)
	}
	return &cfg, nil
}

// WriteBundle makes dir an OCI bundle of cfg: it writes dir/config.json
// atomically (a temporary file renamed into place, so a runtime never reads
// half of one) with root.path set to rootfs, or leaves cfg's root.path when
// rootfs is "". cfg itself is not changed.
//
// The root filesystem is not copied: root.path names it by its absolute
// path (the runtime spec allows that), because kcna-lab's default root
// filesystem is built once into the cache and shared read-only, and the
// runtime only bind-mounts it. A directory inside the bundle, such as an
// archive unpacked into dir/rootfs, is named relative to it, "rootfs", as
// `runc spec` does. root.path must not be or pass through a symbolic
// link, which runc refuses ("invalid rootfs: not an absolute path, or a
// symlink"), so links are resolved here.
func WriteBundle(dir string, cfg *specs.Spec, rootfs string) error {
	if cfg == nil {
		return errors.New("write bundle: no config")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return fmt.Errorf("create the bundle directory: %w", err)
	}
	c := *cfg
	if rootfs != "" {
		root, err := filepath.Abs(rootfs)
		if err != nil {
			return err
		}
		if root, err = filepath.EvalSymlinks(root); err != nil {
			return fmt.Errorf("root filesystem %s: %w", rootfs, err)
		}
		if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
			return fmt.Errorf("root filesystem %s: not a directory", rootfs)
		}
		path := root
		if bundle, err := filepath.EvalSymlinks(abs); err == nil && filepath.Dir(root) == bundle {
			path = filepath.Base(root)
		}
		r := specs.Root{Path: path}
		if cfg.Root != nil {
			r.Readonly = cfg.Root.Readonly
		}
		c.Root = &r
	}
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(abs, "config.json"), append(b, '\n'), 0o644)
}
