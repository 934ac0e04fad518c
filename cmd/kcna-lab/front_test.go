package main

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/internal/testbuild"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// TestFrontTakes: the front keeps only its commands, and never help.
func TestFrontTakes(t *testing.T) {
	for _, c := range []struct {
		args string
		want bool
	}{
		{"", false},
		{"--version", true},
		{"-v", true},
		{"-- ps", false},
		{"ps -- -h", true}, // after --, not a flag of kcna-lab's
		{"ps", true},
		{"ps --json", true},
		{"--content /x lessons", true},
		{"progress --json", true},
		{"glossary cgroup", true},
		{"layers x", true},
		{"exam --blueprint", false},
		{"lessons --help", false},
		{"run -h -- true", false},
		{"run --isolate pid -- sh --help", true}, // the command's own flag
		{"show 01", false},
		{"--content ps show 01", false}, // ps is --content's value
		{"help run", false},
		{"__complete run --i", false},
		{"completion bash", false},
		{"--content /x", false},
		{"psx", false},
	} {
		if got := takes(strings.Fields(c.args)); got != c.want {
			t.Errorf("takes(%q) = %v, want %v", c.args, got, c.want)
		}
	}
}

// TestFrontMatchesFull: whichever program answers, the learner sees what
// kcna-lab-full prints, byte for byte, with its exit status: help and a
// mistyped command (handed over), completion (handed over, as the
// installed completions call it) and the commands the front runs itself.
func TestFrontMatchesFull(t *testing.T) {
	dir := t.TempDir()
	lab := testbuild.Lab(t, dir)
	full := filepath.Join(dir, "kcna-lab-full")
	// A private cache and state, shared by both programs, as a learner's.
	home := t.TempDir()
	env := append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(home, "cache"), "XDG_STATE_HOME="+filepath.Join(home, "state"),
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "HOME="+home, "SUDO_USER=", "KCNA_LAB_WORKSHOP=", "KCNA_LAB_CONTENT=",
		"KCNA_LAB_IMAGES="+filepath.Join(home, "images"), "KCNA_LAB_FULL=")
	runAs := func(prog string, args ...string) (string, int) {
		cmd := exec.Command(prog, args...)
		cmd.Args[0] = "kcna-lab" // as a shell runs either: by its name on PATH
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%s %v: %v", prog, args, err)
		}
		return out.String(), code
	}
	// The command lines the front must answer itself; the rest it hands over.
	answers := map[string]bool{"--version": true, "ps": true, "lessons": true, "lessons --json": true,
		"progress": true, "progress --json": true, "progress --reset --json": true,
		"glossary": true, "glossary cgroup": true, "glossary no-such-term": true,
		"layers kl-no-such-sandbox": true, "apparmor": true, "logs kl-no-such-sandbox": true,
		"run --isolate bogus -- true": true, "stop kl-no-such-sandbox": true, "run --rootfs /nonexistent -- true": true}
	// frontAnswers reports whether the front answered args itself (for
	// lessons, progress and glossary from the index the first run had
	// kcna-lab-full write): kcna-lab-full's packages, goldmark's among
	// them, are never initialised.
	frontAnswers := func(args ...string) bool {
		cmd := exec.Command(lab, args...)
		cmd.Args[0] = "kcna-lab"
		cmd.Env = append(slices.Clip(env), "GODEBUG=inittrace=1")
		trace, _ := cmd.CombinedOutput()
		return strings.Contains(string(trace), "init runtime @") && !strings.Contains(string(trace), "init github.com/yuin/goldmark")
	}
	for _, args := range [][]string{
		{"--help"}, {"run", "--help"}, {"psx"}, {"lessons", "--bogus"},
		{"__complete", "run", "--i"}, {"__complete", ""},
		{"--version"}, {"ps"}, {"lessons"}, {"lessons", "--json"}, {"progress"}, {"progress", "--json"},
		{"progress", "--reset", "--json"},
		{"glossary"}, {"glossary", "cgroup"}, {"glossary", "no-such-term"},
		{"layers", "kl-no-such-sandbox"}, {"layers"}, {"apparmor"},
		{"logs", "kl-no-such-sandbox"}, {"run", "--isolate", "bogus", "--", "true"},
		// Errors the front prints itself, as kcna-lab-full's fang does.
		{"stop", "kl-no-such-sandbox"}, {"run", "--rootfs", "/nonexistent", "--", "true"},
		// Not in the store and from a registry: a pull, which only
		// kcna-lab-full links (nothing listens on port 1).
		{"run", "--image", "127.0.0.1:1/lab/none:1", "--", "true"},
	} {
		want, wantCode := runAs(full, args...)
		got, code := runAs(lab, args...)
		if got != want || code != wantCode {
			t.Errorf("kcna-lab %s: front exit %d:\n%s\nkcna-lab-full exit %d:\n%s", strings.Join(args, " "), code, got, wantCode, want)
		}
		if answers[strings.Join(args, " ")] && !frontAnswers(args...) {
			t.Errorf("kcna-lab %s was handed over to kcna-lab-full; the front should answer it", strings.Join(args, " "))
		}
	}
	// A progress file that does not parse is kept aside with a notice;
	// one from a newer kcna-lab is an error. The front says either itself.
	state := filepath.Join(home, "state", "kcna-lab")
	writeProgress := func(body string) {
		t.Helper()
		if err := os.RemoveAll(state); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(state, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(state, "progress.json"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, body := range []string{`{"version": 1, "lessons": [`, `{"version": 99}`} {
		writeProgress(body)
		want, wantCode := runAs(full, "progress")
		writeProgress(body)
		got, code := runAs(lab, "progress")
		if got != want || code != wantCode {
			t.Errorf("kcna-lab progress, the file %s: front exit %d:\n%s\nkcna-lab-full exit %d:\n%s", body, code, got, wantCode, want)
		}
		writeProgress(body)
		if !frontAnswers("progress") {
			t.Errorf("kcna-lab progress, the file %s, was handed over to kcna-lab-full; the front should answer it", body)
		}
	}
	cache, err := sandbox.CacheDir() // root's ignores XDG_CACHE_HOME
	if os.Geteuid() != 0 {
		cache = filepath.Join(home, "cache", "kcna-lab")
	}
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := filepath.Glob(filepath.Join(cache, "course-*.index.json"))
	if len(idx) != 1 {
		t.Errorf("the course's index beside its cache: %v", idx)
	}
}

// TestFrontWithoutFull: a front with no kcna-lab-full beside it says
// where it looked and how to get it, and runs its own commands still.
func TestFrontWithoutFull(t *testing.T) {
	dir := t.TempDir()
	testbuild.Lab(t, dir)
	alone := filepath.Join(t.TempDir(), "kcna-lab")
	if err := os.Link(filepath.Join(dir, "kcna-lab"), alone); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(alone, "show", "01")
	cmd.Env = append(os.Environ(), "KCNA_LAB_FULL=")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 127 {
		t.Fatalf("kcna-lab show 01 without kcna-lab-full: %v\n%s", err, out)
	}
	want := filepath.Join(filepath.Dir(alone), "kcna-lab-full")
	for _, w := range []string{"kcna-lab-full is not at " + want, "`kcna-lab show 01`", "make build", "make install"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("the error lacks %q:\n%s", w, out)
		}
	}
	cmd = exec.Command(alone, "--version")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "kcna-lab version ") {
		t.Errorf("kcna-lab --version alone: %v: %s", err, out)
	}

	// One that anyone may change is refused, saying why: it would run
	// with the learner's privileges (root's, under sudo).
	b, err := os.ReadFile(filepath.Join(dir, "kcna-lab-full"))
	if err != nil {
		t.Fatal(err)
	}
	unsafe := filepath.Join(filepath.Dir(alone), "kcna-lab-full")
	if err := os.WriteFile(unsafe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(unsafe, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	cmd = exec.Command(alone, "show", "01")
	cmd.Env = append(os.Environ(), "KCNA_LAB_FULL=")
	out, err = cmd.CombinedOutput()
	if !errors.As(err, &ee) || ee.ExitCode() != 127 || !strings.Contains(string(out), "is not an executable file that only root, you or the owner of") {
		t.Errorf("kcna-lab show 01 with a world-writable kcna-lab-full: %v\n%s", err, out)
	}
}

// TestFrontLinksNoRenderer: what the front's binary is built from, as
// the Go toolchain recorded it in the binary, has none of the renderer,
// the TUI or the workshop's SSH server, nor the course's parser (YAML)
// and cache (gob), which only kcna-lab-full reads, nor fang and the
// styling under it (the front prints its errors as fang does, without
// it): their package initialisation is what the front exists to skip.
// The standard library is not in that record, so its packages are looked
// for as the runtime initialises them.
func TestFrontLinksNoRenderer(t *testing.T) {
	lab := testbuild.Lab(t, t.TempDir())
	info, err := buildinfo.ReadFile(lab)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Deps) == 0 {
		t.Fatalf("%s records no modules", lab)
	}
	banned := []string{"github.com/yuin/goldmark", "charm.land/glamour", "github.com/alecthomas/chroma",
		"charm.land/bubbletea", "charm.land/bubbles", "charm.land/wish", "charm.land/ssh", "golang.org/x/crypto",
		"github.com/google/go-containerregistry", // a registry client: `run --image` reads the local store
		"go.yaml.in/yaml", "gopkg.in/yaml",       // lessons/parse's
		"github.com/elastic/go-seccomp-bpf", // its tables are maps built at init; kernel/seccomp has them as constants
		// fang, and what it styles and measures text with.
		"charm.land/fang", "charm.land/lipgloss", "github.com/charmbracelet/ultraviolet", "github.com/charmbracelet/colorprofile",
		"github.com/charmbracelet/x/ansi", "github.com/charmbracelet/x/exp/charmtone", "github.com/mattn/go-runewidth",
		"github.com/rivo/uniseg", "github.com/clipperhouse", "github.com/lucasb-eyer/go-colorful", "github.com/xo/terminfo",
		"github.com/muesli", "golang.org/x/text"}
	for _, d := range info.Deps {
		for _, b := range banned {
			if strings.HasPrefix(d.Path, b) {
				t.Errorf("kcna-lab links %s %s: it belongs in kcna-lab-full", d.Path, d.Version)
			}
		}
	}
	cmd := exec.Command(lab, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	trace, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(trace), "init runtime @") {
		t.Fatalf("kcna-lab --version with GODEBUG=inittrace=1: %v\n%s", err, trace)
	}
	for _, std := range []string{"encoding/gob"} { // lessons/parse's cache
		if strings.Contains(string(trace), "init "+std+" @") {
			t.Errorf("kcna-lab initialises %s: it belongs in kcna-lab-full", std)
		}
	}
}

// TestFrontHandsOverWithoutAskingTheTerminal: on a terminal, a command
// line the front hands over goes straight to kcna-lab-full, not through
// an error path: fang's (kcna-lab-full's, which the front's errors take
// on a terminal) first asks the terminal for its background colour (OSC
// 11), a round trip, and seconds on a terminal that never answers, as
// this one does not.
func TestFrontHandsOverWithoutAskingTheTerminal(t *testing.T) {
	dir := t.TempDir()
	lab := testbuild.Lab(t, dir)
	course, err := filepath.Abs(filepath.Join("..", "..", "content"))
	if err != nil {
		t.Fatal(err)
	}
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	home := t.TempDir()
	// --content: only kcna-lab-full parses a course, so lessons is
	// handed over after cobra has run.
	cmd := exec.Command(lab, "lessons", "--content", course)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_STATE_HOME="+home, "XDG_CACHE_HOME="+home, "KCNA_LAB_FULL=", "KCNA_LAB_WORKSHOP=", "TERM=xterm-256color")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var out bytes.Buffer
	_, _ = io.Copy(&out, ptmx) // until the process and its terminal are gone (EIO)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kcna-lab lessons --content %s: %v\n%q", course, err, out.String())
	}
	if strings.Contains(out.String(), "\x1b]11;?") {
		t.Errorf("the hand-over asked the terminal for its colours first:\n%q", out.String())
	}
	if !strings.Contains(out.String(), "why-containers") {
		t.Errorf("kcna-lab-full did not list the course:\n%q", out.String())
	}
}

