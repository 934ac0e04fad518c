package labhost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// cgroupPrefix names a student's cgroup inside kcna-lab's (kcna-lab/
// kcna-student-NAME), where `kcna-lab clean` knows to sweep it.
const cgroupPrefix = "kcna-student-"

// wanted are the controllers a quota uses.
var wanted = []string{"memory", "pids", "cpu"}

// cgroups is a lab's place in the server's cgroups: one delegated v2
// directory, or on a v1 host one directory per controller, set from here.
type cgroups struct {
	v2dir       string
	fd          int // v2dir opened, for CLONE_INTO_CGROUP; -1 when none
	v1dirs      []string
	controllers []string
	// memFile is where the kernel reports the lab's memory in use.
	memFile string
}

// makeCgroups creates the student's cgroups with the quota, journaled. On
// pure cgroup v2 the directory is delegated to the lab's root (id), as
// systemd delegates to a user: it owns the directory and the files that
// let it make and fill children, not the ones that set its own limits.
func makeCgroups(name string, q Quota, id int, j *journal.Journal) (*cgroups, error) {
	h, err := cgroup.Detect()
	if err != nil {
		return nil, fmt.Errorf("the students' quotas need cgroups: %w", err)
	}
	cg := &cgroups{fd: -1}
	if h.Mode() == "v2" {
		return cg, cg.makeV2(h, name, q, id, j)
	}
	return cg, cg.makeV1(h, name, q, j)
}

