package demos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/mountinfo"
	"github.com/kcna-lab/kcna-lab/kernel/overlay"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Lesson 13, storage: what a sandbox writes to its writable layer goes
// with it; what it writes to a volume, a host directory mounted inside,
// stays on the host and can be shared.

func storageDemos() []Demo {
	return []Demo{{
		ID:         "volumes",
		Title:      "Writable layer vs volume: what survives a stop, and one volume shared live",
		Run:        runVolumes,
		Blocked:    func(r sandbox.Report) string { return needsOverlay(r, sandbox.NSMount, sandbox.NSPid) },
		ShellFlags: []string{"--name", "lab-storage", "--keep", "--overlay"},
	}}
}

func storageChecks() []Check {
	return []Check{
		{ID: "keep-the-data", Verify: checkKeepTheData},
		{ID: "share-a-volume", Verify: checkShareAVolume},
	}
}

func runVolumes(ctx context.Context, sink event.Sink) error {
	vol, err := volumeDir()
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(vol) }()
	name := demoName("store")
	spec := sandbox.Spec{Name: name, Overlay: true, Volumes: []sandbox.Volume{{Host: vol, Target: "/data"}}}
	event.Narrate(sink, fmt.Sprintf("Start sandbox %s with a writable layer (overlayfs, as every container has) and a volume: the host directory %s bind-mounted at /data. It writes one file to each.", name, vol))
	_, stop, err := held(ctx, spec, sink)
	if err != nil {
		return err
	}
	defer stop()
	st, err := sandbox.Find(name)
	if err != nil {
		return err
	}
	box, err := inside(ctx, name, "sh", "-c", `echo "in the layer" > /layer.txt && echo "in the volume" > /data/volume.txt && ls -ln /layer.txt /data/volume.txt && awk '$5 == "/" || $5 == "/data" { for (i = 7; $i != "-"; i++) ; print $3, $4, $5, $(i+1) }' /proc/self/mountinfo`)
	if err != nil {
		return err
	}
	upper := overlay.Open(st.Layers.Dir, st.Layers.Lower).Upper
	host := []string{"ls -ln " + upper + ":"}
	host = append(host, lsLines(upper)...)
	host = append(host, "ls -ln "+vol+":")
	host = append(host, lsLines(vol)...)
	event.SideBySide(sink, "Two writes, two places: the writable layer's upper dir and the volume's host dir", host, box)
	event.Narrate(sink, "Inside, both are ordinary files of one tree, but the mount table tells them apart: / is the overlay whose upper dir lives in the sandbox's state dir, /data is a bind mount of a host directory (major:minor and the path on that device).")

	stop()
	layer := "is removed with it: " + upper + " no longer exists"
	if _, err := os.Stat(upper); err == nil {
		layer = "should be removed with it, but " + upper + " is still there"
	}
	event.Narrate(sink, fmt.Sprintf("Stop %s. Its upper dir %s. Start a new sandbox from the same image with the same volume:", name, layer))
	_, stop2, err := held(ctx, spec, sink)
	if err != nil {
		return err
	}
	defer stop2()
	again, _, err := sandbox.ExecOutput(ctx, name, "sh", "-c", "cat /layer.txt; cat /data/volume.txt")
	if err != nil {
		return err
	}
	volFile := filepath.Join(vol, "volume.txt")
	owner := "?"
	if fi, err := os.Stat(volFile); err == nil {
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			owner = strconv.Itoa(int(s.Uid))
		}
	}
	event.SideBySide(sink, "After a stop and a fresh start", []string{"stat " + volFile, "owner uid " + owner + " as the host sees it"}, lines(again))
	event.Narrate(sink, fmt.Sprintf("/layer.txt is gone: a new container starts with an empty writable layer. /data/volume.txt is still there, because it never left the host: %s holds it, owned by host uid %s%s.", vol, owner, ownerNote(vol)))
	stop2()

	w, r := demoName("writer"), demoName("reader")
	shared := []sandbox.Volume{{Host: vol, Target: "/shared"}}
	event.Narrate(sink, fmt.Sprintf("Now two running sandboxes, %s and %s, with the same volume at /shared.", w, r))
	_, stopW, err := held(ctx, sandbox.Spec{Name: w, Volumes: shared}, sink)
	if err != nil {
		return err
	}
	defer stopW()
	_, stopR, err := held(ctx, sandbox.Spec{Name: r, Volumes: shared}, sink)
	if err != nil {
		return err
	}
	defer stopR()
	wrote, err := inside(ctx, w, "sh", "-c", "echo \"written by $(hostname)\" > /shared/live.txt && stat -c '%i %s bytes' /shared/live.txt")
	if err != nil {
		return err
	}
	read, err := inside(ctx, r, "sh", "-c", "cat /shared/live.txt && stat -c '%i %s bytes' /shared/live.txt")
	if err != nil {
		return err
	}
	columns(sink, "One volume, two sandboxes, live", w+": echo > /shared/live.txt", wrote, r+": cat /shared/live.txt", read)
	event.Narrate(sink, "The reader sees the writer's file at once, the same inode: both mounts are views of one host directory, not copies. That is how two containers of a pod share an emptyDir, and how pods on one node share a volume. A ReadWriteMany volume used from several nodes is not one directory: it is a network file system (NFS, CephFS, a cloud file share) that each node mounts, and the file server keeps the nodes' views in step.")
	event.Narrate(sink, "What a volume costs in isolation: the directory is shared with the host. Whatever the sandbox writes lands on the host's disk outside its layer and its cleanup; anything on the host that can write the directory can change data under the sandbox; and mounting a sensitive host path read-write (/etc, a runtime's socket) hands it to the sandbox. Mount only what the workload needs, read-only (:ro) where it only reads.")
	return nil
}

