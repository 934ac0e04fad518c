//go:build linux

package seccomp

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestCompileCached: the first call compiles and writes the cache, the
// second reads the same program back; a file whose payload no longer
// matches its digest, that names another key, or that others may write
// is not used (and the fresh program replaces it).
func TestCompileCached(t *testing.T) {
	dir := t.TempDir()
	p := &Profile{Name: Default}
	fresh, err := p.CompileCached(dockerCaps, dir)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Cached {
		t.Fatal("the first compile came from an empty cache")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "seccomp-*.json"))
	if len(files) != 1 {
		t.Fatalf("cache files %v, want one", files)
	}
	file := files[0]
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache file mode %v, %v; want 0600", fi.Mode(), err)
	}
	again, err := p.CompileCached(dockerCaps, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cached || !reflect.DeepEqual(again.Filter, fresh.Filter) || again.DefaultAction != fresh.DefaultAction {
		t.Fatalf("second call: cached %v, same filter %v", again.Cached, reflect.DeepEqual(again.Filter, fresh.Filter))
	}
	// Another bounding set is another slot, never this program.
	fewer, err := p.CompileCached(dockerCaps[:3], dir)
	if err != nil || fewer.Cached {
		t.Errorf("another bounding set: cached %v, %v", fewer != nil && fewer.Cached, err)
	}

	spoil := func(name string, change func([]byte) []byte) {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, change(b), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := p.CompileCached(dockerCaps, dir)
			if err != nil || c.Cached {
				t.Errorf("a spoiled cache file was used: %v", err)
			}
			if c, _ := p.CompileCached(dockerCaps, dir); c == nil || !c.Cached {
				t.Error("the fresh program did not replace the spoiled file")
			}
		})
	}
	spoil("program changed", func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
	spoil("another key", func(b []byte) []byte { b[0] ^= 1; return b })
	spoil("cut short", func(b []byte) []byte { return b[:len(b)-8] })
	t.Run("writable by others", func(t *testing.T) {
		if err := os.Chmod(file, 0o666); err != nil {
			t.Fatal(err)
		}
		if c, err := p.CompileCached(dockerCaps, dir); err != nil || c.Cached {
			t.Errorf("a file others may write was used: %v", err)
		}
	})
	t.Run("a symlink", func(t *testing.T) {
		// A good file, reached through a link in its place.
		if c, _ := p.CompileCached(dockerCaps, dir); c == nil || !c.Cached {
			t.Fatal("no good cache file to link to")
		}
		elsewhere := filepath.Join(t.TempDir(), "elsewhere.json")
		if err := os.Rename(file, elsewhere); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(elsewhere, file); err != nil {
			t.Fatal(err)
		}
		if c, err := p.CompileCached(dockerCaps, dir); err != nil || c.Cached {
			t.Errorf("a cache file behind a symlink was used: %v", err)
		}
	})
	t.Run("another owner's", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root, to give the file away")
		}
		if c, _ := p.CompileCached(dockerCaps, dir); c == nil || !c.Cached {
			t.Fatal("no good cache file to give away")
		}
		if err := os.Chown(file, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if c, err := p.CompileCached(dockerCaps, dir); err != nil || c.Cached {
			t.Errorf("nobody's cache file was used by root: %v", err)
		}
	})
	if c, err := p.CompileCached(dockerCaps, ""); err != nil || c.Cached {
		t.Errorf("no cache dir: cached %v, %v", c != nil && c.Cached, err)
	}
}

// TestCompileCachedOnlyDockers: a profile file of the learner's is
// compiled every time and leaves no file behind (one per path would pile
// up: every test run's temporary profile did).
func TestCompileCachedOnlyDockers(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "deny-mkdir.json")
	if err := os.WriteFile(profile, []byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(profile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for range 2 {
		if c, err := p.CompileCached(dockerCaps, dir); err != nil || c.Cached {
			t.Fatalf("a profile file: cached %v, %v", c != nil && c.Cached, err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
		t.Errorf("a profile file left cache files: %v", files)
	}
}

// BenchmarkDockerProfileCached is BenchmarkDockerProfile through a warm
// cache: what a sandbox start pays once one run has compiled it.
func BenchmarkDockerProfileCached(b *testing.B) {
	dir := b.TempDir()
	p := &Profile{Name: Default}
	if _, err := p.CompileCached(dockerCaps, dir); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := p.CompileCached(dockerCaps, dir)
		if err != nil || !c.Cached {
			b.Fatal("not from the cache", err)
		}
	}
}

// TestCompileCachedTwoPrograms: kcna-lab and kcna-lab-full, two builds
// that alternate as a learner goes from the CLI to the course and back,
// each keep their own file, so both are served from the cache.
func TestCompileCachedTwoPrograms(t *testing.T) {
	dir := t.TempDir()
	p := &Profile{Name: Default}
	front := program{name: "kcna-lab"}
	front.st.Ino = 1
	full := program{name: "kcna-lab-full"}
	full.st.Ino = 2
	for i, prog := range []program{front, full, front, full} {
		c, err := p.compileCachedAs(prog, dockerCaps, dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := i >= 2; c.Cached != want {
			t.Errorf("run %d, %s: cached %v, want %v", i+1, prog.name, c.Cached, want)
		}
	}
}
