package parse

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// LoadDir loads an instructor's lesson directory, naming files by their
// path so problems point at them from the caller's working directory.
func LoadDir(dir string, reg lessons.Registry) (*lessons.Course, Problems) {
	fi, err := os.Stat(dir)
	if err != nil {
		return &lessons.Course{}, Problems{{File: dir, Msg: fmt.Sprintf("cannot open the lesson directory: %v", err),
			Hint: "give the path of a directory that holds NN-slug.md lesson files"}}
	}
	if !fi.IsDir() {
		return &lessons.Course{}, Problems{{File: dir, Msg: "is a file, not a directory of lessons",
			Hint: "give the directory that holds it: " + filepath.Dir(dir)}}
	}
	c, probs := Load(os.DirFS(dir), reg)
	for i := range probs {
		probs[i].File = filepath.Join(dir, probs[i].File)
	}
	for _, l := range c.Lessons {
		l.File = filepath.Join(dir, l.File)
	}
	return c, probs
}
