package rootfs

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// IsStatic reports whether the ELF executable at path runs without a
// dynamic loader: no PT_INTERP program header and no DT_NEEDED library.
// Such a binary can be dropped alone into an empty root filesystem.
func IsStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	defer f.Close()
	interp, err := interpreter(f)
	if err != nil {
		return false, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	if interp != "" {
		return false, nil
	}
	needed, err := f.DynString(elf.DT_NEEDED)
	if err != nil {
		return false, fmt.Errorf("reading ELF %s dynamic section: %w", path, err)
	}
	return len(needed) == 0, nil
}

// interpreter returns the PT_INTERP path (the dynamic loader), "" if none.
func interpreter(f *elf.File) (string, error) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			return "", fmt.Errorf("reading PT_INTERP: %w", err)
		}
		return strings.TrimRight(string(b), "\x00"), nil
	}
	return "", nil
}

// Deps returns every file the dynamically linked binary at path needs at
// run time: its interpreter (PT_INTERP) first, then its DT_NEEDED libraries
// transitively, each as the path the loader would find it under. It reads
// ELF headers only; it never runs ldd or the binary, so it is safe on
// untrusted files. A static binary has no dependencies.
func Deps(path string) ([]string, error) {
	return newResolver().deps(path)
}

// resolver finds libraries the way glibc's ld.so does, minus the
// ld.so.cache and LD_LIBRARY_PATH: DT_RPATH, DT_RUNPATH, the directories
// listed in /etc/ld.so.conf, then the built-in defaults.
type resolver struct {
	confDirs []string
}

func newResolver() *resolver {
	return &resolver{confDirs: readLdSoConf("/etc/ld.so.conf", 0)}
}

// readLdSoConf lists the directories in an ld.so.conf file and the files it
// includes. A missing or unreadable file lists nothing: the defaults still apply.
func readLdSoConf(path string, depth int) []string {
	if depth > 8 { // include loops
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var dirs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.FieldsFunc(line, func(r rune) bool {
			return r == ' ' || r == '\t' || r == ',' || r == ':'
		})
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "include":
			for _, pat := range fields[1:] {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(filepath.Dir(path), pat)
				}
				matches, _ := filepath.Glob(pat)
				sort.Strings(matches)
				for _, m := range matches {
					dirs = append(dirs, readLdSoConf(m, depth+1)...)
				}
			}
		case "hwcap":
			// Obsolete hardware-capability lines name no directory.
		default:
			for _, d := range fields {
				// Old syntax "dir=libtype".
				if i := strings.IndexByte(d, '='); i >= 0 {
					d = d[:i]
				}
				if filepath.IsAbs(d) {
					dirs = append(dirs, filepath.Clean(d))
				}
			}
		}
	}
	return dirs
}

// multiarch is Debian's per-architecture library subdirectory name.
func multiarch(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86_64-linux-gnu"
	case elf.EM_AARCH64:
		return "aarch64-linux-gnu"
	case elf.EM_386:
		return "i386-linux-gnu"
	case elf.EM_ARM:
		return "arm-linux-gnueabihf"
	case elf.EM_RISCV:
		return "riscv64-linux-gnu"
	case elf.EM_PPC64:
		return "powerpc64le-linux-gnu"
	case elf.EM_S390:
		return "s390x-linux-gnu"
	}
	return ""
}

// defaultDirs are the loader's built-in directories for a binary's
// architecture: the multiarch ones (Debian, Ubuntu) and then the classic ones.
func defaultDirs(class elf.Class, m elf.Machine) []string {
	var dirs []string
	if t := multiarch(m); t != "" {
		dirs = append(dirs, "/lib/"+t, "/usr/lib/"+t)
	}
	if class == elf.ELFCLASS64 {
		dirs = append(dirs, "/lib64", "/usr/lib64")
	}
	return append(dirs, "/lib", "/usr/lib")
}

// elfObject is what dependency resolution needs from one ELF file.
type elfObject struct {
	class   elf.Class
	machine elf.Machine
	interp  string
	soname  string
	needed  []string
	rpath   []string
	runpath []string
}

