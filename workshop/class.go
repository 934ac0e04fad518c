package workshop

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

// Class is the roll of a workshop: each student's name, the key pinned to
// it and the uid slot of their lab, kept in one file written atomically.
type Class struct {
	path string
	mu   sync.Mutex
}

// Student is one name on the roll.
type Student struct {
	Name string `json:"name"`
	Slot int    `json:"slot"`
	// Key is the public key pinned to the name (authorized_keys format).
	// A name admitted by the class code without a key has none; it is
	// pinned instead to a password kcna-lab made and showed once, kept
	// here as a bcrypt hash.
	Key          string    `json:"key,omitempty"`
	PasswordHash string    `json:"password_hash,omitempty"`
	Joined       time.Time `json:"joined"`
}

// Keyless reports whether the student joined without a key.
func (s Student) Keyless() bool { return s.Key == "" && s.PasswordHash != "" }

type roll struct {
	Version  int                 `json:"version"`
	Students map[string]*Student `json:"students"`
}

const rollVersion = 1

// namePattern is what a student name may be: it becomes a hostname, a
// directory and a cgroup name.
var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$`) })

// ValidName says what is wrong with a student name, or nil.
func ValidName(name string) error {
	if name == "instructor" {
		return errors.New(`"instructor" is the instructor's name, for the dashboard: choose another name (e.g. ssh -p PORT alice@HOST)`)
	}
	if namePattern().MatchString(name) && !strings.Contains(name, "--") {
		return nil
	}
	return fmt.Errorf("%q cannot be a student name: use 1 to 32 lower-case letters, digits and single hyphens, starting with a letter (e.g. ssh -p PORT alice@HOST)", name)
}

// OpenClass opens (or starts) the roll in dir.
func OpenClass(dir string) (*Class, error) {
	c := &Class{path: filepath.Join(dir, "class.json")}
	if _, err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// Lookup returns the student of that name, if on the roll.
func (c *Class) Lookup(name string) (Student, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.load()
	if err != nil {
		return Student{}, false
	}
	s, ok := r.Students[name]
	if !ok {
		return Student{}, false
	}
	return *s, true
}

// Students lists the roll by name.
func (c *Class) Students() ([]Student, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.load()
	if err != nil {
		return nil, err
	}
	out := make([]Student, 0, len(r.Students))
	for _, s := range r.Students {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ErrKeyMismatch is a name pinned to another key (or to a password).
var ErrKeyMismatch = errors.New("this name belongs to another key")

// Admit puts a new name on the roll, pinned to key, or checks that key is
// the one pinned to a known name. key nil admits a name without a key
// (the class code was given): a new one gets a password, returned once
// in password and kept only as a hash; a known one must already be
// keyless (its password was checked at login). A keyless name never gets
// a key pinned afterwards, so whoever holds the class code cannot take it
// over with a key of their own.
func (c *Class) Admit(name string, key gossh.PublicKey) (st Student, password string, err error) {
	if err := ValidName(name); err != nil {
		return Student{}, "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	unlock, err := lockFile(c.path + ".lock")
	if err != nil {
		return Student{}, "", err
	}
	defer unlock()
	r, err := c.load()
	if err != nil {
		return Student{}, "", err
	}
	keyText := ""
	if key != nil {
		keyText = strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key)))
	}
	if s, ok := r.Students[name]; ok {
		if s.Key != keyText || (keyText == "" && s.PasswordHash == "") {
			return Student{}, "", ErrKeyMismatch
		}
		return *s, "", nil
	}
	slot, err := freeSlot(r)
	if err != nil {
		return Student{}, "", err
	}
	s := &Student{Name: name, Slot: slot, Key: keyText, Joined: time.Now().UTC().Truncate(time.Second)}
	if keyText == "" {
		password = newPassword()
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return Student{}, "", fmt.Errorf("make a password for %s: %w", name, err)
		}
		s.PasswordHash = string(hash)
	}
	r.Students[name] = s
	if err := c.save(r); err != nil {
		return Student{}, "", err
	}
	return *s, password, nil
}