// volumeDir makes a host directory for the demo's volume under /var/tmp
// (a t.TempDir-like dir under /tmp may sit below 0700 parents the
// sandbox's root cannot pass), 0755 and owned by the sandbox's root as
// the host sees it, so that root inside may write it.
func volumeDir() (string, error) {
	dir, err := os.MkdirTemp("/var/tmp", "kcna-vol-")
	if err != nil {
		return "", fmt.Errorf("make a volume dir under /var/tmp: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	if uid := volumeWriter(dir); uid != os.Geteuid() {
		if err := os.Chown(dir, uid, uid); err != nil {
			_ = os.RemoveAll(dir)
			return "", fmt.Errorf("give %s to the sandbox's root (host uid %d): %w", dir, uid, err)
		}
	}
	return dir, nil
}

// volumeWriter is the host uid as which root inside a sandbox writes
// into a volume of dir (sandbox.VolumeWriter).
func volumeWriter(dir string) int { return sandbox.VolumeWriter(dir) }

func ownerNote(dir string) string {
	switch {
	case volumeWriter(dir) == sandbox.RootMapBase:
		return fmt.Sprintf(", which is root inside the sandbox: its user namespace maps uid 0 to %d", sandbox.RootMapBase)
	case os.Geteuid() == 0 && slices.Contains(sandbox.DefaultIsolation(), sandbox.NSUser):
		return fmt.Sprintf(": the volume is an idmapped mount, which shows uid %d's files as root's inside and stores root's writes as uid %d", volumeWriter(dir), volumeWriter(dir))
	}
	return ""
}

// lsLines lists a directory's entries as "uid name size", or the error.
func lsLines(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return []string{"  " + err.Error()}
	}
	var out []string
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			continue
		}
		uid := -1
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid = int(s.Uid)
		}
		out = append(out, fmt.Sprintf("  %s %d %s", fi.Mode(), uid, e.Name()))
	}
	if len(out) == 0 {
		out = []string{"  (empty)"}
	}
	return out
}

// dataDirs are the learner's ~/kcna-data dirs: under the home of the user who
// ran sudo first, as the oci-bundle check looks for ~/kcna-bundle.
func dataDirs() ([]string, error) {
	homes, err := bundleHomes()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, h := range homes {
		out = append(out, filepath.Join(h, "kcna-data"))
	}
	return out, nil
}

// sandboxWritten finds the first of paths that exists, and says whether
// its owner is the sandbox's root as the host sees it.
func sandboxWritten(paths []string) (path string, uid int, fromSandbox bool, err error) {
	for _, p := range paths {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return p, -1, false, err
		}
		s, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return p, -1, false, fmt.Errorf("stat %s: no owner", p)
		}
		return p, int(s.Uid), int(s.Uid) == volumeWriter(filepath.Dir(p)), nil
	}
	return "", -1, false, nil
}