func readObject(path string) (*elfObject, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	defer f.Close()
	o := &elfObject{class: f.Class, machine: f.Machine}
	var sonames []string
	if o.interp, err = interpreter(f); err != nil {
		return nil, fmt.Errorf("reading ELF %s: %w", path, err)
	}
	for _, t := range []struct {
		tag elf.DynTag
		dst *[]string
	}{{elf.DT_SONAME, &sonames}, {elf.DT_NEEDED, &o.needed}, {elf.DT_RPATH, &o.rpath}, {elf.DT_RUNPATH, &o.runpath}} {
		if *t.dst, err = f.DynString(t.tag); err != nil {
			return nil, fmt.Errorf("reading ELF %s dynamic section: %w", path, err)
		}
	}
	if len(sonames) > 0 {
		o.soname = sonames[0]
	}
	return o, nil
}

// searchPath splits DT_RPATH/DT_RUNPATH values into directories, expanding
// $ORIGIN (the directory of the object that carries them). Entries with
// other dynamic string tokens ($LIB, $PLATFORM) are dropped: their values
// depend on the loader build and the copied rootfs would not need them for
// the handful of distro binaries we copy.
func searchPath(values []string, objPath string) []string {
	origin := filepath.Dir(objPath)
	if real, err := filepath.EvalSymlinks(objPath); err == nil {
		origin = filepath.Dir(real)
	}
	var dirs []string
	for _, v := range values {
		for _, d := range strings.Split(v, ":") {
			d = strings.ReplaceAll(d, "${ORIGIN}", origin)
			d = strings.ReplaceAll(d, "$ORIGIN", origin)
			if d == "" || strings.Contains(d, "$") {
				continue
			}
			dirs = append(dirs, filepath.Clean(d))
		}
	}
	return dirs
}

func (r *resolver) deps(path string) ([]string, error) {
	exe, err := readObject(path)
	if err != nil {
		return nil, err
	}
	var out []string
	seenPath := map[string]bool{}
	add := func(p string) {
		if !seenPath[p] {
			seenPath[p] = true
			out = append(out, p)
		}
	}
	seenName := map[string]bool{}
	if exe.interp != "" {
		ld, err := readObject(exe.interp)
		if err != nil {
			return nil, fmt.Errorf("%s: dynamic loader: %w", path, err)
		}
		add(exe.interp)
		// libc lists the loader in DT_NEEDED; the loader is already in
		// memory under its soname, so that entry needs no second copy.
		seenName[filepath.Base(exe.interp)] = true
		if ld.soname != "" {
			seenName[ld.soname] = true
		}
	}

	// Breadth-first over DT_NEEDED, like the loader. A soname is loaded
	// once, whoever asks for it first wins.
	type item struct {
		path string
		obj  *elfObject
		// inherited holds the DT_RPATHs of the objects that led here: the
		// loader searches the whole chain's RPATHs unless an object has a RUNPATH.
		inherited []string
	}
	queue := []item{{path: path, obj: exe}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		// The chain of DT_RPATHs (this object's, then its loaders') is
		// searched only if this object has no DT_RUNPATH, but is passed on
		// to its dependencies either way.
		chain := slices.Concat(searchPath(it.obj.rpath, it.path), it.inherited)
		var rpath []string
		if len(it.obj.runpath) == 0 {
			rpath = chain
		}
		dirs := slices.Concat(rpath, searchPath(it.obj.runpath, it.path), r.confDirs, defaultDirs(exe.class, exe.machine))
		for _, name := range it.obj.needed {
			if seenName[name] {
				continue
			}
			seenName[name] = true
			lib, obj, err := findLib(name, dirs, exe.class, exe.machine)
			if err != nil {
				return nil, fmt.Errorf("%s: library %s needed by %s: %w", path, name, it.path, err)
			}
			add(lib)
			queue = append(queue, item{path: lib, obj: obj, inherited: chain})
		}
	}
	return out, nil
}

// findLib looks for name in dirs, skipping files of another ELF class or
// architecture (a 32-bit libc in /lib is not the one a 64-bit binary loads).
func findLib(name string, dirs []string, class elf.Class, m elf.Machine) (string, *elfObject, error) {
	if strings.Contains(name, "/") {
		// A DT_NEEDED with a slash is used as a path as-is.
		obj, err := readObject(name)
		if err != nil {
			return "", nil, err
		}
		return name, obj, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		obj, err := readObject(p)
		if err != nil || obj.class != class || obj.machine != m {
			continue
		}
		return p, obj, nil
	}
	return "", nil, errors.New("not found in " + strings.Join(dirs, ":"))
}
