// Package cgroup puts sandboxed processes into control groups and sets their
// memory, CPU and process-count limits by writing plain files under
// /sys/fs/cgroup, exactly as a learner could with echo.
//
// Hosts differ. On cgroup v1 every controller has its own hierarchy (its own
// mount), so a sandbox gets one directory per controller. On cgroup v2 there is
// one unified hierarchy and one directory. Hybrid hosts mount both: each
// controller lives in exactly one of them, and a sandbox gets a directory in
// the unified hierarchy (without controllers there) plus one in the v1
// hierarchy of each controller it is limited by. Host records, per
// controller, where it lives; Group hides the difference behind one API.
// A v2 directory can be cloned into (CloneInto), which is far cheaper than
// moving a process in.
package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/kcna-lab/kcna-lab/kernel/mountinfo"
)

// Version is a cgroup hierarchy version.
type Version int

// The two cgroup versions.
const (
	V1 Version = 1
	V2 Version = 2
)

// String gives "v1" or "v2".
func (v Version) String() string {
	switch v {
	case V1:
		return "v1"
	case V2:
		return "v2"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// Root is where cgroup hierarchies are mounted. Detect only looks here, and
// Remove refuses anything outside it, so kcna-lab never touches a cgroup it
// could not have created.
const Root = "/sys/fs/cgroup"

// parentName is the directory under each hierarchy root that holds every
// sandbox's group. It is shared by concurrent sandboxes and left in place.
const parentName = "kcna-lab"

// wanted are the controllers kcna-lab uses, in the order it reports them.
var wanted = []string{"memory", "cpu", "pids"}

// Host says which controllers live where on this machine.
type Host struct {
	// v1 maps a controller to the mount point of its v1 hierarchy.
	v1 map[string]string
	// anyV1 is true when some v1 hierarchy is mounted (even a named one
	// such as name=systemd); with v2 also mounted the host is hybrid.
	anyV1 bool
	// v2 is the cgroup2 mount point, "" when there is none.
	v2 string
	// v2Avail are the controllers the v2 root offers (its cgroup.controllers).
	v2Avail map[string]bool
	// selfV2 is the calling process's own v2 cgroup ("/user.slice/..."),
	// used only to find a delegated subtree when running rootless.
	selfV2 string
	// euid decides where groups go: as root under the hierarchy root,
	// otherwise under the delegated subtree.
	euid int
}

// mount is one cgroup line of /proc/self/mountinfo.
type mount struct {
	point   string
	fstype  string   // "cgroup" or "cgroup2"
	options []string // super options, e.g. rw,memory
}

// Detect reads /proc/self/mountinfo and /proc/self/cgroup to learn where
// each controller lives.
func Detect() (*Host, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("detect cgroups: %w", err)
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("detect cgroups: %w", err)
	}
	h := build(parseMountinfo(mi), self, os.ReadFile)
	h.euid = os.Geteuid()
	if !h.anyV1 && h.v2 == "" {
		return nil, fmt.Errorf("detect cgroups: no cgroup filesystem is mounted under %s", Root)
	}
	return h, nil
}

// build assembles a Host from parsed mounts and the contents of
// /proc/self/cgroup; readFile reads the v2 root's cgroup.controllers.
func build(mounts []mount, selfCgroup []byte, readFile func(string) ([]byte, error)) *Host {
	h := &Host{v1: map[string]string{}, v2Avail: map[string]bool{}}
	for _, m := range mounts {
		switch m.fstype {
		case "cgroup":
			h.anyV1 = true
			for _, o := range m.options {
				if slices.Contains(wanted, o) {
					if _, seen := h.v1[o]; !seen {
						h.v1[o] = m.point
					}
				}
			}
		case "cgroup2":
			// Prefer the canonical mount if cgroup2 is mounted twice.
			if h.v2 == "" || m.point == Root {
				h.v2 = m.point
			}
		}
	}
	if h.v2 != "" {
		if b, err := readFile(filepath.Join(h.v2, "cgroup.controllers")); err == nil {
			for _, c := range strings.Fields(string(b)) {
				h.v2Avail[c] = true
			}
		}
	}
	h.selfV2 = parseSelfV2(selfCgroup)
	return h
}

// parseMountinfo returns the cgroup and cgroup2 mounts at or under Root.
func parseMountinfo(data []byte) []mount {
	// Only a cgroup or cgroup2 line is parsed: " - " appears in a line
	// only before its filesystem type (mountinfo escapes a path's spaces).
	var lines []byte
	for line := range bytes.Lines(data) {
		if bytes.Contains(line, []byte(" - cgroup")) {
			lines = append(lines, line...)
		}
	}
	ms, _ := mountinfo.Parse(bytes.NewReader(lines)) // a reader of bytes never fails
	var out []mount
	for _, m := range mountinfo.Under(ms, Root) {
		if m.FSType == "cgroup" || m.FSType == "cgroup2" {
			out = append(out, mount{point: m.Point, fstype: m.FSType, options: strings.Split(m.SuperOptions, ",")})
		}
	}
	return out
}

// parseSelfV2 finds the "0::/path" line of /proc/self/cgroup.
func parseSelfV2(data []byte) string {
	for line := range bytes.Lines(data) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(string(line)), "0::"); ok {
			return p
		}
	}
	return ""
}

