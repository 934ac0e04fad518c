package cli

import (
	"os"

	"github.com/charmbracelet/x/term"
)

// Terminal returns f as a file when it is a terminal, so tests that pass
// buffers are treated like pipes.
func Terminal(f any) (*os.File, bool) {
	file, ok := f.(*os.File)
	if !ok || !term.IsTerminal(file.Fd()) {
		return nil, false
	}
	return file, true
}
