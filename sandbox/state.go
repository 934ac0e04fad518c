package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kcna-lab/kcna-lab/kernel/journal"
)

// State is what `ps` shows of a running sandbox, kept in its state dir.
type State struct {
	Name      string      `json:"name"`
	Args      []string    `json:"args"`
	Isolate   []Namespace `json:"isolate"`
	Root      RootMode    `json:"root_mode"`
	Limits    Limits      `json:"limits"`
	Created   time.Time   `json:"created"`
	InitPID   int         `json:"init_pid"`
	InitStart uint64      `json:"init_start"`
	Cgroups   []string    `json:"cgroups,omitempty"`
	// ExecSocket is where the sandbox's init takes exec requests.
	ExecSocket string `json:"exec_socket"`
	// Layers is the overlay root filesystem, when there is one.
	Layers *LayersState `json:"layers,omitempty"`
	// Net is the sandbox's place on a bridge, with --net bridge.
	Net *NetState `json:"net,omitempty"`
}

// NetState is where a sandbox on a bridge can be reached.
type NetState struct {
	Bridge  string        `json:"bridge"`
	IP      netip.Addr    `json:"ip"`
	Publish []PortMapping `json:"publish,omitempty"`
}

// LayersState locates a sandbox's overlay: overlay.Open(Dir, Lower).
type LayersState struct {
	Dir   string   `json:"dir"`
	Lower []string `json:"lower"`
}

// Running reports whether the sandbox's init is still the same process.
func (s State) Running() bool {
	st, err := journal.ProcStartTime(s.InitPID)
	return err == nil && st == s.InitStart
}

// StateDir is where kcna-lab keeps journals and running sandboxes:
// /run/kcna-lab as root, else the user's runtime dir.
func StateDir() string {
	if os.Geteuid() == 0 {
		return "/run/kcna-lab"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "kcna-lab")
	}
	return filepath.Join(os.TempDir(), "kcna-lab-"+strconv.Itoa(os.Geteuid()))
}

// CacheDir holds the default root filesystem, built once. Root's is
// /var/cache/kcna-lab rather than /root/.cache: a sandbox's root user is
// an unprivileged host user that could not walk into /root to reach it.
func CacheDir() (string, error) {
	if os.Geteuid() == 0 {
		return "/var/cache/kcna-lab", nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "kcna-lab"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a cache dir for the root filesystem (set XDG_CACHE_HOME): %w", err)
	}
	return filepath.Join(d, "kcna-lab"), nil
}

func sandboxDir(name string) string { return filepath.Join(StateDir(), "sandboxes", name) }

// JournalDir is where every kcna-lab process keeps the journals that
// `kcna-lab clean` sweeps.
func JournalDir() string { return filepath.Join(StateDir(), "journals") }

// List returns the sandboxes that are running, by name.
func List() ([]State, error) {
	dirs, err := filepath.Glob(filepath.Join(StateDir(), "sandboxes", "*", "state.json"))
	if err != nil {
		return nil, err
	}
	var out []State
	for _, p := range dirs {
		st, err := readState(p)
		if err != nil || !st.Running() {
			continue // being created, or ended and about to be swept
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Find returns the running sandbox called name.
func Find(name string) (State, error) {
	if err := ValidateName(name); err != nil {
		return State{}, err
	}
	st, err := readState(filepath.Join(sandboxDir(name), "state.json"))
	if errors.Is(err, os.ErrNotExist) || (err == nil && !st.Running()) {
		return State{}, notRunning(name)
	}
	return st, err
}

// ErrNotRunning is what Find's error is (errors.Is) when there is no
// running sandbox of that name, told apart from failing to look.
var ErrNotRunning = errors.New("no such running sandbox")

type notRunning string

func (n notRunning) Error() string {
	return fmt.Sprintf("no running sandbox called %q; `kcna-lab ps` lists them", string(n))
}

func (notRunning) Is(target error) bool { return target == ErrNotRunning }

func readState(path string) (State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return State{}, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return State{}, fmt.Errorf("read %s: %w", path, err)
	}
	return st, nil
}

// writeState saves st atomically, so `ps` never reads half a file.
func writeState(dir string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ".state.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write sandbox state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, "state.json"))
}

// LogPath is where a background sandbox's output goes (`kcna-lab logs`).
// It stays after the sandbox ends, so a learner can read why it stopped,
// until the next sandbox of that name starts or `kcna-lab clean` runs.
func LogPath(name string) string { return filepath.Join(StateDir(), "logs", name+".log") }

// RemoveLogs deletes the logs of sandboxes that are no longer running.
func RemoveLogs() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(StateDir(), "logs", "*.log"))
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".log")
		if st, err := Find(name); err == nil && st.Running() {
			continue
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, f)
	}
	return removed, nil
}

// LabProgramEnv names an environment variable that, when set, is the
// kcna-lab binary that kcna-lab runs again for work that must outlive or
// stand beside the calling process: the challenge setups' background
// sandboxes and the mesh's sidecars. Tests point it at a fresh build,
// since a test binary knows none of kcna-lab's commands.
const LabProgramEnv = "KCNA_LAB_BIN"

// LabProgram is that binary: $KCNA_LAB_BIN, else the running program by
// its real path (not /proc/self/exe, which nsenter, for one, would read
// as itself).
func LabProgram() (string, error) {
	p := os.Getenv(LabProgramEnv)
	if p == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find kcna-lab's own binary (or set %s): %w", LabProgramEnv, err)
		}
		p = exe
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("the kcna-lab binary: %w", err)
	}
	return p, nil
}
