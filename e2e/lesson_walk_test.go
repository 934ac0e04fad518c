package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// The lesson the walk takes, and its challenge: one that is done from
// inside the lesson's own sandbox shell (`s`), as the learner would.
const (
	walkLesson    = "vms-vs-containers"
	walkChallenge = "same-kernel"
)

// walker is a tmux server of the walk's own (its socket is unique), with
// one 80x24 window running the course.
type walker struct {
	t      *testing.T
	socket string
	// last is the latest screen seen, printed when a wait fails.
	last string
}

func newWalker(t *testing.T) *walker {
	t.Helper()
	w := &walker{t: t, socket: fmt.Sprintf("kcna-walk-%d-%d", os.Getpid(), time.Now().UnixNano())}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", w.socket, "kill-server").Run() })
	return w
}

func (w *walker) tmux(args ...string) string {
	w.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", w.socket}, args...)...).CombinedOutput()
	if err != nil {
		w.t.Fatalf("tmux %v: %v\n%s\nlast screen:\n%s", args, err, out, w.last)
	}
	return string(out)
}

func (w *walker) screen() string {
	w.last = w.tmux("capture-pane", "-p", "-t", "walk")
	return w.last
}

// press sends tmux key names (Enter, PageDown, q, ...).
func (w *walker) press(keys ...string) {
	w.t.Helper()
	w.tmux(append([]string{"send-keys", "-t", "walk"}, keys...)...)
}

// typeLine types text literally, then Enter.
func (w *walker) typeLine(text string) {
	w.t.Helper()
	w.tmux("send-keys", "-t", "walk", "-l", text)
	w.press("Enter")
}