// TestFrontTrustsItsOwnersFull: `sudo ./bin/kcna-lab` runs a learner's own
// build as root, and a workshop lab sees both programs owned by nobody: a
// kcna-lab-full owned by whoever owns the running kcna-lab is trusted
// (that owner could change the front itself), as root's or the caller's is.
func TestFrontTrustsItsOwnersFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give the programs to another owner")
	}
	dir := t.TempDir()
	testbuild.Lab(t, dir)
	own := t.TempDir()
	for _, name := range []string{"kcna-lab", "kcna-lab-full"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(own, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(own, "kcna-lab"), "--help")
	cmd.Env = append(os.Environ(), "KCNA_LAB_FULL=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "kcna-lab") || strings.Contains(string(out), "not an executable file") {
		t.Errorf("root running nobody's kcna-lab --help, with nobody's kcna-lab-full beside it: %v\n%s", err, out)
	}
}

// TestFrontCommandsAreItsRoot: the commands takes() keeps are exactly the
// ones the front's root can run; one in the list alone would be handed
// over after all, one in the root alone never reached.
func TestFrontCommandsAreItsRoot(t *testing.T) {
	var names []string
	for _, c := range newRootCmd(&cli.App{}, func() {}).Commands() {
		names = append(names, c.Name())
	}
	slices.Sort(names)
	if want := slices.Sorted(slices.Values(commands)); !slices.Equal(names, want) {
		t.Errorf("the front's root runs %v; takes() keeps %v", names, want)
	}
}

