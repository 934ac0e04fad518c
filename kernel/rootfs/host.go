package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/kcna-lab/kcna-lab/event"
)

// hostPrograms are copied from the host when it has no static busybox:
// enough for the lab's exercises (a shell, ps, hostname, mount, id...).
var hostPrograms = []string{
	"sh", "ls", "cat", "ps", "hostname", "mount", "id", "uname", "sleep",
	"echo", "true", "false", "env", "mkdir", "rm", "touch", "grep",
}

// defaultPath is searched after $PATH, so a sparse $PATH (cron, CI) still
// finds the usual tools.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds an executable regular file called name on $PATH, never
// returning a relative path (a "." entry in $PATH must not pull files from
// the current directory into the rootfs).
func lookPath(name string) (string, error) {
	for _, d := range filepath.SplitList(os.Getenv("PATH") + ":" + defaultPath) {
		if !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		fi, err := os.Stat(p)
		if err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found on $PATH", name)
}

// buildFromHost fills the skeleton at dir with host programs and the shared
// libraries they need, found by reading their ELF headers (see Deps).
// Programs go into /bin under their command name; each library is copied
// to the path the loader looks for it under, so the rootfs's loader finds
// it without an ld.so.cache.
func buildFromHost(dir string, sink event.Sink) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("opening rootfs %s: %w", dir, err)
	}
	defer root.Close()

	res := newResolver()
	libs := map[string]bool{}
	var copied, skipped []string
	for _, name := range hostPrograms {
		src, err := lookPath(name)
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		deps, err := res.deps(src)
		if err != nil {
			// Not an ELF binary (a script) or a library is missing: the
			// program would not run inside the rootfs, so leave it out.
			skipped = append(skipped, err.Error())
			continue
		}
		dst := path.Join("bin", name)
		err = event.Step(sink, fmt.Sprintf("copy(%q -> %q)", src, filepath.Join(dir, dst)),
			fmt.Sprintf("cp -L %s %s", src, filepath.Join(dir, dst)),
			func() error { return copyInto(root, src, dst) })
		if err != nil {
			return fmt.Errorf("copying %s: %w", src, err)
		}
		copied = append(copied, name)
		for _, d := range deps {
			libs[d] = true
		}
	}
	if !slices.Contains(copied, "sh") {
		return fmt.Errorf("building a rootfs from host binaries: no usable sh (%s)", strings.Join(skipped, "; "))
	}
	if len(skipped) > 0 {
		event.Narrate(sink, "Left out of the rootfs: "+strings.Join(skipped, "; "))
	}

	sorted := make([]string, 0, len(libs))
	for l := range libs {
		sorted = append(sorted, l)
	}
	sort.Strings(sorted)
	return event.Step(sink,
		fmt.Sprintf("copy %d shared libraries (the loader and DT_NEEDED of %d programs) into %s", len(sorted), len(copied), dir),
		fmt.Sprintf("cd %s && cp -L --parents %s .", dir, strings.Join(sorted, " ")),
		func() error {
			for _, l := range sorted {
				if err := copyLib(root, l); err != nil {
					return fmt.Errorf("copying %s: %w", l, err)
				}
			}
			return nil
		})
}

// copyLib copies the library the loader finds at lib (a host path) to the
// same path in root. If lib is a symlink, as sonames usually are
// (libpcre2-8.so.0 -> libpcre2-8.so.0.11.2), the real file is copied next
// to it under its own name and the soname is recreated as a symlink, so the
// rootfs looks like the host.
func copyLib(root *os.Root, lib string) error {
	real, err := filepath.EvalSymlinks(lib)
	if err != nil {
		return err
	}
	rel := strings.TrimPrefix(filepath.Clean(lib), "/")
	dir := path.Dir(rel)
	if err := root.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	file := path.Join(dir, filepath.Base(real))
	if _, err := root.Lstat(file); errors.Is(err, fs.ErrNotExist) {
		if err := copyInto(root, real, file); err != nil {
			return err
		}
	}
	if file != rel {
		if _, err := root.Lstat(rel); errors.Is(err, fs.ErrNotExist) {
			return root.Symlink(filepath.Base(real), rel)
		}
	}
	return nil
}

// copyInto copies the file src (following symlinks) to dst inside root,
// keeping its permission bits minus setuid/setgid.
func copyInto(root *os.Root, src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := root.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Chmod(fi.Mode().Perm())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
