package tui

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// TestTuiImportsNoKernelCode: the app reaches demos and checks through
// Lab and sandboxes through Options, so none of its files imports
// lessons/demos or a package of the stack (kernel, sandbox, plugin,
// platform): that would link netlink, the DNS server and the mesh into
// every front end. The event types, the stack's contract, are allowed.
func TestTuiImportsNoKernelCode(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			rel, ours := strings.CutPrefix(path, "github.com/kcna-lab/kcna-lab/")
			if ours && (strings.HasPrefix(rel, "lessons/demos") || onTheStack(rel)) {
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}

// TestExamViewMovesNoScroll: drawing the exam does not change it; the
// scroll that keeps the cursor on screen is set by update.
func TestExamViewMovesNoScroll(t *testing.T) {
	m, _, _ := examApp(t, nil)
	m = drive(t, m, tea.WindowSizeMsg{Width: 40, Height: 10}, press("x"), press("enter"))
	m = drive(t, m, press("down"), press("down"))
	z := examOf(m)
	if z.scroll == 0 {
		t.Fatalf("at 40x10 the cursor on the last choice should have scrolled the page:\n%s", plain(m))
	}
	z.scroll = 0
	_ = m.View()
	if z.scroll != 0 {
		t.Fatalf("View moved the scroll to %d", z.scroll)
	}
}

// onTheStack: rel (a path inside the module) is a package of one of the
// stack's floors.
func onTheStack(rel string) bool {
	for _, floor := range []string{"kernel", "sandbox", "plugin", "platform"} {
		if rel == floor || strings.HasPrefix(rel, floor+"/") {
			return true
		}
	}
	return false
}