// TestFrontPrintsErrorsAsFull: an error the front prints off a terminal
// (plainError) is, byte for byte and with its exit status, what
// kcna-lab-full's fang prints for it (__error, which the front runs on a
// terminal), for messages made to meet lipgloss's layout: several lines
// of unequal length, blank lines, leading and trailing spaces, a
// complaint about the command line; one whose layout the front does not
// know (a tab, a letter not in ASCII) it leaves to kcna-lab-full.
func TestFrontPrintsErrorsAsFull(t *testing.T) {
	dir := t.TempDir()
	testbuild.Lab(t, dir)
	full := filepath.Join(dir, "kcna-lab-full")
	for _, c := range []struct {
		msg    string
		status int
		plain  bool
	}{
		{`no running sandbox called "x"; ` + "`kcna-lab ps`" + ` lists them`, 1, true},
		{"--rootfs /nonexistent: stat /nonexistent: no such file or directory", cli.RunFailed, true},
		{"first line\na longer second line\n3", 1, true},
		{"a\n\nb", 1, true},
		{"\nstarts with a line break", 1, true},
		{"ends with a line break\n", 1, true},
		{"  leading and trailing spaces  ", 1, true},
		{`invalid argument "x" for "--count": not a number`, 1, true},
		{"unknown command \"x\" for \"kcna-lab\"", 1, true},
		{"x", 2, true},
		{"a tab\there", 1, false},
		{"café", 1, false},
		{"a bell\a", 1, false},
	} {
		text, ok := plainError(cli.WithCode(errors.New(c.msg), c.status))
		if ok != c.plain {
			t.Errorf("plainError(%q): plain %v, want %v", c.msg, ok, c.plain)
		}
		if !ok {
			continue
		}
		cmd := exec.Command(full, cli.PrintErrorCommand, "--", strconv.Itoa(c.status), c.msg)
		cmd.Args[0] = "kcna-lab"
		cmd.Env = append(os.Environ(), "CLICOLOR_FORCE=", "TTY_FORCE=", "NO_COLOR=")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != c.status || stdout.Len() != 0 {
			t.Errorf("kcna-lab-full %s %d %q: %v, stdout %q", cli.PrintErrorCommand, c.status, c.msg, err, stdout.String())
		}
		if stderr.String() != text {
			t.Errorf("%q: the front prints\n%q\nkcna-lab-full\n%q", c.msg, text, stderr.String())
		}
	}
}