func (cg *cgroups) makeV2(h *cgroup.Host, name string, q Quota, id int, j *journal.Journal) error {
	root := h.V2Root()
	parent := filepath.Join(root, "kcna-lab")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("make %s: %w", parent, err)
	}
	for c, v := range h.Controllers() {
		if v == cgroup.V2 {
			cg.controllers = append(cg.controllers, c)
		}
	}
	if len(cg.controllers) < len(wanted) {
		return fmt.Errorf("the students' quotas need the memory, pids and cpu controllers in %s/cgroup.controllers; this host offers %v", root, cg.controllers)
	}
	enable := "+" + strings.Join(cg.controllers, " +")
	for _, d := range []string{root, parent} {
		if err := writeFile(filepath.Join(d, "cgroup.subtree_control"), enable); err != nil {
			return err
		}
	}
	dir := filepath.Join(parent, cgroupPrefix+name)
	if err := j.Record(journal.Entry{Kind: journal.Cgroup, Path: dir, Shell: "rmdir " + dir}); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("make the student's cgroup %s: %w", dir, err)
	}
	cg.v2dir = dir
	cg.memFile = filepath.Join(dir, "memory.current")
	if err := setQuota(q, func(ctl, file, v string) error { return writeFile(filepath.Join(dir, file), v) }); err != nil {
		return err
	}
	if q.MemoryBytes > 0 {
		// No swap beyond the quota: swapped pages would escape it.
		if err := writeFile(filepath.Join(dir, "memory.swap.max"), "0"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for _, f := range []string{".", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"} {
		if err := os.Chown(filepath.Join(dir, f), id, id); err != nil {
			return fmt.Errorf("delegate %s to the lab: %w", dir, err)
		}
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	cg.fd = fd
	return nil
}

// makeV1 is the quota on a v1 (or hybrid) host: v1 cannot be delegated
// into a user namespace safely, so the server sets and keeps the limits
// and the lab gets no cgroups of its own.
func (cg *cgroups) makeV1(h *cgroup.Host, name string, q Quota, j *journal.Journal) error {
	dirs := map[string]string{}
	for _, c := range wanted {
		mnt := h.V1Mount(c)
		if mnt == "" {
			continue
		}
		dir := filepath.Join(mnt, "kcna-lab", cgroupPrefix+name)
		if _, seen := dirs[c]; seen {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return fmt.Errorf("make %s: %w", filepath.Dir(dir), err)
		}
		if err := j.Record(journal.Entry{Kind: journal.Cgroup, Path: dir, Shell: "rmdir " + dir}); err != nil {
			return err
		}
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("make the student's cgroup %s: %w", dir, err)
		}
		dirs[c] = dir
		cg.v1dirs = append(cg.v1dirs, dir)
	}
	if d, ok := dirs["memory"]; ok {
		cg.memFile = filepath.Join(d, "memory.usage_in_bytes")
	}
	err := setQuota(q, func(ctl, file, v string) error {
		d, ok := dirs[ctl]
		if !ok {
			return fmt.Errorf("cannot set the students' %s quota: no %s controller on this host", ctl, ctl)
		}
		return writeFile(filepath.Join(d, v1File(file)), v)
	})
	if err != nil || q.MemoryBytes <= 0 {
		return err
	}
	// Memory and swap together no more than memory alone, where the
	// kernel accounts swap (swapaccount=1).
	memsw := filepath.Join(dirs["memory"], "memory.memsw.limit_in_bytes")
	if err := writeFile(memsw, strconv.FormatInt(q.MemoryBytes, 10)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// setQuota writes the quota's limits, named as on v2.
func setQuota(q Quota, set func(ctl, file, value string) error) error {
	if q.MemoryBytes > 0 {
		if err := set("memory", "memory.max", strconv.FormatInt(q.MemoryBytes, 10)); err != nil {
			return err
		}
	}
	if q.Pids > 0 {
		if err := set("pids", "pids.max", strconv.Itoa(q.Pids)); err != nil {
			return err
		}
	}
	if q.CPUs > 0 {
		quota := int64(q.CPUs * cgroup.CPUPeriod)
		if err := set("cpu", "cpu.max", fmt.Sprintf("%d %d", quota, cgroup.CPUPeriod)); err != nil {
			return err
		}
	}
	return nil
}

// v1File is the v1 file for a v2 limit; cpu.max is written as two files,
// handled by writeFile.
func v1File(v2 string) string {
	switch v2 {
	case "memory.max":
		return "memory.limit_in_bytes"
	case "cpu.max":
		return "cpu.cfs_quota_us+cpu.cfs_period_us"
	}
	return v2
}

// writeFile writes one cgroup file whole (cgroupfs takes each write(2) as
// one value). "a+b" writes the two v1 cpu files, period first.
func writeFile(path, value string) error {
	if dir, name := filepath.Split(path); strings.Contains(name, "+") {
		files := strings.SplitN(name, "+", 2)
		f := strings.Fields(value) // "quota period"
		if err := writeFile(dir+files[1], f[1]); err != nil {
			return err
		}
		return writeFile(dir+files[0], f[0])
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %s = %s: %w", path, value, err)
	}
	return nil
}

func (cg *cgroups) delegated() bool { return cg.v2dir != "" }

// initLeaf is the leaf of a delegated lab cgroup that holds the lab's own
// processes (its two init stages), so the lab's cgroup root holds none and
// can hand controllers down to the lab's sandboxes.
const initLeaf = "lab.init"

// nest moves the lab's first stage (pid) into the leaf its PID 1 made and
// enables the controllers below the lab's cgroup root.
func (cg *cgroups) nest(pid int) error {
	if cg.v2dir == "" {
		return nil
	}
	if err := writeFile(filepath.Join(cg.v2dir, initLeaf, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
		return err
	}
	return writeFile(filepath.Join(cg.v2dir, "cgroup.subtree_control"), "+"+strings.Join(cg.controllers, " +"))
}

func (cg *cgroups) v2fd() int { return cg.fd }

// placeV1 moves the lab's init into the v1 cgroups before it runs
// anything (it waits for its config, sent after this).
func (cg *cgroups) placeV1(pid int) error {
	for _, d := range cg.v1dirs {
		if err := writeFile(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

func (cg *cgroups) closeFD() {
	if cg.fd >= 0 {
		_ = unix.Close(cg.fd)
		cg.fd = -1
	}
}