func checkKeepTheData(context.Context) (Verdict, error) {
	dirs, err := dataDirs()
	if err != nil {
		return Verdict{}, err
	}
	var files []string
	for _, d := range dirs {
		files = append(files, filepath.Join(d, "notes.txt"))
	}
	p, uid, ok, err := sandboxWritten(files)
	switch {
	case err != nil:
		return Verdict{}, err
	case p == "":
		return fail("there is no %s yet: run a sandbox called notes with %s mounted as a volume and write notes.txt into it", files[0], dirs[0])
	case !ok:
		return fail("%s belongs to host uid %d, not to the sandbox's root (host uid %d): it was written from the host, not from inside a sandbox; remove it and write it from sandbox notes", p, uid, volumeWriter(filepath.Dir(p)))
	}
	if fi, _ := os.Stat(p); fi != nil && fi.Size() == 0 {
		return fail("%s is empty: write something into it from inside sandbox notes", p)
	}
	if _, err := sandbox.Find("notes"); err == nil {
		return fail("%s is there, but sandbox notes still runs: stop it (kcna-lab stop notes) to show the data outlives it", p)
	}
	return pass("%s is on the host, written by the sandbox's root (host uid %d), and sandbox notes is gone: the data outlived the container because it lived in a volume", p, uid)
}

// volumeMounts lists the bind mounts of a sandbox's init that come from
// the host: not its root filesystem, nor /proc, /dev and /sys, nor the
// resolver file.
func volumeMounts(pid int) ([]mountinfo.Mount, error) {
	ms, err := mountinfo.Read(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if err != nil {
		return nil, err
	}
	var out []mountinfo.Mount
	for _, m := range ms {
		if m.Point == "/" || m.Point == "/etc/resolv.conf" || underAny(m.Point, "/proc", "/dev", "/sys") {
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

func underAny(p string, dirs ...string) bool {
	for _, d := range dirs {
		if mountinfo.Within(d, p) {
			return true
		}
	}
	return false
}

func checkShareAVolume(ctx context.Context) (Verdict, error) {
	const start = "kcna-lab run --detach --name %s --volume ~/kcna-shared:/shared"
	var mounts [2][]mountinfo.Mount
	for i, name := range []string{"writer", "reader"} {
		st, v := running(name, fmt.Sprintf(start, name))
		if v != nil {
			return *v, nil
		}
		ms, err := volumeMounts(st.InitPID)
		if err != nil {
			return Verdict{}, err
		}
		mounts[i] = ms
	}
	var w, r *mountinfo.Mount
	for i := range mounts[0] {
		for j := range mounts[1] {
			if mounts[0][i].Device == mounts[1][j].Device && mounts[0][i].Root == mounts[1][j].Root {
				w, r = &mounts[0][i], &mounts[1][j]
				break
			}
		}
		if w != nil {
			break
		}
	}
	if w == nil {
		return fail("writer and reader have no host directory in common (compared device and path of their mounts in /proc/PID/mountinfo): start both with the same --volume HOST:PATH")
	}
	// A file in it, written from inside writer: root inside owns it. As
	// root with a user namespace, a file the host's root made shows as the
	// overflow uid (nobody) there instead.
	listing, _, err := sandbox.ExecOutput(ctx, "writer", "sh", "-c", "cd "+shellQuote(w.Point)+" && for f in * .[!.]*; do [ -f \"$f\" ] && stat -c '%u %i %n' \"$f\"; done; true")
	if err != nil {
		return Verdict{}, err
	}
	var file, inode string
	for _, l := range lines(listing) {
		f := strings.SplitN(l, " ", 3)
		if len(f) == 3 && f[0] == "0" {
			inode, file = f[1], f[2]
			break
		}
	}
	if file == "" {
		return fail("writer and reader share %s (writer's %s, reader's %s), but no file in it was written from inside writer yet: kcna-lab exec writer -- sh -c 'echo hello > %s/hello.txt'", w.Root, w.Point, r.Point, w.Point)
	}
	seen, res, err := sandbox.ExecOutput(ctx, "reader", "stat", "-c", "%i", r.Point+"/"+file)
	if err != nil {
		return Verdict{}, err
	}
	if res.ExitCode != 0 || strings.TrimSpace(seen) != inode {
		return fail("writer wrote %s/%s (inode %s), but reader does not see it at %s/%s: %s", w.Point, file, inode, r.Point, file, strings.TrimSpace(seen))
	}
	return pass("writer's %s and reader's %s are one host directory (%s on device %s); %s, written in writer, is the same inode %s in reader", w.Point, r.Point, w.Root, w.Device, file, inode)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