// TestFrontErrorsOnATerminalAreFulls: on a terminal, where fang styles
// an error for it, the front's error reaches the terminal exactly as
// kcna-lab-full's, colours and all, with the same exit status. (Standard
// output is a pipe here, so neither asks the terminal for its colours,
// which this one would never answer.)
func TestFrontErrorsOnATerminalAreFulls(t *testing.T) {
	dir := t.TempDir()
	lab := testbuild.Lab(t, dir)
	full := filepath.Join(dir, "kcna-lab-full")
	home := t.TempDir()
	env := append(os.Environ(), "HOME="+home, "XDG_STATE_HOME="+home, "XDG_CACHE_HOME="+home, "KCNA_LAB_FULL=",
		"KCNA_LAB_WORKSHOP=", "TERM=xterm-256color", "COLORTERM=", "NO_COLOR=", "CLICOLOR=", "CLICOLOR_FORCE=", "TTY_FORCE=")
	onTerminal := func(prog string, args ...string) (string, int) {
		t.Helper()
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pseudo-terminal here: %v", err)
		}
		defer ptmx.Close()
		cmd := exec.Command(prog, args...)
		cmd.Args[0] = "kcna-lab"
		cmd.Env = env
		var stdout bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, tty
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		tty.Close()
		var out bytes.Buffer
		_, _ = io.Copy(&out, ptmx) // until the process and its terminal are gone (EIO)
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s %v on a terminal: %v, want an exit status", prog, args, err)
		}
		return out.String(), ee.ExitCode()
	}
	for _, args := range [][]string{{"stop", "kl-no-such-sandbox"}, {"run", "--rootfs", "/nonexistent", "--", "true"}} {
		want, wantCode := onTerminal(full, args...)
		got, code := onTerminal(lab, args...)
		if got != want || code != wantCode {
			t.Errorf("kcna-lab %s on a terminal: front exit %d:\n%q\nkcna-lab-full exit %d:\n%q", strings.Join(args, " "), code, got, wantCode, want)
		}
		if !strings.Contains(want, "\x1b[") || !strings.Contains(want, "ERROR") {
			t.Errorf("kcna-lab-full did not style its error on a terminal: %q", want)
		}
	}
}
