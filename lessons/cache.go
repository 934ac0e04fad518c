package lessons

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// cacheFormat changes whenever Course, Lesson, Question or Challenge
// changes shape, so that no cache written by another build is read.
const cacheFormat = "kcna-lab course cache 2"

// LoadCached is Load for a course that is the same from one run to the
// next, as the built-in one is. Parsing its YAML front matter takes some
// 8 ms, most of a `kcna-lab lessons`; so the parsed course is kept in
// dir, under a hash of every lesson file, of the cache format and of
// program (what identifies the program that parses: another build may
// parse differently, or have other fields), and read back (about 1 ms)
// while they hash the same; beside it goes the course's index (LoadIndex)
// for the slim front's `lessons`. The registry's checks run on a cached course
// too; when one fails, or the cache cannot be read, the files are parsed
// as Load does. Failing to write the cache costs nothing but the next
// run's time, so it is not reported.
func LoadCached(fsys fs.FS, reg Registry, dir, program string) (*Course, Problems) {
	key, err := courseKey(fsys, program)
	if err != nil {
		return Load(fsys, reg)
	}
	path := filepath.Join(dir, "course-"+key+".gob")
	if c, ok := readCache(path); ok && !hasRefProblems(c, reg) {
		writeIndex(dir, indexPath(dir, key), c) // a cache from before the index
		return c, nil
	}
	c, probs := Load(fsys, reg)
	if len(probs) == 0 {
		writeCache(dir, path, c)
		writeIndex(dir, indexPath(dir, key), c)
	}
	return c, probs
}

// courseKey hashes the cache format, program and every file Load reads,
// by name.
func courseKey(fsys fs.FS, program string) (string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(cacheFormat))
	h.Write([]byte{0})
	h.Write([]byte(program))
	for _, e := range entries {
		if e.IsDir() || (!strings.HasSuffix(e.Name(), ".md") && e.Name() != GlossaryFile) {
			continue // the key covers what Load reads: lessons and the glossary
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return "", err
		}
		h.Write([]byte{0})
		h.Write([]byte(e.Name()))
		h.Write([]byte{0})
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

func readCache(path string) (*Course, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var c Course
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil || len(c.Lessons) == 0 {
		return nil, false
	}
	return &c, true
}

func hasRefProblems(c *Course, reg Registry) bool {
	for _, l := range c.Lessons {
		if len(checkRefs(l, reg)) > 0 {
			return true
		}
	}
	return false
}

// writeCache writes c to path atomically and removes the caches of other
// versions of the course.
func writeCache(dir, path string, c *Course) {
	var buf bytes.Buffer
	if gob.NewEncoder(&buf).Encode(c) != nil || writeAtomic(dir, path, ".course-*.tmp", buf.Bytes()) != nil {
		return
	}
	removeOthers(dir, "course-*.gob", path)
}