// until polls the screen until ok accepts it; what says what was awaited.
func (w *walker) until(timeout time.Duration, what string, ok func(string) bool) string {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		scr := w.screen()
		if ok(scr) {
			return scr
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("after %v the screen still does not show %s; last screen:\n%s", timeout, what, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor waits until the screen shows every one of texts.
func (w *walker) waitFor(timeout time.Duration, texts ...string) string {
	w.t.Helper()
	return w.until(timeout, fmt.Sprintf("%q", texts), func(s string) bool {
		for _, t := range texts {
			if !strings.Contains(s, t) {
				return false
			}
		}
		return true
	})
}

// failIf stops the walk with the screen when it shows text.
func (w *walker) failIf(scr, text, why string) {
	w.t.Helper()
	if strings.Contains(scr, text) {
		w.t.Fatalf("%s; screen:\n%s", why, scr)
	}
}

// line is the screen's line containing substr, or "".
func line(scr, substr string) string {
	for l := range strings.SplitSeq(scr, "\n") {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

// fits checks that a screen is whole at 80x24: the header on its first
// line, the footer still on the screen.
func (w *walker) fits(scr, header, footer string) {
	w.t.Helper()
	lines := strings.Split(strings.TrimRight(scr, "\n"), "\n")
	if len(lines) > 24 || !strings.HasPrefix(lines[0], header) || !strings.Contains(scr, footer) {
		w.t.Fatalf("the screen does not fit 80x24 (want %q on top and %q in the footer):\n%s", header, footer, scr)
	}
	for _, l := range lines {
		if n := len([]rune(l)); n > 80 {
			w.t.Fatalf("a line of %d cells at 80 columns:\n%s", n, scr)
		}
	}
}

// appPID is the course's process: the child of the window's shell that
// runs bin, which (the slim front) has by then executed kcna-lab-full
// beside it in its own place, the same process.
func (w *walker) appPID(bin string) int {
	w.t.Helper()
	shell := strings.TrimSpace(w.tmux("display-message", "-p", "-t", "walk", "#{pane_pid}"))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%s/task/%s/children", shell, shell))
		for _, f := range strings.Fields(string(b)) {
			if exe, _ := os.Readlink("/proc/" + f + "/exe"); exe == bin || exe == bin+"-full" {
				pid, _ := strconv.Atoi(f)
				return pid
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.t.Fatalf("no process of %s under the window's shell %s", bin, shell)
	return 0
}

// openAndRead moves the course map's cursor down index rows to lesson l,
// opens it, and reads it to the end page by page: every screen must fit
// 80x24, every section heading of the lesson must pass by, and there must
// be at least minHeadings of them.
func (w *walker) openAndRead(l *lessons.Lesson, index, minHeadings int) {
	w.t.Helper()
	header := fmt.Sprintf("%d. %s", l.Order, l.Title)
	for range index {
		w.press("Down")
	}
	w.until(5*time.Second, "the cursor on "+l.Title, func(s string) bool {
		return strings.HasPrefix(strings.TrimSpace(line(s, l.Title)), ">")
	})
	w.press("Enter")
	scr := w.waitFor(10*time.Second, header, "After this lesson you can")
	w.fits(scr, header, "r run demo")
	var headings []string
	for ln := range strings.SplitSeq(l.Body, "\n") {
		if h, ok := strings.CutPrefix(ln, "## "); ok && len(h) < 70 {
			headings = append(headings, h)
		}
	}
	seen := scr
	for i := 0; !strings.Contains(line(scr, header), "100%"); i++ {
		if i > 120 {
			w.t.Fatalf("the lesson never scrolled to 100%%; last screen:\n%s", scr)
		}
		before := scr
		w.press("PageDown")
		scr = w.until(5*time.Second, "the next page", func(s string) bool { return s != before || strings.Contains(line(s, header), "100%") })
		w.fits(scr, header, "r run demo")
		seen += scr
	}
	for _, h := range headings {
		if !strings.Contains(seen, h) {
			w.t.Errorf("reading the lesson to the end never showed the section %q", h)
		}
	}
	if len(headings) < minHeadings {
		w.t.Errorf("only %d section headings found in the lesson body", len(headings))
	}
}

// passQuiz takes lesson l's quiz from the lesson, answering every
// question as the lesson file says, and waits for the full score on the
// course map.
func (w *walker) passQuiz(l *lessons.Lesson) {
	w.t.Helper()
	w.press("z")
	for i, q := range l.Quiz {
		w.waitFor(5*time.Second, fmt.Sprintf("Quiz: %s  question %d of %d", l.Title, i+1, len(l.Quiz)))
		for _, a := range q.Answers {
			w.press(lessons.Letter(a))
		}
		if q.Multi() {
			want := make([]string, len(q.Answers))
			for j, a := range q.Answers {
				want[j] = fmt.Sprintf("[x] %s)", lessons.Letter(a))
			}
			w.waitFor(5*time.Second, want...)
		}
		w.press("Enter")
		scr := w.until(5*time.Second, "the verdict", func(s string) bool {
			return strings.Contains(s, "Right.") || strings.Contains(s, "Not quite.")
		})
		w.failIf(scr, "Not quite.", fmt.Sprintf("question %s answered %v from the lesson file was marked wrong", q.ID, q.Answers))
		w.press("n")
	}
	n := len(l.Quiz)
	w.waitFor(5*time.Second, fmt.Sprintf("You answered %d of %d right this time.", n, n), fmt.Sprintf("Across all your tries: %d of %d.", n, n))
	w.press("Enter")
	w.until(5*time.Second, "the lesson done on the map", func(s string) bool {
		row := line(s, l.Title)
		return strings.Contains(row, "[x]") && strings.Contains(row, "done") && strings.Contains(row, fmt.Sprintf("quiz %d/%d", n, n))
	})
}

// shellFlag is the value of flag in a demo's `kcna-lab shell` flags.
func shellFlag(flags []string, flag string) string {
	if i := slices.Index(flags, flag); i >= 0 && i+1 < len(flags) {
		return flags[i+1]
	}
	return ""
}

// TestLessonWalk walks one full lesson through real keys on the built
// binary at 80x24, as root so the sandbox is real: read it, run its demo,
// do its challenge in the lesson's sandbox shell, pass its quiz, quit, and
// find the progress saved and nothing of the walk left on the host.
func TestLessonWalk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the lesson's demo and sandbox shell create namespaces and cgroups (CI runs as root)")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux); the walk drives the course through it")
	}
	started := time.Now()

	// The lesson as its file says it, read with the repository's own loader.
	course, contentFlag := walkCourse(t, walkLesson)
	l, _ := course.Lesson(walkLesson)
	index := slices.Index(course.Lessons, l)
	var ch lessons.Challenge
	for _, c := range l.Challenges {
		if c.ID == walkChallenge {
			ch = c
		}
	}
	if ch.ID == "" || len(ch.Hints) == 0 || len(l.Demos) == 0 || len(l.Quiz) == 0 {
		t.Fatalf("lesson %s should have a demo, a quiz and the challenge %s with hints", l.ID, walkChallenge)
	}
	demo, ok := demos.Builtin().Demo(l.Demos[0])
	if !ok {
		t.Fatalf("demo %s is not registered", l.Demos[0])
	}
	box := shellFlag(demo.ShellFlags, "--name")
	if box == "" || !slices.Contains(demo.ShellFlags, "--keep") {
		t.Fatalf("the lesson's shell flags %v should name a sandbox and keep it for the check", demo.ShellFlags)
	}
	hostname := shellFlag(demo.ShellFlags, "--hostname")
	if hostname == "" {
		hostname = box // a sandbox's hostname defaults to its name
	}
	release := readTrimmed(t, "/proc/sys/kernel/osrelease")

	// The lesson's sandbox has a fixed name; someone else's (a learner's,
	// another test's) would be joined instead of ours.
	waitUntil(30*time.Second, func() bool { _, err := sandbox.Find(box); return err != nil })
	if _, err := sandbox.Find(box); err == nil {
		t.Skipf("a sandbox called %s is already running (not this test's); the walk would join it. Stop it with: kcna-lab stop %s", box, box)
	}

	// The learner's own progress must not be touched by the walk.
	learner, err := lessons.DefaultStore()
	if err != nil {
		t.Fatal(err)
	}
	realBefore := fileStamp(learner.Path)
	t.Cleanup(func() {
		if now := fileStamp(learner.Path); now != realBefore {
			t.Errorf("the learner's progress %s changed during the walk: %s, now %s", learner.Path, realBefore, now)
		}
	})

	bin := build(t)
	// The sandbox's root (an unprivileged host uid) must reach the init
	// program beside the binary; t.TempDir's directories are private.
	_ = os.Chmod(filepath.Dir(bin), 0o755)
	_ = os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
	t.Cleanup(func() {
		if _, err := sandbox.Find(box); err == nil {
			_ = exec.Command(bin, "stop", "--timeout", "2s", box).Run()
		}
		_ = os.Remove(sandbox.LogPath(box)) // the kept shell's sandbox ran in the background
	})

	// Progress and everything else of the learner's goes to a temp home.
	home := t.TempDir()
	state := filepath.Join(home, "state")
	env := []string{"HOME=" + home, "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"XDG_DATA_HOME=" + filepath.Join(home, "data"), "SUDO_USER=", "TERM=xterm-256color"}

	w := newWalker(t)
	w.tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "walk",
		"env "+strings.Join(env, " ")+" "+bin+contentFlag+"; echo kcna-lab-exited-$?; sleep 60")
	header := fmt.Sprintf("%d. %s", l.Order, l.Title)

	// 1. The course map; / searches the course and esc comes back, the
	// cursor where it was; then move to the lesson and open it.
	w.waitFor(15*time.Second, l.Title, "not started", "/ search")
	app := w.appPID(bin)
	w.press("/")
	word := strings.Fields(l.Title)[0]
	w.tmux("send-keys", "-t", "walk", "-l", word)
	// The whole word typed (the results already show after its first
	// letters), and the lesson found.
	scr := w.waitFor(5*time.Second, "/ "+word+"\n", fmt.Sprintf("> Lesson %d. %s", l.Order, l.Title), "result(s)")
	w.fits(scr, "/ "+word, "esc back")
	w.press("Escape")
	w.waitFor(5*time.Second, "> "+" 1  "+course.Lessons[0].Title)
	w.openAndRead(l, index, 3)

	// 2. The demo, live from the kernel.
	w.press("r")
	scr = w.until(3*time.Minute, "the demo's end", func(s string) bool {
		return strings.Contains(s, "Done. Press r to run it again.") || strings.Contains(s, "Cannot run here:")
	})
	w.failIf(scr, "Cannot run here:", "the demo failed")
	w.fits(scr, header, "r run demo")
	// uname -r on the host and in the sandbox, side by side: one kernel.
	if got := line(scr, release); strings.Count(got, release) != 2 {
		t.Errorf("want the host's kernel release %s in both columns of one line; screen:\n%s", release, scr)
	}
	for _, want := range []string{"(NSpid ", "PID 1 "} {
		if !strings.Contains(scr, want) {
			t.Errorf("the demo's output lacks %q; screen:\n%s", want, scr)
		}
	}
	// The host PID the demo shows is a process of this course, in a PID
	// namespace of its own: NSpid lists it there as 1.
	_, nspid, _ := strings.Cut(line(scr, "(NSpid "), "(NSpid ")
	nspid, _, _ = strings.Cut(nspid, ")")
	if f := strings.Fields(nspid); len(f) < 2 || f[len(f)-1] != "1" {
		t.Errorf("NSpid should end in 1, the sandbox's own PID: %q", line(scr, "(NSpid "))
	}

	// 3. The challenge. Checked before anything is done, it fails: the
	// verdict comes from live state, not from what was typed.
	w.press("c")
	scr = w.waitFor(5*time.Second, "Challenge: "+ch.Title, "enter check")
	w.fits(scr, header, "enter check")
	w.press("h")
	hint := strings.Fields(ch.Hints[0])
	w.waitFor(5*time.Second, "Hint 1: "+strings.Join(hint[:min(3, len(hint))], " "))
	w.press("Enter")
	scr = w.waitFor(30*time.Second, "Not yet:", "no sandbox called "+box)
	w.fits(scr, header, "enter check")

	// In the sandbox's shell: the prompt, its own hostname, the host's
	// kernel. Leave without doing the task: still not passed.
	w.press("s")
	w.waitFor(30*time.Second, "[sandbox "+hostname)
	w.typeLine(`echo "name=$(hostname)=" "kernel=$(uname -r)="`)
	w.waitFor(10*time.Second, "name="+hostname+"=", "kernel="+release+"=")
	if host, _ := os.Hostname(); host == hostname {
		t.Errorf("the host's hostname is the sandbox's, %s: the shell did not show its own UTS namespace", host)
	}
	w.typeLine("exit")
	// Back in the course, the verdict from before the shell is gone: the
	// sandbox it said was missing runs now.
	scr = w.waitFor(15*time.Second, "Challenge: "+ch.Title, "enter checks")
	w.failIf(scr, "Not yet:", "back from the shell, the stale verdict is still shown")
	w.fits(scr, header, "enter check")
	w.press("Enter")
	scr = w.waitFor(30*time.Second, "Not yet:", "no /root/kernel.txt")
	w.fits(scr, header, "enter check")

	// `s` again joins the kept sandbox; do the task there.
	w.press("s")
	w.waitFor(30*time.Second, "[sandbox "+hostname)
	w.typeLine(`uname -r > /root/kernel.txt; echo "saved=$(cat /root/kernel.txt)="`)
	w.waitFor(10*time.Second, "saved="+release+"=")
	w.typeLine("exit")
	w.waitFor(15*time.Second, "Challenge: "+ch.Title)
	w.press("Enter")
	scr = w.waitFor(30*time.Second, "Passed:", release, "Solution")
	w.failIf(scr, "Not yet:", "a stale verdict is shown beside the pass")
	w.fits(scr, header, "enter check")
	// The sandbox is the one the check read: running, with the file.
	st, err := sandbox.Find(box)
	if err != nil {
		t.Fatalf("after the shell the sandbox %s should keep running: %v", box, err)
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/root/root/kernel.txt", st.InitPID)); err != nil || strings.TrimSpace(string(b)) != release {
		t.Errorf("inside %s, /root/kernel.txt holds %q (%v), want %s", box, b, err, release)
	}

	// 4. The quiz, every answer taken from the lesson file.
	w.press("q")
	w.until(5*time.Second, "the challenge pane closed", func(s string) bool { return !strings.Contains(s, "Challenge: "+ch.Title) })
	w.passQuiz(l)
	// Every answer was right: r on the map has nothing to retry.
	w.press("r")
	w.waitFor(5*time.Second, "Retry what you missed", "Nothing is due for review")
	w.press("q")
	w.waitFor(5*time.Second, l.Title, "/ search")

	// 5. Quit. The course lists the kept sandbox with the command that
	// stops it; the learner keeps it, and on the way out the course says
	// again that it runs.
	w.press("q")
	w.waitFor(15*time.Second, "Sandboxes still running", "kcna-lab stop "+box)
	w.press("n")
	scr = w.waitFor(15*time.Second, "kcna-lab-exited-0")
	// Others' sandboxes (a concurrent test's) may be named beside ours.
	_, running, _ := strings.Cut(strings.Join(strings.Fields(scr), " "), "still running: ")
	running, _, _ = strings.Cut(running, ".")
	if !slices.Contains(strings.Split(running, ", "), box) {
		t.Errorf("on the way out the course should say that %s still runs; screen:\n%s", box, scr)
	}

	// The progress file, read with the repository's own store.
	wantLessonDone(t, state, l, ch.ID, len(l.Quiz))

	// The learner's way to end the kept sandbox, then nothing of the walk
	// may be left: sandbox, cgroup, mount, link or journal.
	if out, code := kl(t, bin, "stop", box); code != 0 {
		t.Errorf("kcna-lab stop %s: exit %d %s", box, code, out)
	}
	ours := []string{box, "kernel-" + strconv.Itoa(app)}
	waitUntil(15*time.Second, func() bool { return len(leftovers(ours, app, st.InitPID)) == 0 })
	for _, left := range leftovers(ours, app, st.InitPID) {
		t.Errorf("left behind: %s", left)
	}
	if out, _ := kl(t, bin, "ps"); strings.Contains(out, box+" ") {
		t.Errorf("ps still lists %s:\n%s", box, out)
	}
	t.Logf("the walk took %v", time.Since(started).Round(time.Second))
}

// walkCourse loads the lesson files, the ones the binary embeds, with the
// repository's own loader: the walk takes its answers from them. The
// binary refuses to start on any problem in any lesson; when the only
// problems are in other lessons (a later part being written), the walk
// runs a copy of the lessons without problems (--content) rather than
// fail on what is not its business, and says so.
// wantLessonDone reads the progress file with the repository's own store
// and wants lesson l read, its demo run, challenge passed and all of its
// quiz of n questions answered right.
func wantLessonDone(t *testing.T, state string, l *lessons.Lesson, challenge string, n int) {
	t.Helper()
	store := &lessons.Store{Path: filepath.Join(state, "kcna-lab", "progress.json"), UID: -1, GID: -1}
	p, notice, err := store.Load()
	if err != nil || notice != "" {
		t.Fatalf("progress at %s: %v %s", store.Path, err, notice)
	}
	lp := p.Lessons[l.ID]
	switch {
	case lp == nil:
		t.Fatalf("no progress for %s in %s", l.ID, store.Path)
	case lp.ReadAt.IsZero():
		t.Errorf("the lesson is not marked read")
	case lp.DemoRuns < 1:
		t.Errorf("the demo run was not counted")
	case !p.Passed(l.ID, challenge):
		t.Errorf("the challenge %s is not recorded as passed", challenge)
	case p.Status(l) != lessons.Done:
		t.Errorf("the lesson's status is %q, want %q", p.Status(l), lessons.Done)
	}
	if right, total := p.Score(l); right != total || total != n {
		t.Errorf("saved quiz score %d of %d, want %d of %d", right, total, n, n)
	}
}

func walkCourse(t *testing.T, lessonID string) (*lessons.Course, string) {
	t.Helper()
	course, probs := parse.Load(os.DirFS("../content"), demos.Builtin())
	l, ok := course.Lesson(lessonID)
	if !ok {
		t.Fatalf("no lesson %s in ../content: %v", lessonID, probs)
	}
	if len(probs) == 0 {
		return course, ""
	}
	bad := map[string]bool{}
	for _, p := range probs {
		if p.File == l.File || !strings.HasSuffix(p.File, ".md") {
			t.Fatalf("the lessons have problems that concern the walk:\n%v", probs)
		}
		bad[p.File] = true
	}
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o755)
	for _, other := range course.Lessons {
		if bad[other.File] {
			continue
		}
		b, err := os.ReadFile(filepath.Join("../content", other.File))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, other.File), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copied, probs2 := parse.Load(os.DirFS(dir), demos.Builtin())
	if len(probs2) > 0 {
		t.Fatalf("the lessons without problems still do not load: %v", probs2)
	}
	t.Logf("the built-in course has problems in %d other lesson file(s), so kcna-lab would not start with it; walking a copy of the %d lessons without problems", len(bad), len(copied.Lessons))
	return copied, " --content " + dir
}

// leftovers lists what is still on the host of the sandboxes named names
// or of journals owned by one of pids: state dirs, cgroup dirs, mounts,
// links, journals.
func leftovers(names []string, pids ...int) []string {
	var out []string
	for _, n := range names {
		if _, err := sandbox.Find(n); err == nil {
			out = append(out, "running sandbox "+n)
		}
		if _, err := os.Stat(filepath.Join(sandbox.StateDir(), "sandboxes", n)); err == nil {
			out = append(out, "state dir of "+n)
		}
		for _, pat := range []string{"/sys/fs/cgroup/kcna-lab/kcna-" + n, "/sys/fs/cgroup/*/kcna-lab/kcna-" + n} {
			dirs, _ := filepath.Glob(pat)
			for _, d := range dirs {
				out = append(out, "cgroup "+d)
			}
		}
		links, _ := filepath.Glob("/sys/class/net/kl-*")
		for _, l := range links {
			if strings.Contains(filepath.Base(l), n) {
				out = append(out, "link "+filepath.Base(l))
			}
		}
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for l := range strings.SplitSeq(string(mi), "\n") {
			for _, n := range names {
				if strings.Contains(l, "kcna-"+n) || strings.Contains(l, "/sandboxes/"+n) {
					out = append(out, "mount "+l)
				}
			}
		}
	}
	journals, _ := filepath.Glob(filepath.Join(sandbox.StateDir(), "journals", "*.journal"))
	for _, j := range journals {
		base := strings.TrimSuffix(filepath.Base(j), ".journal")
		if slices.ContainsFunc(names, func(n string) bool { return strings.Contains(base, n) }) {
			out = append(out, "journal "+j)
			continue
		}
		if pid := journalOwner(j); pid != 0 && slices.Contains(pids, pid) {
			out = append(out, "journal "+j+" of our process "+strconv.Itoa(pid))
		}
	}
	return out
}

// journalOwner is the PID on a journal's first line, 0 if unreadable.
func journalOwner(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	var first struct {
		Owner struct {
			PID int `json:"pid"`
		} `json:"owner"`
	}
	if json.Unmarshal(sc.Bytes(), &first) != nil {
		return 0
	}
	return first.Owner.PID
}

// fileStamp is a file's size and modification time, or why there is none.
func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d bytes, modified %s", fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
}

func waitUntil(timeout time.Duration, ok func() bool) {
	deadline := time.Now().Add(timeout)
	for !ok() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
}

func readTrimmed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
