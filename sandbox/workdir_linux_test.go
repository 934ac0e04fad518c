//go:build linux

package sandbox_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestWorkdirAndDiff: Spec.Dir is the command's working directory, made
// in the writable layer when the image lacks it, by either init (a pids
// limit makes the Go init run the plan); Spec.Diff sees the writable
// layer after the command ended, holding what it wrote, and the layer
// is removed afterwards.
func TestWorkdirAndDiff(t *testing.T) {
	needRoot(t)
	leaveNoTrace(t)
	for _, c := range []struct {
		name   string
		limits sandbox.Limits
	}{{"default init", sandbox.Limits{}}, {"go init", sandbox.Limits{Pids: 64}}} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			var upper string
			var seen []string
			spec := sandbox.Spec{
				Args: []string{"sh", "-c", "pwd; echo hi > note"}, Dir: "/work/here", Overlay: true, Limits: c.limits,
				Stdout: &out, Stderr: &out,
				Diff: func(dir string) error {
					upper = dir
					return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
						if err == nil && p != dir {
							rel, _ := filepath.Rel(dir, p)
							seen = append(seen, rel)
						}
						return err
					})
				},
			}
			res, err := sandbox.Run(context.Background(), spec, nil)
			if err != nil || res.ExitCode != 0 {
				t.Fatalf("run: %v, exit %d: %s", err, res.ExitCode, out.String())
			}
			if got := strings.TrimSpace(out.String()); got != "/work/here" {
				t.Errorf("pwd printed %q; want /work/here", got)
			}
			if want := "work work/here work/here/note"; strings.Join(seen, " ") != want {
				t.Errorf("the writable layer held %q; want %q", seen, want)
			}
			if _, err := os.Stat(upper); !os.IsNotExist(err) {
				t.Errorf("the writable layer %s is still there after the run (%v)", upper, err)
			}
		})
	}
	if _, err := sandbox.Run(context.Background(), sandbox.Spec{Args: []string{"true"}, Dir: "relative"}, nil); err == nil || !strings.Contains(err.Error(), "must be absolute") {
		t.Errorf("a relative Dir: %v; want a refusal", err)
	}
	if _, err := sandbox.Run(context.Background(), sandbox.Spec{Args: []string{"true"}, Diff: func(string) error { return nil }}, nil); err == nil || !strings.Contains(err.Error(), "needs Overlay") {
		t.Errorf("a Diff without Overlay: %v; want a refusal", err)
	}
}
