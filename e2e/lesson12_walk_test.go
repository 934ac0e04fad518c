package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/platform/mesh"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Lesson 12 and its challenge, done the way the lesson asks: `kcna-lab
// mesh up` in one terminal, `kcna-lab mesh apply` in another.
const (
	meshLesson    = "service-mesh"
	meshChallenge = "mesh-lockdown"
)

// paneOf is the text of the window called window in the walk's session.
// It includes the window's history: mesh up's table scrolls away.
func (w *walker) paneOf(window string) string {
	return w.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "walk:"+window)
}

// waitPane waits until the window shows every one of texts.
func (w *walker) waitPane(window string, timeout time.Duration, texts ...string) string {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		scr := w.paneOf(window)
		if !slices.ContainsFunc(texts, func(t string) bool { return !strings.Contains(scr, t) }) {
			return scr
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("after %v the window %s still does not show %q; its screen:\n%s\nthe course's last screen:\n%s", timeout, window, texts, scr, w.last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// replay plays a recording of a window's output into a fresh 80x24
// window, a little at a time, and returns the screens it shows once past
// from: tmux itself is the terminal, so what the app drew is read as the
// learner saw it, however the renderer cut it into escape sequences.
// readBack reads the live pane from its newest line to its oldest, half
// a pane at a time with [, as a learner reads a demo back: the pane keeps
// every line, whatever scrolled past between two polls. It leaves the
// pane where it was.
func (w *walker) readBack() string {
	w.t.Helper()
	var pages strings.Builder
	prev, ups := "", 0
	for range 400 {
		w.press("[")
		ups++
		time.Sleep(40 * time.Millisecond)
		s := w.screen()
		if s == prev {
			break
		}
		pages.WriteString(s)
		prev = s
	}
	for range ups {
		w.press("]")
	}
	return pages.String()
}

func (w *walker) replay(data []byte, from int64) string {
	w.t.Helper()
	fifo := filepath.Join(w.t.TempDir(), "replay")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		w.t.Fatal(err)
	}
	w.tmux("new-window", "-d", "-t", "walk", "-n", "replay", "cat "+fifo+"; sleep 60")
	w.tmux("resize-window", "-t", "walk:replay", "-x", "80", "-y", "24")
	defer w.tmux("kill-window", "-t", "walk:replay")
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		w.t.Fatal(err)
	}
	defer f.Close()
	var screens strings.Builder
	const chunk = 256
	for pos := 0; pos < len(data); pos += chunk {
		if _, err := f.Write(data[pos:min(pos+chunk, len(data))]); err != nil {
			w.t.Fatal(err)
		}
		if int64(pos+chunk) < from {
			continue
		}
		time.Sleep(3 * time.Millisecond)
		screens.WriteString(w.tmux("capture-pane", "-p", "-t", "walk:replay"))
	}
	time.Sleep(50 * time.Millisecond)
	screens.WriteString(w.tmux("capture-pane", "-p", "-t", "walk:replay"))
	return screens.String()
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// flatPane is a screen's text with the panes' left borders dropped and
// every run of white space one space, so that wrapped lines read on.
func flatPane(scr string) string {
	var b strings.Builder
	for l := range strings.SplitSeq(scr, "\n") {
		b.WriteString(strings.TrimPrefix(strings.TrimSpace(l), "│"))
		b.WriteString(" ")
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// meshLinks are the host ends of veths named for sandboxes called mesh*.
func meshLinks() []string {
	links, _ := filepath.Glob("/sys/class/net/kl-mesh-*")
	for i, l := range links {
		links[i] = filepath.Base(l)
	}
	return links
}

// TestLessonWalkServiceMesh walks lesson 12 through real keys on the built
// binary at 80x24, as root: read it, run its long service-mesh demo, do
// the mesh-lockdown challenge with `kcna-lab mesh up` and `mesh apply` in
// windows of their own, pass the quiz, quit, and find the progress saved
// and nothing of the mesh left on the host.
func TestLessonWalkServiceMesh(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the mesh's sandboxes, bridge and sidecars need namespaces, cgroups and veths (CI runs as root)")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux); the walk drives the course through it")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skip("nsenter is not installed (util-linux); the mesh starts its sidecars with it")
	}
	started := time.Now()

	course, contentFlag := walkCourse(t, meshLesson)
	l, _ := course.Lesson(meshLesson)
	index := slices.Index(course.Lessons, l)
	var ch lessons.Challenge
	for _, c := range l.Challenges {
		if c.ID == meshChallenge {
			ch = c
		}
	}
	if ch.ID == "" || len(ch.Hints) == 0 || len(l.Demos) == 0 || l.Demos[0] != "service-mesh" || len(l.Quiz) == 0 {
		t.Fatalf("lesson %s should have the demo service-mesh, a quiz and the challenge %s with hints", l.ID, meshChallenge)
	}

	// The mesh of `kcna-lab mesh up` has fixed names: someone else's would
	// be checked, and torn down, instead of ours.
	pods := make([]string, 0, 3)
	for _, s := range mesh.LabServices() {
		pods = append(pods, mesh.PodName(mesh.DefaultLab, s))
	}
	if slices.Contains(mesh.Running(), mesh.DefaultLab) {
		t.Skipf("a mesh called %s is already running (its socket %s exists); the walk would interfere with it. Stop it with ctrl-c in its terminal, or `kcna-lab clean`", mesh.DefaultLab, mesh.ControlSocket(mesh.DefaultLab))
	}
	for _, p := range pods {
		if _, err := sandbox.Find(p); err == nil {
			t.Skipf("a sandbox called %s is already running (not this test's); the walk's mesh would clash with it", p)
		}
	}

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
	_ = os.Chmod(filepath.Dir(bin), 0o755)
	_ = os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
	t.Cleanup(func() {
		// Whatever the walk left on a failure: the mesh goes with its
		// `mesh up` (killed with the tmux server); the sandboxes after it.
		for _, p := range pods {
			if _, err := sandbox.Find(p); err == nil {
				_ = exec.Command(bin, "stop", "--timeout", "2s", p).Run()
			}
		}
	})

	home := t.TempDir()
	state := filepath.Join(home, "state")
	env := []string{"HOME=" + home, "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"XDG_DATA_HOME=" + filepath.Join(home, "data"), "SUDO_USER=", "TERM=xterm-256color"}
	envs := "env " + strings.Join(env, " ") + " "

	w := newWalker(t)
	// Everything the course writes is recorded from its first byte (it
	// starts a second late, after the recording): see replay.
	raw := filepath.Join(t.TempDir(), "course.out")
	w.tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "walk", "-n", "course",
		"sleep 1; "+envs+bin+contentFlag+"; echo kcna-lab-exited-$?; sleep 60")
	w.tmux("pipe-pane", "-t", "walk:course", "-o", "cat >> "+raw)
	header := fmt.Sprintf("%d. %s", l.Order, l.Title)

	// 1. The course map; move to lesson 12 and read it to the end.
	w.waitFor(15*time.Second, l.Title, "not started")
	app := w.appPID(bin)
	w.openAndRead(l, index, 5)

	// 2. The demo: a whole mesh, brought up, driven and taken down. The
	// pane keeps only the newest lines, so every screen is kept as it
	// passes.
	demoStarted := time.Now()
	linksBefore := meshLinks()
	var demoLinks []string
	// The pane keeps only its newest lines and the demo's last steps come
	// in a burst, so besides the screens polled, the recording of the
	// course's output is replayed afterwards, screen by screen.
	demoFrom := fileSize(raw)
	w.press("r")
	shown := ""
	scr := w.until(4*time.Minute, "the demo's end", func(s string) bool {
		shown += s
		for _, k := range meshLinks() {
			if !slices.Contains(linksBefore, k) && !slices.Contains(demoLinks, k) {
				demoLinks = append(demoLinks, k)
			}
		}
		return strings.Contains(s, "Done. Press r to run it again.") || strings.Contains(s, "Cannot run here:")
	})
	w.tmux("pipe-pane", "-t", "walk:course")
	w.failIf(scr, "Cannot run here:", "the demo failed")
	w.fits(scr, header, "r run demo")
	t.Logf("the demo took %v", time.Since(demoStarted).Round(time.Second))
	written, err := os.ReadFile(raw)
	if err != nil || int64(len(written)) <= demoFrom {
		t.Fatalf("the course's output was not recorded (%v, %d bytes)", err, len(written))
	}
	// The pane read back is whole frames; the polled and replayed screens
	// may be caught mid-frame, so what is parsed row by row comes from it.
	pane := w.readBack()
	screens := shown + "\n" + w.replay(written, demoFrom) + "\n" + pane
	flat := flatPane(screens)
	// The demo's headings are its own words, not the wire's; some are
	// followed at once by a burst of steps that scrolls them away within
	// one frame at 80x24, so a missing one is only reported.
	for _, want := range []string{
		"The mesh: each sandbox's app",
		"mTLS on: the same app, with and without its sidecar",
		"Deny /admin: the same request before and after the rule",
		"The golden metrics",
	} {
		if !strings.Contains(flat, want) {
			t.Logf("note: the demo's heading %q was never on the screen at 80x24 (scrolled away within a frame)", want)
		}
	}
	if !strings.Contains(flat, "refused: no client certificate") {
		t.Errorf("the demo never showed the plaintext client refused")
	}
	// What came from the wire: the plaintext request's own answer (not a
	// 200), a 403 for /admin, and how the sidecars counted the split.
	if m := regexp.MustCompile(`→ (\d{3}|no answer)`).FindAllStringSubmatch(flat, -1); !slices.ContainsFunc(m, func(s []string) bool { return s[1] == "403" }) {
		t.Errorf("no 403 for /admin was shown; answers seen: %v", m)
	}
	// The plaintext answer is on the row of the answers through the
	// sidecars: "→ 400 Bad Request │ → 2 × 200 reviews v1".
	var plain []string
	for _, m := range regexp.MustCompile(`→ (.+?)\s*│ →\s+\d+ × 200 `).FindAllStringSubmatch(pane, -1) {
		if !slices.Contains(plain, m[1]) {
			plain = append(plain, m[1])
		}
	}
	if len(plain) == 0 || slices.ContainsFunc(plain, func(a string) bool { return strings.HasPrefix(a, "200 ") }) {
		t.Errorf("the plaintext request after mTLS was not shown refused: %q", plain)
	} else {
		t.Logf("after mTLS, a plaintext GET straight to a reviews sidecar got: %s", strings.Join(plain, "; "))
	}
	// The split's counts per version, from frontend's sidecar: some pair
	// of them is all 100.
	count := func(v string) []int {
		var ns []int
		for _, m := range regexp.MustCompile(`(?m)× 200 reviews `+v+`\s*│ `+v+`: (\d+)\s*$`).FindAllStringSubmatch(pane, -1) {
			n, _ := strconv.Atoi(m[1])
			ns = append(ns, n)
		}
		return ns
	}
	c1, c2 := count("v1"), count("v2")
	split := false
	for _, n1 := range c1 {
		for _, n2 := range c2 {
			if n1+n2 == 100 && n1 > n2 && !split {
				split = true
				t.Logf("the split, as frontend's sidecar counted it: v1 %d, v2 %d", n1, n2)
			}
		}
	}
	if !split {
		t.Errorf("the split's counts were not shown as 100 requests, most to v1: v1 %v, v2 %v", c1, c2)
	}
	if t.Failed() {
		t.Logf("the demo as it passed by:\n%s\nand as written to the pane, flattened:\n%s", shown, flat)
	}

	// 3. The challenge. Checked before any mesh runs, it fails.
	w.press("c")
	scr = w.waitFor(5*time.Second, "Challenge: "+ch.Title, "enter check")
	w.fits(scr, header, "enter check")
	w.press("h")
	hint := strings.Fields(ch.Hints[0])
	w.waitFor(5*time.Second, "Hint 1: "+strings.Join(hint[:min(3, len(hint))], " "))
	othersRunning := len(mesh.Running()) > 0
	w.press("Enter")
	if othersRunning {
		// Another test's demo mesh is up: the check judges that one.
		scr = w.waitFor(60*time.Second, "Not yet:")
	} else {
		scr = w.waitFor(60*time.Second, "Not yet:", "no mesh is running")
	}
	w.fits(scr, header, "enter check")

	// A second terminal: the mesh, in the foreground.
	linksUp := meshLinks()
	w.tmux("new-window", "-d", "-t", "walk", "-n", "up", envs+bin+" mesh up; echo mesh-up-exited-$?; sleep 60")
	// On a failure, ctrl-c takes the mesh down before the tmux server
	// goes: a hang-up would leave its sandboxes and socket behind.
	t.Cleanup(func() {
		if exec.Command("tmux", "-L", w.socket, "send-keys", "-t", "walk:up", "C-c").Run() != nil {
			return // the window is gone: mesh up ended already
		}
		waitUntil(60*time.Second, func() bool {
			out, _ := exec.Command("tmux", "-L", w.socket, "capture-pane", "-p", "-t", "walk:up").Output()
			return len(out) == 0 || strings.Contains(string(out), "mesh-up-exited-")
		})
	})
	upScr := w.waitPane("up", 90*time.Second, "SIDECAR INBOUND", "Ctrl-C takes the")
	for _, p := range pods {
		if !strings.Contains(upScr, p) {
			t.Errorf("mesh up's table lacks the sandbox %s:\n%s", p, upScr)
		}
	}
	var upLinks []string
	for _, k := range meshLinks() {
		if !slices.Contains(linksUp, k) {
			upLinks = append(upLinks, k)
		}
	}
	var boxes []sandbox.State
	for _, p := range pods {
		st, err := sandbox.Find(p)
		if err != nil {
			t.Fatalf("mesh up shows its table, but %s does not run: %v", p, err)
		}
		boxes = append(boxes, st)
	}

	// Still open: with the mesh up but no rules, the check names mTLS.
	w.press("Enter")
	w.waitFor(60*time.Second, "Not yet:", "mTLS is off")

	// A third terminal: the two rules, as the learner types them.
	w.tmux("new-window", "-d", "-t", "walk", "-n", "apply", envs+bin+" mesh apply --mtls on --deny reviews:/admin; echo mesh-apply-exited-$?; sleep 60")
	applied := w.waitPane("apply", 30*time.Second, "mesh-apply-exited-")
	if !strings.Contains(applied, "mesh-apply-exited-0") || !strings.Contains(applied, "pushed to every sidecar") {
		t.Fatalf("mesh apply failed:\n%s", applied)
	}
	w.tmux("kill-window", "-t", "walk:apply")

	w.press("Enter")
	scr = w.until(60*time.Second, "the verdict Passed", func(s string) bool {
		return strings.Contains(s, "Passed:") || (strings.Contains(s, "Not yet:") && !strings.Contains(s, "mTLS is off"))
	})
	w.failIf(scr, "Not yet:", "the locked-down mesh did not pass the check")
	w.fits(scr, header, "enter check")
	// The verdict comes from the wire: the sidecars refused plaintext.
	if flat := strings.Join(strings.Fields(scr), " "); !strings.Contains(flat, "403") {
		t.Errorf("the pass should say /admin got 403; screen:\n%s", scr)
	}

	// ctrl-c takes the mesh down; it says so and exits 0.
	w.tmux("send-keys", "-t", "walk:up", "C-c")
	upScr = w.waitPane("up", 60*time.Second, "mesh-up-exited-")
	if !strings.Contains(upScr, "mesh-up-exited-0") || !strings.Contains(upScr, "is down") {
		t.Errorf("mesh up did not go down cleanly after ctrl-c:\n%s", upScr)
	}
	w.tmux("kill-window", "-t", "walk:up")

	// 4. The quiz, every answer taken from the lesson file.
	w.press("q")
	w.until(5*time.Second, "the challenge pane closed", func(s string) bool { return !strings.Contains(s, "Challenge: "+ch.Title) })
	w.passQuiz(l)
	n := len(l.Quiz)

	// 5. Quit, keeping whatever sandboxes the course lists as running
	// (the test removes its own below, as before).
	w.press("q")
	scr = w.until(15*time.Second, "the course to quit or ask", func(s string) bool {
		return strings.Contains(s, "kcna-lab-exited-0") || strings.Contains(s, "Sandboxes still running")
	})
	if !strings.Contains(scr, "kcna-lab-exited-0") {
		w.press("n")
		w.waitFor(15*time.Second, "kcna-lab-exited-0")
	}

	wantLessonDone(t, state, l, ch.ID, n)

	// Nothing of either mesh may be left: sandboxes, cgroups, mounts,
	// journals, veths, control sockets, sidecar processes.
	demoLab := "mesh-" + strconv.Itoa(app)
	ours := slices.Clone(pods)
	for _, s := range mesh.LabServices() {
		ours = append(ours, mesh.PodName(demoLab, s))
	}
	pids := []int{app}
	for _, b := range boxes {
		pids = append(pids, b.InitPID)
	}
	left := func() []string {
		out := leftovers(ours, pids...)
		for _, lab := range []string{mesh.DefaultLab, demoLab} {
			if _, err := os.Stat(mesh.ControlSocket(lab)); err == nil {
				out = append(out, "control socket "+mesh.ControlSocket(lab))
			}
		}
		for _, k := range append(slices.Clone(demoLinks), upLinks...) {
			if _, err := os.Stat("/sys/class/net/" + k); err == nil {
				out = append(out, "link "+k)
			}
		}
		procs, _ := filepath.Glob("/proc/[0-9]*/exe")
		for _, pe := range procs {
			if exe, _ := os.Readlink(pe); exe == bin {
				cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(pe), "cmdline"))
				out = append(out, "process "+filepath.Base(filepath.Dir(pe))+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
		}
		for _, b := range boxes {
			if _, err := os.Stat("/proc/" + strconv.Itoa(b.InitPID)); err == nil {
				out = append(out, fmt.Sprintf("init %d of %s", b.InitPID, b.Name))
			}
		}
		return out
	}
	waitUntil(20*time.Second, func() bool { return len(left()) == 0 })
	for _, x := range left() {
		t.Errorf("left behind: %s", x)
	}
	if out, _ := kl(t, bin, "ps"); slices.ContainsFunc(ours, func(n string) bool { return strings.Contains(out, n+" ") }) {
		t.Errorf("ps still lists a sandbox of the walk:\n%s", out)
	}
	if len(upLinks) == 0 {
		t.Errorf("no veth of mesh up's sandboxes was seen on the host: the leftover check of links checked nothing")
	}
	t.Logf("the walk took %v", time.Since(started).Round(time.Second))
}
