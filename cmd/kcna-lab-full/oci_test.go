//go:build linux

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kcna-lab/kcna-lab/plugin/oci"
)

func TestOCIPrintsConfig(t *testing.T) {
	privateState(t)
	rootfs := t.TempDir()
	code, out, errOut := kcna(t, "oci", "--hostname", "x", "--memory", "64M", "--pids", "32", "--rootfs", rootfs)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var cfg specs.Spec
	if err := json.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if cfg.Hostname != "x" || cfg.Version != specs.Version {
		t.Errorf("hostname %q ociVersion %q", cfg.Hostname, cfg.Version)
	}
	if cfg.Linux.Resources == nil || *cfg.Linux.Resources.Memory.Limit != 64<<20 || *cfg.Linux.Resources.Pids.Limit != 32 {
		t.Errorf("resources %+v", cfg.Linux.Resources)
	}
	if len(cfg.Process.Args) != 1 || cfg.Process.Args[0] != "/bin/sh" || cfg.Root.Path != rootfs {
		t.Errorf("args %q root %+v", cfg.Process.Args, cfg.Root)
	}
	if !cfg.Process.Terminal {
		t.Error("a bare shell gets no terminal")
	}
	cfg = specs.Spec{}

	code, out, _ = kcna(t, "oci", "--rootfs", rootfs, "--isolate", "pid,uts,mnt,user", "--", "echo", "hi")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if err := json.Unmarshal([]byte(out), &cfg); err != nil || strings.Join(cfg.Process.Args, " ") != "echo hi" || len(cfg.Linux.Namespaces) != 4 || cfg.Process.Terminal {
		t.Errorf("args %q namespaces %v terminal %v (%v)", cfg.Process.Args, cfg.Linux.Namespaces, cfg.Process.Terminal, err)
	}
}

func TestOCIWritesBundle(t *testing.T) {
	privateState(t)
	rootfs := t.TempDir()
	bundle := filepath.Join(t.TempDir(), "kcna-bundle")
	code, out, errOut := kcna(t, "oci", "--bundle", bundle, "--hostname", "oci-box", "--memory", "64M", "--rootfs", rootfs, "--", "/bin/sh")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "runc run --bundle "+bundle) {
		t.Errorf("stdout does not say how to run it:\n%s", out)
	}
	cfg, err := oci.ReadBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hostname != "oci-box" || oci.RootPath(bundle, cfg) != rootfs {
		t.Errorf("hostname %q root %q", cfg.Hostname, oci.RootPath(bundle, cfg))
	}
	if entries, _ := os.ReadDir(bundle); len(entries) != 1 {
		t.Errorf("bundle holds %v", entries)
	}
}

func TestOCIRefusesWhatConfigCannotSay(t *testing.T) {
	privateState(t)
	rootfs := t.TempDir()
	for _, args := range [][]string{
		{"oci", "--rootfs", rootfs, "--root", "chroot"},
		{"oci", "--rootfs", rootfs, "--overlay"},
		{"oci", "--rootfs", rootfs, "--cap-drop", "NOPE"},
	} {
		if code, _, errOut := kcna(t, args...); code == 0 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
