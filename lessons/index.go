package lessons

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The course's index is what `kcna-lab lessons`, `progress` and
// `glossary` list and count, and no more: each lesson's number, id, title
// and domain, its questions' ids, its challenges' ids and titles, and the
// glossary. The slim kcna-lab front reads it instead of the cached
// course (whose gob holds every lesson's text: decoding it cost a
// `lessons` about 2 ms) and cannot parse the course itself, which needs
// the demos' registry; when the index is missing or stale it hands the
// command to kcna-lab-full, whose parse.LoadCached writes it. It lives
// beside that program's cache of the parsed course, under the same key
// (CourseKey). Reading it links neither the parser (YAML) nor the cache
// (gob), which the front has no use for.

// indexFormat changes whenever indexFile changes shape.
const indexFormat = "kcna-lab course index 3"

// cacheFormat changes whenever Course, Lesson, Question or Challenge
// changes shape, so that no cache written by another build is read.
const cacheFormat = "kcna-lab course cache 2"

// CourseKey names what is kept of the course in fsys between runs of
// program (what identifies the program that parses: another build may
// parse differently, or have other fields): the parsed course's cache
// and its index. It hashes the cache format, program and every file the
// parser reads, by name.
func CourseKey(fsys fs.FS, program string) (string, error) {
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
			continue // the key covers what the parser reads: lessons and the glossary
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

type indexFile struct {
	Format   string        `json:"format"`
	Lessons  []indexLesson `json:"lessons"`
	Glossary []Term        `json:"glossary"`
}

type indexLesson struct {
	Order      int              `json:"order"`
	ID         string           `json:"id"`
	Title      string           `json:"title"`
	Domain     string           `json:"domain"`
	Quiz       []string         `json:"quiz"`
	Challenges []indexChallenge `json:"challenges"`
}

type indexChallenge struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// LoadIndex reads the index of the course in fsys that parse.LoadCached wrote
// in dir for program. The course it returns has only what the index
// holds (each lesson's Order, ID, Title, Domain, its Quiz with only their
// IDs and its Challenges with only their IDs and titles, and the
// Glossary): enough for Progress's Status, Score
// and Completion, nothing to show. ok is false when there is no index
// for this course and program, or it cannot be read.
func LoadIndex(fsys fs.FS, dir, program string) (c *Course, ok bool) {
	key, err := CourseKey(fsys, program)
	if err != nil {
		return nil, false
	}
	return readIndex(indexPath(dir, key))
}

// readIndex reads the index at path as a course.
func readIndex(path string) (c *Course, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var idx indexFile
	if json.Unmarshal(b, &idx) != nil || idx.Format != indexFormat || len(idx.Lessons) == 0 {
		return nil, false
	}
	c = &Course{Lessons: make([]*Lesson, 0, len(idx.Lessons)), Glossary: idx.Glossary}
	for _, il := range idx.Lessons {
		l := &Lesson{Order: il.Order, ID: il.ID, Title: il.Title, Domain: il.Domain}
		for _, id := range il.Quiz {
			l.Quiz = append(l.Quiz, Question{ID: id})
		}
		for _, ch := range il.Challenges {
			l.Challenges = append(l.Challenges, Challenge{ID: ch.ID, Title: ch.Title})
		}
		c.Lessons = append(c.Lessons, l)
	}
	return c, true
}

func indexPath(dir, key string) string {
	return filepath.Join(dir, "course-"+key+".index.json")
}

// WriteIndex writes c's index in dir under key (CourseKey) atomically,
// unless it is there whole, and removes the indexes of other versions of
// the course. Like the cache, failing costs only a later run's time, so
// it is not reported.
func WriteIndex(dir, key string, c *Course) {
	path := indexPath(dir, key)
	if _, ok := readIndex(path); ok {
		return
	}
	idx := indexFile{Format: indexFormat, Lessons: make([]indexLesson, 0, len(c.Lessons)), Glossary: c.Glossary}
	for _, l := range c.Lessons {
		il := indexLesson{Order: l.Order, ID: l.ID, Title: l.Title, Domain: l.Domain, Quiz: []string{}, Challenges: []indexChallenge{}}
		for _, q := range l.Quiz {
			il.Quiz = append(il.Quiz, q.ID)
		}
		for _, ch := range l.Challenges {
			il.Challenges = append(il.Challenges, indexChallenge{ch.ID, ch.Title})
		}
		idx.Lessons = append(idx.Lessons, il)
	}
	b, err := json.Marshal(idx)
	if err != nil || writeAtomic(dir, path, ".index-*.tmp", b) != nil {
		return
	}
	removeOthers(dir, "course-*.index.json", path)
}

// writeAtomic writes b to path through a temporary file in dir.
func writeAtomic(dir, path, pattern string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(f.Name())
	}
	return werr
}

// removeOthers removes the files in dir matching pattern but keep.
func removeOthers(dir, pattern, keep string) {
	old, _ := filepath.Glob(filepath.Join(dir, pattern))
	for _, o := range old {
		if o != keep {
			_ = os.Remove(o)
		}
	}
}
