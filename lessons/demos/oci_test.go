//go:build linux

package demos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/oci"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

func TestOCIRuntime(t *testing.T) {
	rec := runDemo(t, "oci-runtime")
	for _, sec := range ociSections {
		c := rec.compare(t, sec.title)
		if len(c.Left.Lines) == 0 || len(c.Left.Lines) != len(c.Right.Lines) {
			t.Errorf("%s: %d fields beside %d steps", sec.title, len(c.Left.Lines), len(c.Right.Lines))
		}
		for i, r := range c.Right.Lines {
			// Every field that names a step must have been seen in the
			// sandbox's own trace: config.json says what kcna-lab did.
			if strings.HasPrefix(r, "??") {
				t.Errorf("%s: no step of the run matches %s: %s", sec.title, c.Left.Lines[i], r)
			}
		}
	}
	ns := rec.compare(t, "linux.namespaces")
	if !strings.HasPrefix(ns.Left.Lines[0], "linux.namespaces[pid]") || !strings.Contains(ns.Right.Lines[0], "ok clone(CLONE_NEWPID)") {
		t.Errorf("namespaces: %q / %q", ns.Left.Lines, ns.Right.Lines)
	}
	res := rec.compare(t, "linux.resources")
	if !strings.Contains(strings.Join(res.Left.Lines, "\n"), "linux.resources.memory.limit 67108864") {
		t.Errorf("resources: %q", res.Left.Lines)
	}
	var config string
	for _, e := range rec.Of(event.KindOutput) {
		if strings.Contains(e.Text, `"ociVersion"`) {
			config = e.Text
		}
	}
	if !strings.Contains(config, `"hostname": "oci-box"`) || !strings.Contains(config, `"limit": 67108864`) {
		t.Errorf("config.json shown:\n%s", config)
	}
	// linux.seccomp without its hundreds of rules, which the bundle keeps.
	if !strings.Contains(config, `"defaultAction": "SCMP_ACT_ERRNO"`) || strings.Contains(config, `"names"`) {
		t.Errorf("config.json shown, want linux.seccomp without its rules:\n%s", config)
	}
	if !contains(res.Right.Lines, "ok seccomp(SECCOMP_SET_MODE_FILTER), the init's last step") {
		t.Errorf("linux.seccomp's step was not seen in the run: %q", res.Right.Lines)
	}

	id := fmt.Sprintf("kcna-oci-%d", os.Getpid())
	if dirs := oci.CgroupDirs(id); len(dirs) > 0 {
		t.Errorf("runc's cgroups left: %v", dirs)
	}
	if _, err := oci.Runc(); err != nil {
		t.Skipf("the runc half did not run: %v", err)
	}
	both := rec.compare(t, ociCommand+":")
	if len(both.Left.Lines) == 0 || len(both.Right.Lines) == 0 {
		t.Fatalf("outputs: runc %q kcna-lab %q", both.Left.Lines, both.Right.Lines)
	}
	if both.Left.Lines[0] != ociHostname || both.Right.Lines[0] != ociHostname {
		t.Errorf("hostname under runc %q, under kcna-lab %q, want %q on both", both.Left.Lines[0], both.Right.Lines[0], ociHostname)
	}
	if _, err := os.Stat(filepath.Join("/run/runc", id)); err == nil {
		t.Errorf("/run/runc/%s left", id)
	}
}

func TestCompactJSON(t *testing.T) {
	v := map[string]any{"a": []string{"x", "y"}, "b": map[string]int{"c": 1}}
	got, err := compactJSON(v, 80)
	if err != nil || len(got) != 1 || got[0] != `{"a": ["x", "y"], "b": {"c": 1}}` {
		t.Errorf("wide: %q %v", got, err)
	}
	long := map[string]any{"caps": []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD"}}
	got, _ = compactJSON(long, 40)
	want := []string{"{", `  "caps": [`, `    "CAP_CHOWN", "CAP_DAC_OVERRIDE",`, `    "CAP_FSETID", "CAP_FOWNER",`, `    "CAP_MKNOD"`, "  ]", "}"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("narrow:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// withHome points the check at a temporary home directory.
func withHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	saved := bundleHomes
	bundleHomes = func() ([]string, error) { return []string{home}, nil }
	t.Cleanup(func() { bundleHomes = saved })
	return home
}

func verifyBundle(t *testing.T) Verdict {
	t.Helper()
	c := ociBundleCheck()
	if c.ID != "oci-bundle" {
		t.Fatalf("check id %q", c.ID)
	}
	v, err := c.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOCIBundleCheck(t *testing.T) {
	home := withHome(t)
	bundle := filepath.Join(home, "kcna-bundle")

	v := verifyBundle(t)
	if v.Passed || !strings.Contains(v.Detail, "does not exist") {
		t.Errorf("no bundle: %+v", v)
	}

	if err := os.MkdirAll(bundle, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v := verifyBundle(t); v.Passed || !strings.Contains(v.Detail, "not valid JSON") {
		t.Errorf("broken JSON: %+v", v)
	}

	// A bundle with everything wrong: each problem is named.
	empty := t.TempDir()
	wrong, err := oci.Config(sandbox.Spec{Args: []string{"/bin/bash"}, Hostname: "box", Limits: sandbox.Limits{MemoryBytes: 32 << 20}}, empty)
	if err != nil {
		t.Fatal(err)
	}
	if err := oci.WriteBundle(bundle, wrong, empty); err != nil {
		t.Fatal(err)
	}
	v = verifyBundle(t)
	for _, want := range []string{`hostname is "box"`, "memory.limit is 33554432, want 67108864", `process.args[0] is "/bin/bash"`, "has no bin/sh"} {
		if !strings.Contains(v.Detail, want) {
			t.Errorf("wrong bundle: detail %q does not say %q", v.Detail, want)
		}
	}
	if v.Passed {
		t.Error("wrong bundle passed")
	}

	// The solution: kcna-lab oci --bundle ~/kcna-bundle --hostname oci-box
	// --memory 64M -- /bin/sh, here with a root filesystem of one file.
	root := filepath.Join(bundle, "rootfs")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin", "sh"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	right, err := oci.Config(sandbox.Spec{Args: []string{"/bin/sh"}, Hostname: ociHostname, Limits: sandbox.Limits{MemoryBytes: ociMemory}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := oci.WriteBundle(bundle, right, root); err != nil {
		t.Fatal(err)
	}
	v = verifyBundle(t)
	if !v.Passed || !strings.Contains(v.Detail, "hostname oci-box") || !strings.Contains(v.Detail, root) {
		t.Errorf("right bundle: %+v", v)
	}
}
