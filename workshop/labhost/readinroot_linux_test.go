package labhost

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestReadInRootKeepsToTheStudentsFiles: whatever a student links in
// their own directory, the server reads only regular files below it,
// and only so much of them.
func TestReadInRootKeepsToTheStudentsFiles(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.json")
	if err := os.WriteFile(secret, []byte(`{"version":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "state"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "state", "progress.json"), []byte(`{"version":1,"lessons":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadInRoot(root, "state/progress.json"); err != nil || !strings.Contains(string(b), "lessons") {
		t.Fatalf("the student's own file: %q, %v", b, err)
	}
	links := map[string]string{
		"abs.json":      secret,                                    // an absolute link out
		"rel.json":      "../../../../../../../" + secret,          // a relative one
		"zero.json":     "/dev/zero",                               // endless
		"dirlink":       outside,                                   // a directory out
		"self.json":     filepath.Join(root, "state", "self.json"), // a loop
		"proc-out.json": "/proc/self/root" + secret,                // a magic link
	}
	for name, to := range links {
		if err := os.Symlink(to, filepath.Join(root, "state", name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, rel := range []string{"state/abs.json", "state/rel.json", "state/zero.json", "state/dirlink/secret.json", "state/self.json", "state/proc-out.json"} {
		if b, err := ReadInRoot(root, rel); err == nil {
			t.Errorf("%s read %q from outside the student's root", rel, b)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(root, "state", "fifo.json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInRoot(root, "state/fifo.json"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a fifo: %v, want refused as not a regular file", err)
	}
	big := filepath.Join(root, "state", "big.json")
	if err := os.WriteFile(big, make([]byte, MaxStudentFile+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadInRoot(root, "state/big.json"); err == nil {
		t.Error("a file over MaxStudentFile was read")
	}
}
