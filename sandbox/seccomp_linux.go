//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/seccomp"
	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// seccompFilter compiles the sandbox's seccomp profile for the bounding
// set its processes get, here in kcna-lab, so that the init only has to
// load the program; nil when the sandbox runs unconfined. Either way it
// tells the learner what that means.
func (sb *Sandbox) seccompFilter(cfg *initproc.Config) (*initproc.SeccompFilter, error) {
	if sb.seccomp == nil {
		event.Narrate(sb.sink, "No seccomp filter (--seccomp unconfined): every system call reaches the kernel, checked only by capabilities and the namespaces, as under docker run --security-opt seccomp=unconfined.")
		return nil, nil
	}
	if err := SeccompUnavailable(); err != nil {
		if sb.seccomp.Name != seccomp.Default {
			return nil, fmt.Errorf("--seccomp %s: %w", sb.seccomp.Name, err)
		}
		// As Docker does on a kernel without seccomp: its default profile
		// is left out, a profile asked for by name is an error.
		event.Narrate(sb.sink, "No seccomp filter: "+err.Error()+". Docker runs its containers without its default profile where the kernel has no seccomp, and kcna-lab does so here.")
		return nil, nil
	}
	bounding := cfg.Bounding()
	cache := ""
	if dir, err := CacheDir(); err == nil {
		cache = filepath.Join(dir, "seccomp")
	}
	c, err := sb.seccomp.CompileCached(bounding, cache)
	if err != nil {
		return nil, err
	}
	f := c.Filter
	event.Narrate(sb.sink, describeFilter(sb.seccomp, c, len(bounding)))
	shell := "docker run --security-opt seccomp=" + sb.seccomp.Name
	if sb.seccomp.Name == seccomp.Default {
		shell = "docker run --security-opt seccomp=default.json (Docker's own profile, which it applies when none is named)"
	}
	return &initproc.SeccompFilter{Program: f.Encode(), Flags: f.Flags, Shell: shell}, nil
}

// SeccompUnavailable says why sandboxes here cannot have a seccomp
// filter, or nil when they can: kcna-lab must know the architecture's
// system calls, and the kernel must take filters. It asks the kernel as
// runc does: a filter given at address 0 is refused with EFAULT by a
// kernel that has them (and loads nothing), with EINVAL by one built
// without CONFIG_SECCOMP_FILTER.
func SeccompUnavailable() error {
	if err := seccomp.Supported(); err != nil {
		return err
	}
	err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, 0, 0, 0)
	if errors.Is(err, unix.EINVAL) {
		return errors.New("this kernel has no seccomp filters (it was built without CONFIG_SECCOMP_FILTER)")
	}
	return nil
}

// describeFilter says what the compiled program does, in numbers the
// learner can check against the profile.
func describeFilter(p *seccomp.Profile, c *seccomp.Compiled, caps int) string {
	what := "Docker's default seccomp profile"
	if p.Name != seccomp.Default {
		what = "The seccomp profile " + p.Name
	}
	f := c.Filter
	n := f.Native
	compiled := "is compiled here"
	if c.Cached {
		compiled = "was compiled by an earlier run (kcna-lab keeps the program in its cache, keyed by the profile, capabilities, architecture, kernel release and kcna-lab build)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s, resolved for this sandbox's %d capabilities, %s into %d BPF instructions for %s programs. Of the %d %s system calls kcna-lab knows by name, %d are allowed",
		what, caps, compiled, len(f.Program), strings.Join(f.ABIs, ", "), n.Calls, f.ABIs[0], n.Allowed)
	if len(n.ByArgument) > 0 {
		fmt.Fprintf(&b, ", %s only with certain arguments", strings.Join(n.ByArgument, ", "))
	}
	fmt.Fprintf(&b, ", %d %s", n.Default, defaultAnswer(c.DefaultAction, c.DefaultErrnoRet))
	if len(n.Other) > 0 {
		fmt.Fprintf(&b, ", %s get their own answer from the profile", strings.Join(n.Other, ", "))
	}
	if n.Newer > 0 {
		fmt.Fprintf(&b, "; calls newer than any the profile names (%d of them) fail with ENOSYS, as if the kernel lacked them", n.Newer)
	}
	b.WriteString(". The init loads it last, once no_new_privs is set; every process in the sandbox inherits it, and a call from another architecture is killed.")
	return b.String()
}

// defaultAnswer is what a call the profile does not allow gets.
func defaultAnswer(action specs.LinuxSeccompAction, errnoRet *uint) string {
	switch action {
	case specs.ActErrno:
		errno := unix.EPERM
		if errnoRet != nil {
			errno = syscall.Errno(*errnoRet)
		}
		if name := unix.ErrnoName(errno); name != "" {
			return "fail with " + name
		}
		return fmt.Sprintf("fail with errno %d", errno)
	case specs.ActAllow:
		return "are allowed too, by the default action"
	}
	return "get the default action, " + string(action)
}
