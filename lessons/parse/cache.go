package parse

import (
	"bytes"
	"encoding/gob"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kcna-lab/kcna-lab/internal/atomicfile"
	"github.com/kcna-lab/kcna-lab/lessons"
)

// LoadCached is Load for a course that is the same from one run to the
// next, as the built-in one is. Parsing its YAML front matter takes some
// 8 ms, most of a `kcna-lab lessons`; so the parsed course is kept in
// dir, under lessons.CourseKey (a hash of every lesson file, of the cache
// format and of program, what identifies the program that parses), and
// read back (about 1 ms) while they hash the same; beside it goes the
// course's index (lessons.LoadIndex) for the slim front's `lessons`. The
// registry's checks run on a cached course too; when one fails, or the
// cache cannot be read, the files are parsed as Load does. Failing to
// write the cache costs nothing but the next run's time, so it is not
// reported.
func LoadCached(fsys fs.FS, reg lessons.Registry, dir, program string) (*lessons.Course, Problems) {
	key, err := lessons.CourseKey(fsys, program)
	if err != nil {
		return Load(fsys, reg)
	}
	path := filepath.Join(dir, "course-"+key+".gob")
	if c, ok := readCache(path); ok && !hasRefProblems(c, reg) {
		lessons.WriteIndex(dir, key, c) // a cache from before the index
		return c, nil
	}
	c, probs := Load(fsys, reg)
	if len(probs) == 0 {
		writeCache(dir, path, c)
		lessons.WriteIndex(dir, key, c)
	}
	return c, probs
}

func readCache(path string) (*lessons.Course, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var c lessons.Course
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil || len(c.Lessons) == 0 {
		return nil, false
	}
	return &c, true
}

// hasRefProblems reports whether the registry misses what a cached course
// names (it was parsed against another registry): positions are not
// cached, nor needed to know that.
func hasRefProblems(c *lessons.Course, reg lessons.Registry) bool {
	for _, l := range c.Lessons {
		if len(checkRefs(l, nil, reg)) > 0 {
			return true
		}
	}
	return false
}

// writeCache writes c to path atomically and removes the caches of other
// versions of the course.
func writeCache(dir, path string, c *lessons.Course) {
	var buf bytes.Buffer
	if gob.NewEncoder(&buf).Encode(c) != nil || os.MkdirAll(dir, 0o755) != nil ||
		atomicfile.WriteFile(path, buf.Bytes(), 0o600) != nil {
		return
	}
	old, _ := filepath.Glob(filepath.Join(dir, "course-*.gob"))
	for _, o := range old {
		if o != path {
			_ = os.Remove(o)
		}
	}
}
