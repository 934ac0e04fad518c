//go:build linux

package sandbox_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// benchSpec is what the comparison measures: /bin/true with pid, uts,
// mnt, ipc and net namespaces and pivot_root, as unshare -fpmuin does.
func benchSpec() sandbox.Spec {
	return sandbox.Spec{
		Args:    []string{"/bin/true"},
		Isolate: []sandbox.Namespace{sandbox.NSPid, sandbox.NSUTS, sandbox.NSMount, sandbox.NSIPC, sandbox.NSNet},
		Root:    sandbox.RootPivot,
	}
}

func BenchmarkStartToExit(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	useInitProgram(b)
	for b.Loop() {
		res, err := sandbox.Run(context.Background(), benchSpec(), event.Discard)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("%v %+v", err, res)
		}
	}
}

// TestCompareStartup times start-to-exit of /bin/true in kcna-lab, in
// unshare(1) and in runc on the same root filesystem, and prints medians
// and ratios. `make bench` runs it (KCNA_BENCH=1) after installing runc.
func TestCompareStartup(t *testing.T) {
	if os.Getenv("KCNA_BENCH") != "1" {
		t.Skip("a benchmark: run with KCNA_BENCH=1 (make bench)")
	}
	needRoot(t)
	kind := useInitProgram(t)
	cache, err := sandbox.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	root, err := rootfs.Default(cache, 100000, 100000, event.Discard)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	measure := func(name string, fn func() error) time.Duration {
		var d []time.Duration
		for i := 0; i < n+3; i++ {
			start := time.Now()
			if err := fn(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if i >= 3 { // the first runs warm caches
				d = append(d, time.Since(start))
			}
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	ours := measure("kcna-lab", func() error {
		res, err := sandbox.Run(context.Background(), benchSpec(), event.Discard)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("exit %d", res.ExitCode)
		}
		return err
	})
	unshare := measure("unshare", func() error {
		return exec.Command("unshare", "-fpmuin", "--mount-proc", "-R", root, "/bin/true").Run()
	})
	fmt.Printf("library figure: sandbox.Run in this test process (no process start, no\n"+
		"package initialisation; cmd/kcna-lab's TestCompareProcesses times whole\n"+
		"processes): start to exit of /bin/true, median of %d runs:\n", n)
	fmt.Printf("  kcna-lab  %8.2f ms   (%s)\n", ms(ours), kind)
	fmt.Printf("  unshare   %8.2f ms   kcna-lab/unshare = %.2fx (target <= 1.5x)\n", ms(unshare), float64(ours)/float64(unshare))
	runc, err := exec.LookPath("runc")
	if err != nil {
		fmt.Println("  runc      not installed (make bench installs it with apt-get)")
		return
	}
	bundle := t.TempDir()
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v %s", err, out)
	}
	cfgPath := filepath.Join(bundle, "config.json")
	cfg, _ := os.ReadFile(cfgPath)
	s := strings.Replace(string(cfg), `"path": "rootfs"`, fmt.Sprintf("%q: %q", "path", root), 1)
	s = strings.Replace(s, `"terminal": true`, `"terminal": false`, 1)
	s = strings.Replace(s, `"sh"`, `"/bin/true"`, 1)
	if err := os.WriteFile(cfgPath, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	i := 0
	theirs := measure("runc", func() error {
		i++
		out, err := exec.Command(runc, "run", "--bundle", bundle, fmt.Sprintf("kcna-bench-%d-%d", os.Getpid(), i)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	})
	fmt.Printf("  runc      %8.2f ms   kcna-lab/runc    = %.2fx (target <= 0.25x)\n", ms(theirs), float64(ours)/float64(theirs))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// useInitProgram builds kcna-lab-init and makes sandboxes use it, as the
// kcna-lab that `make build` makes does: the benchmark measures what
// learners run, not this test binary acting as the init.
func useInitProgram(tb testing.TB) (kind string) {
	tb.Helper()
	bin, native := testbuild.Init(tb, tb.TempDir())
	tb.Setenv(sandbox.InitProgramEnv, bin)
	if native {
		return "native init"
	}
	return "Go init: no C compiler here links statically"
}