// Pinned reports whether name is taken (by a key or a password), and
// whether key is the key it is pinned to.
func (c *Class) Pinned(name string, key gossh.PublicKey) (pinned, matches bool) {
	s, ok := c.Lookup(name)
	if !ok {
		return false, false
	}
	return true, key != nil && s.Key != "" && s.Key == strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key)))
}

// HasKeyless reports whether any student joined without a key.
func (c *Class) HasKeyless() bool {
	students, _ := c.Students()
	for _, st := range students {
		if st.Keyless() {
			return true
		}
	}
	return false
}

// PasswordMatches checks a keyless student's password.
func (c *Class) PasswordMatches(name, password string) bool {
	s, ok := c.Lookup(name)
	return ok && s.PasswordHash != "" && bcrypt.CompareHashAndPassword([]byte(s.PasswordHash), []byte(password)) == nil
}

// newPassword is about 59 random bits a student can read off a screen and type:
// three groups of four letters and digits without look-alikes.
func newPassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	out := make([]byte, 0, 14)
	for i, x := range b {
		if i > 0 && i%4 == 0 {
			out = append(out, '-')
		}
		out = append(out, alphabet[int(x)%len(alphabet)])
	}
	return string(out)
}

func freeSlot(r *roll) (int, error) {
	used := map[int]bool{}
	for _, s := range r.Students {
		used[s.Slot] = true
	}
	for i := 0; i < labhost.MaxSlots; i++ {
		if !used[i] {
			return i, nil
		}
	}
	return 0, fmt.Errorf("the class has %d names, as many as uid ranges allow", len(r.Students))
}

func (c *Class) load() (*roll, error) {
	r := &roll{Version: rollVersion, Students: map[string]*Student{}}
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the class roll: %w", err)
	}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("the class roll %s is damaged (%w): fix or remove it (removing it un-pins every student's key)", c.path, err)
	}
	if r.Version > rollVersion {
		return nil, fmt.Errorf("the class roll %s was written by a newer kcna-lab (format %d, this one reads %d)", c.path, r.Version, rollVersion)
	}
	if r.Students == nil {
		r.Students = map[string]*Student{}
	}
	return r, nil
}

// save writes the roll atomically: temp file, fsync, rename.
func (c *Class) save(r *roll) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the class roll: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(c.path), ".class-*.json")
	if err != nil {
		return fmt.Errorf("save the class roll: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("save the class roll: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save the class roll: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save the class roll: %w", err)
	}
	if err := os.Rename(f.Name(), c.path); err != nil {
		return fmt.Errorf("save the class roll: %w", err)
	}
	return nil
}

// lockFile takes an exclusive flock, so two servers on one state dir (a
// mistake) cannot give one slot twice.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the class roll: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the class roll: %w", err)
	}
	return func() { f.Close() }, nil
}

// Shard splits a class over servers by student name.
type Shard struct{ Index, Count int }

// ParseShard reads INDEX/COUNT; INDEX "auto" is the ordinal at the end of
// hostname (a StatefulSet's pod kcna-lab-2 is shard 2).
func ParseShard(s, hostname string) (Shard, error) {
	if s == "" {
		return Shard{0, 1}, nil
	}
	idx, cnt, ok := strings.Cut(s, "/")
	count, err := strconv.Atoi(cnt)
	if !ok || err != nil || count < 1 {
		return Shard{}, fmt.Errorf("--shard %q: want INDEX/COUNT, e.g. 0/3 or auto/3", s)
	}
	if idx == "auto" {
		i := strings.LastIndex(hostname, "-")
		if i < 0 {
			return Shard{}, fmt.Errorf("--shard auto/%d: the hostname %q does not end in -N (a StatefulSet pod name)", count, hostname)
		}
		idx = hostname[i+1:]
	}
	index, err := strconv.Atoi(idx)
	if err != nil || index < 0 || index >= count {
		return Shard{}, fmt.Errorf("--shard %q: INDEX must be 0..%d", s, count-1)
	}
	return Shard{index, count}, nil
}

// Of is the shard a student name belongs to: FNV-1a (32 bits) mod Count.
func (s Shard) Of(name string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return int(h.Sum32() % uint32(s.Count))
}
