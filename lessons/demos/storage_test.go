//go:build linux

package demos

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/mountinfo"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// volumeDirs lists the demos' volume dirs now on the host.
func volumeDirs() []string {
	m, _ := filepath.Glob("/var/tmp/kcna-vol-*")
	return m
}

// newVolumeDir is the one volume dir that was not in before.
func newVolumeDir(t *testing.T, before []string) string {
	t.Helper()
	var fresh []string
	for _, d := range volumeDirs() {
		if !contains(before, d) {
			fresh = append(fresh, d)
		}
	}
	if len(fresh) != 1 {
		t.Fatalf("want one new volume dir under /var/tmp, found %v", fresh)
	}
	return fresh[0]
}

func ownerUID(t *testing.T, p string) int {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Uid)
}

func TestVolumesDemo(t *testing.T) {
	store, w, r := demoName("store"), demoName("writer"), demoName("reader")
	leaveNoTrace(t, nil, store, w, r)
	before := volumeDirs()
	var vol, upper string
	runProbed(t, "volumes", map[string]func(event.Compare){
		"Two writes, two places": func(event.Compare) {
			vol = newVolumeDir(t, before)
			st, err := sandbox.Find(store)
			if err != nil || st.Layers == nil {
				t.Fatalf("%s: %+v %v", store, st, err)
			}
			upper = filepath.Join(st.Layers.Dir, "upper")
			if _, err := os.Stat(filepath.Join(upper, "layer.txt")); err != nil {
				t.Errorf("the writable layer has no layer.txt: %v", err)
			}
			if _, err := os.Stat(filepath.Join(upper, "volume.txt")); err == nil {
				t.Error("volume.txt landed in the writable layer")
			}
			if got := ownerUID(t, filepath.Join(vol, "volume.txt")); got != volumeWriter(vol) {
				t.Errorf("volume.txt on the host belongs to %d, want the sandbox's root as the host sees it, %d", got, volumeWriter(vol))
			}
		},
		"After a stop and a fresh start": func(c event.Compare) {
			// The fresh sandbox has the same name, so its upper dir has the
			// same path; the first one's file must not be in it.
			if _, err := os.Stat(filepath.Join(upper, "layer.txt")); err == nil {
				t.Errorf("layer.txt survived in %s", upper)
			}
			inside := strings.Join(c.Right.Lines, "\n")
			if !strings.Contains(inside, "can't open '/layer.txt'") || !strings.Contains(inside, "in the volume") {
				t.Errorf("the fresh sandbox saw:\n%s\nwant layer.txt gone and volume.txt kept", inside)
			}
		},
		"One volume, two sandboxes": func(event.Compare) {
			var mounts [2]mountinfo.Mount
			for i, name := range []string{w, r} {
				st, err := sandbox.Find(name)
				if err != nil {
					t.Fatal(err)
				}
				ms, err := volumeMounts(st.InitPID)
				if err != nil || len(ms) != 1 || ms[0].Point != "/shared" {
					t.Fatalf("%s's volume mounts: %+v %v", name, ms, err)
				}
				mounts[i] = ms[0]
			}
			if mounts[0].Device != mounts[1].Device || mounts[0].Root != mounts[1].Root {
				t.Errorf("the two mounts are not one directory: %+v %+v", mounts[0], mounts[1])
			}
			if b, err := os.ReadFile(filepath.Join(vol, "live.txt")); err != nil || string(b) != "written by "+w+"\n" {
				t.Errorf("live.txt on the host: %q %v", b, err)
			}
		},
	})
	if _, err := os.Stat(vol); err == nil {
		t.Errorf("the demo left its volume dir %s", vol)
	}
}

// homeFor points the checks' ~ at a fresh home the sandbox's root may
// enter, and returns ~/kcna-data made for it.
func homeFor(t *testing.T) string {
	t.Helper()
	home := openDir(t)
	t.Setenv("HOME", home)
	t.Setenv("SUDO_USER", "")
	data := filepath.Join(home, "kcna-data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, volumeWriter(data), volumeWriter(data)); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestCheckKeepTheData(t *testing.T) {
	leaveNoTrace(t, nil, "notes")
	data := homeFor(t)
	wantVerdict(t, "keep-the-data", false, "there is no "+filepath.Join(data, "notes.txt"))

	// Written from the host: not the point.
	if err := os.WriteFile(filepath.Join(data, "notes.txt"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if volumeWriter(data) != os.Geteuid() {
		wantVerdict(t, "keep-the-data", false, "written from the host")
	}
	if err := os.Remove(filepath.Join(data, "notes.txt")); err != nil {
		t.Fatal(err)
	}

	stop := start(t, sandbox.Spec{Name: "notes", Volumes: []sandbox.Volume{{Host: data, Target: "/data"}}})
	execIn(t, "notes", "echo remember > /data/notes.txt")
	wantVerdict(t, "keep-the-data", false, "sandbox notes still runs")
	stop()
	wantVerdict(t, "keep-the-data", true, "the data outlived the container")
}

func TestCheckShareAVolume(t *testing.T) {
	leaveNoTrace(t, nil, "writer", "reader")
	wantVerdict(t, "share-a-volume", false, "no sandbox called writer")
	one, other := openDir(t), openDir(t)
	for _, d := range []string{one, other} {
		if err := os.Chown(d, volumeWriter(d), volumeWriter(d)); err != nil {
			t.Fatal(err)
		}
	}
	stopW := start(t, sandbox.Spec{Name: "writer", Volumes: []sandbox.Volume{{Host: one, Target: "/shared"}}})
	stopR := start(t, sandbox.Spec{Name: "reader", Volumes: []sandbox.Volume{{Host: other, Target: "/shared"}}})
	wantVerdict(t, "share-a-volume", false, "no host directory in common")
	stopW()
	stopR()

	start(t, sandbox.Spec{Name: "writer", Volumes: []sandbox.Volume{{Host: one, Target: "/shared"}}})
	start(t, sandbox.Spec{Name: "reader", Volumes: []sandbox.Volume{{Host: one, Target: "/data"}}})
	// A file the host made is not the writer's, unless the sandbox's root
	// writes as this very uid (rootless, or an idmapped volume of ours).
	if volumeWriter(one) != os.Geteuid() {
		if err := os.WriteFile(filepath.Join(one, "from-host"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		wantVerdict(t, "share-a-volume", false, "no file in it was written from inside writer")
	}
	execIn(t, "writer", "echo hello > /shared/hello.txt")
	wantVerdict(t, "share-a-volume", true, "hello.txt, written in writer, is the same inode")
}