// Mode is "v1", "v2" or "hybrid" ("none" if nothing is mounted).
func (h *Host) Mode() string {
	switch {
	case h.anyV1 && h.v2 != "":
		return "hybrid"
	case h.anyV1:
		return "v1"
	case h.v2 != "":
		return "v2"
	}
	return "none"
}

// hybrid reports whether both v1 hierarchies and the unified one are mounted.
func (h *Host) hybrid() bool { return h.anyV1 && h.v2 != "" }

// Controllers returns the usable controllers among memory, cpu and pids and
// the version of the hierarchy each lives in. A controller bound to a v1
// hierarchy is absent from v2 (the kernel allows only one), so v1 wins.
func (h *Host) Controllers() map[string]Version {
	out := map[string]Version{}
	for _, c := range wanted {
		if _, ok := h.v1[c]; ok {
			out[c] = V1
		} else if h.v2Avail[c] {
			out[c] = V2
		}
	}
	return out
}

// Usable returns nil if memory, cpu and pids limits can all be set, for root
// or (rootless) for the calling user; otherwise it names what is missing.
func (h *Host) Usable(rootless bool) error {
	ctl := h.Controllers()
	var missing []string
	for _, c := range wanted {
		if _, ok := ctl[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("cgroup controllers missing on this %s host: %s (not mounted as v1 under %s, not in %s)",
			h.Mode(), strings.Join(missing, ", "), Root, h.v2ControllersFile())
	}
	if !rootless {
		return nil
	}
	for _, c := range wanted {
		if ctl[c] == V1 {
			return fmt.Errorf("cgroup v1 cannot be delegated safely (%s lives in a v1 hierarchy); run as root or boot with systemd.unified_cgroup_hierarchy=1", c)
		}
	}
	_, err := h.delegated(wanted)
	return err
}

func (h *Host) v2ControllersFile() string {
	if h.v2 == "" {
		return "a cgroup2 mount"
	}
	return filepath.Join(h.v2, "cgroup.controllers")
}

// delegateHint tells a rootless user how to get controllers delegated.
const delegateHint = `enable systemd delegation: sudo mkdir -p /etc/systemd/system/user@.service.d && ` +
	`printf '[Service]\nDelegate=cpu cpuset io memory pids\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && ` +
	`sudo systemctl daemon-reload, then log in again`

// delegated finds the v2 subtree the calling user may manage: the topmost
// ancestor of its own cgroup that it owns (systemd's user@UID.service when
// Delegate= is on), and checks that ctls reach its children.
func (h *Host) delegated(ctls []string) (string, error) {
	if h.v2 == "" || h.selfV2 == "" {
		return "", errors.New("no cgroup v2 hierarchy to delegate from; boot with systemd.unified_cgroup_hierarchy=1 or run as root")
	}
	var top string
	for p := path.Clean(h.selfV2); p != "/" && p != "."; p = path.Dir(p) {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(h.v2, p), &st); err != nil || int(st.Uid) != h.euid {
			break
		}
		top = p
	}
	if top == "" {
		return "", fmt.Errorf("cgroup v2 is not delegated to you: your cgroup %s is not owned by uid %d; "+
			"run inside a delegated scope (systemd-run --user --scope -p Delegate=yes ...) or %s",
			filepath.Join(h.v2, h.selfV2), h.euid, delegateHint)
	}
	dir := filepath.Join(h.v2, top)
	sc := filepath.Join(dir, "cgroup.subtree_control")
	b, err := os.ReadFile(sc)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", sc, err)
	}
	have := strings.Fields(string(b))
	var lack []string
	for _, c := range ctls {
		if !slices.Contains(have, c) {
			lack = append(lack, c)
		}
	}
	if len(lack) > 0 {
		return "", fmt.Errorf("cgroup v2 controllers are not delegated to you: %s lacks %s; %s",
			sc, strings.Join(lack, ", "), delegateHint)
	}
	return dir, nil
}

// V2Root is the cgroup2 mount point, "" when there is none.
func (h *Host) V2Root() string { return h.v2 }

// V1Mount is the mount point of ctl's v1 hierarchy, "" when ctl is not on v1.
func (h *Host) V1Mount(ctl string) string { return h.v1[ctl] }
