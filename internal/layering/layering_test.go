// Package layering holds the test that keeps the source tree the course's
// diagram: event at the ground, then the kernel primitives, the runtime,
// its plugins, the platform on top, and the course and its front ends
// above that. An import may go down or stay on its floor, never up.
package layering

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/kcna-lab/kcna-lab/"

// floors, from the ground up: a package's floor is that of the longest
// prefix of its path that is listed here.
var floors = []struct {
	prefix string
	floor  int
}{
	{"event", 0},
	{"internal/atomicfile", 0},
	{"kernel", 1},
	{"sandbox", 2},
	{"plugin", 3},
	{"platform", 4},
	{"content", 5},
	{"lessons", 5},
	{"tui", 6},
	{"workshop", 6},
	{"cmd", 7},
	{"deploy", 7},
	{"e2e", 7},
	{"internal", 7},
}

// TestNoImportGoesUp reads the imports of every non-test Go file in the
// module (test files may reach up to drive what they test) and fails on
// any that names a package on a higher floor.
func TestNoImportGoesUp(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "third_party" || rel == "bin" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(rel))
		from, ok := floorOf(pkg)
		if !ok {
			t.Errorf("%s: package %s is on no floor: add it to floors in this test", rel, pkg)
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			target, ours := strings.CutPrefix(ip, module)
			if !ours {
				continue
			}
			to, ok := floorOf(target)
			if !ok {
				t.Errorf("%s imports %s, which is on no floor", rel, ip)
			} else if to > from {
				t.Errorf("%s (floor %d) imports %s (floor %d): an import going up the stack", rel, from, target, to)
			}
			checked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d imports of the module's own packages found from %s: is this the module's root?", checked, root)
	}
}

func floorOf(pkg string) (int, bool) {
	best, floor := -1, 0
	for _, f := range floors {
		if (pkg == f.prefix || strings.HasPrefix(pkg, f.prefix+"/")) && len(f.prefix) > best {
			best, floor = len(f.prefix), f.floor
		}
	}
	return floor, best >= 0
}

// TestFloorsHaveDocs: each floor's folder says, in its doc comment, which
// lessons its packages serve.
func TestFloorsHaveDocs(t *testing.T) {
	for _, dir := range []string{"kernel", "plugin", "platform"} {
		b, err := os.ReadFile(filepath.Join("../..", dir, "doc.go"))
		if err != nil {
			t.Errorf("floor %s has no doc.go: %v", dir, err)
			continue
		}
		if !strings.Contains(string(b), "lesson") {
			t.Errorf("%s/doc.go names no lesson", dir)
		}
	}
}
