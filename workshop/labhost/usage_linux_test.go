package labhost

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeLabRoot makes a lab's root as Usage reads it: run/kcna-lab/sandboxes
// and a /proc with one live sandbox init (PID 7).
func fakeLabRoot(t *testing.T) (root, sandboxes string) {
	t.Helper()
	root = t.TempDir()
	sandboxes = filepath.Join(root, "run", "kcna-lab", "sandboxes")
	if err := os.MkdirAll(sandboxes, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "proc", "7"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc", "7", "stat"), []byte("7 (sh) S"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, sandboxes
}

// TestUsageReadsAHardLinkedStateOnce: a student who hard-links one
// state.json into a thousand sandbox directories of their /run costs the
// sample one read of it, and one of over MaxStateFile none (before the
// bounds, 1000 links to a 4 MB file took ~39 s to sample).
func TestUsageReadsAHardLinkedStateOnce(t *testing.T) {
	root, sandboxes := fakeLabRoot(t)
	small := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(small, []byte(`{"name":"web","args":["sh"],"init_pid":7}`), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(root, "big.json")
	if err := os.WriteFile(big, append([]byte(`{"name":"big","init_pid":7,"args":["`), make([]byte, 4<<20)...), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		d := filepath.Join(sandboxes, fmt.Sprintf("sb%04d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		src := big
		if i%2 == 0 {
			src = filepath.Join(root, "small.json")
			if i == 0 {
				copyFile(t, small, src)
			}
		}
		if err := os.Link(src, filepath.Join(d, "state.json")); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	got := sandboxesIn(root, time.Now().Add(time.Minute))
	took := time.Since(start)
	if len(got) != 1 || got[0].Name != "web" {
		t.Errorf("sandboxes = %+v, want the one web (one inode, read once)", got)
	}
	if took > time.Second {
		t.Errorf("the sample took %v, want well under a second", took)
	}
	if got := sandboxesIn(root, time.Now().Add(-time.Second)); len(got) != 0 {
		t.Errorf("past its deadline the sample still read %+v", got)
	}
}

// TestUsageStaysOnTheLabsRun: a state.json that is not a regular file of
// the lab's /run mount (a bind mount of the student's, a fifo) is not
// opened for reading.
func TestUsageStaysOnTheLabsRun(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	root, sandboxes := fakeLabRoot(t)
	state := `{"name":"%s","args":["sh"],"init_pid":7}`
	mounted := filepath.Join(sandboxes, "mounted")
	if err := os.Mkdir(mounted, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mounted, "tmpfs", 0, "size=64k"); err != nil {
		t.Skipf("mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(mounted, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(mounted, "state.json"), fmt.Appendf(nil, state, "mounted"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(sandboxes, "fifo")
	if err := os.Mkdir(fifo, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(fifo, "state.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(sandboxes, "plain")
	if err := os.Mkdir(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(plain, "state.json"), fmt.Appendf(nil, state, "plain"), 0o644); err != nil {
		t.Fatal(err)
	}
	got := sandboxesIn(root, time.Now().Add(5*time.Second))
	var names []string
	for _, sb := range got {
		names = append(names, sb.Name)
	}
	if strings.Join(names, ",") != "plain" {
		t.Errorf("sandboxes = %v, want only plain (not the one on another mount, not the fifo)", names)
	}
}
