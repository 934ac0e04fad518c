package oci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// ErrNoRunc says runc is not installed, and how to install it.
var ErrNoRunc = errors.New("runc is not installed (looked on PATH and in /usr/sbin, /usr/bin, /usr/local/sbin, /usr/local/bin): install it with `sudo apt-get install runc` (Debian, Ubuntu) or `sudo dnf install runc` (Fedora)")

// Runc finds the runc binary: on PATH, else where packages put it (sudo's
// PATH or a minimal one may leave out /usr/sbin).
func Runc() (string, error) {
	if p, err := exec.LookPath("runc"); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"} {
		p := filepath.Join(dir, "runc")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", ErrNoRunc
}

// RuncFeatures asks runc what it supports (`runc features`, runc 1.1 and
// later).
func RuncFeatures(ctx context.Context, runc string) (*features.Features, error) {
	out, err := exec.CommandContext(ctx, runc, "features").Output()
	if err != nil {
		return nil, fmt.Errorf("%s features: %w", runc, err)
	}
	var f features.Features
	if err := json.Unmarshal(out, &f); err != nil {
		return nil, fmt.Errorf("%s features: %w", runc, err)
	}
	return &f, nil
}

// Adapt takes out of cfg the namespaces a runtime does not know, as its
// features report them, and returns what it took out as field paths, e.g.
// "linux.namespaces[time]" for runc before 1.2, which refuses a config
// that asks for one, or "linux.seccomp" for a runc built without
// libseccomp. A nil f is a runtime too old to report its features (runc
// before 1.1), which knows no time namespace either.
func Adapt(cfg *specs.Spec, f *features.Features) []string {
	if cfg.Linux == nil {
		return nil
	}
	known := func(t specs.LinuxNamespaceType) bool {
		if f == nil || f.Linux == nil || f.Linux.Namespaces == nil {
			return t != specs.TimeNamespace
		}
		return slices.Contains(f.Linux.Namespaces, string(t))
	}
	var dropped []string
	cfg.Linux.Namespaces = slices.DeleteFunc(cfg.Linux.Namespaces, func(n specs.LinuxNamespace) bool {
		if known(n.Type) {
			return false
		}
		dropped = append(dropped, fmt.Sprintf("linux.namespaces[%s]", n.Type))
		return true
	})
	if s := cfg.Linux.Seccomp; s != nil && f != nil && f.Linux != nil && f.Linux.Seccomp != nil && f.Linux.Seccomp.Enabled != nil && !*f.Linux.Seccomp.Enabled {
		cfg.Linux.Seccomp = nil
		dropped = append(dropped, "linux.seccomp")
	}
	return dropped
}

// RunBundle runs the bundle's container as id with `runc run`, which is
// create and start in one and deletes the container when its process
// ends, and returns runc's exit status: the process's own, or 1 when runc
// itself failed (it says why on stderr). Cancelling ctx sends runc
// SIGTERM, which it passes on to the container's process. Call Cleanup
// afterwards whatever happened.
func RunBundle(ctx context.Context, runc, bundle, id string, stdout, stderr io.Writer) (int, error) {
	cmd := exec.CommandContext(ctx, runc, "run", "--bundle", bundle, id)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s run: %w", runc, err)
	}
	return 0, nil
}

// Cleanup makes sure runc keeps nothing of the container id: it runs
// `runc delete --force` (a container already gone is fine), removes any
// cgroup directory named id that runc left, and returns what is still
// there. It works on its own deadline, so that a cancelled ctx still
// cleans up.
func Cleanup(ctx context.Context, runc, id string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	del := exec.CommandContext(ctx, runc, "delete", "--force", id)
	del.Stderr = &stderr
	delErr := del.Run()
	if delErr != nil && strings.Contains(stderr.String(), "does not exist") {
		delErr = nil
	}
	if delErr != nil {
		delErr = fmt.Errorf("runc delete --force %s: %w: %s", id, delErr, strings.TrimSpace(stderr.String()))
	}
	// runc removes the cgroup it made; should one survive (a runc killed
	// halfway), remove it, deepest first. Only a kcna- name is touched.
	if strings.HasPrefix(id, "kcna-") {
		dirs := CgroupDirs(id)
		slices.Reverse(dirs)
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	}
	return Leftovers(ctx, runc, id), delErr
}

// Leftovers lists what still exists of the container id: runc's state for
// it (`runc state` still answers) and cgroup directories named id.
func Leftovers(ctx context.Context, runc, id string) []string {
	var left []string
	if out, err := exec.CommandContext(ctx, runc, "state", id).Output(); err == nil {
		left = append(left, fmt.Sprintf("runc state %s still answers: %s", id, strings.Join(strings.Fields(string(out)), " ")))
	}
	for _, d := range CgroupDirs(id) {
		left = append(left, "cgroup "+d)
	}
	return left
}

// CgroupDirs finds directories named id anywhere under /sys/fs/cgroup:
// where runc puts a container's cgroup when config.json has no
// cgroupsPath depends on the cgroup version and on runc's own cgroup.
func CgroupDirs(id string) []string {
	var out []string
	_ = filepath.WalkDir("/sys/fs/cgroup", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() && d.Name() == id {
			out = append(out, path)
			return fs.SkipDir
		}
		return nil
	})
	return out
}
