package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Lesson 7 and its image challenge, done as the lesson says: kcna-lab
// build in a terminal beside the course, then registry, push and run
// --image.
const (
	imagesLesson    = "images-layers"
	imagesChallenge = "share-base-layers"
)

// TestLessonWalkImages walks lesson 7 through real keys on the built
// binary at 80x24, as root: read it, run its build-push-run demo, do the
// share-base-layers challenge with `kcna-lab build` in another terminal
// (checked before, between and after the builds), push the image to
// `kcna-lab registry`, read its manifest over HTTP, run it from the
// registry into an empty store, pass the quiz, quit, and find the
// progress saved and nothing left on the host.
func TestLessonWalkImages(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: RUN steps and the demo's containers are sandboxes (CI runs as root)")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux); the walk drives the course through it")
	}
	if rootfs.StaticBusybox() == "" {
		t.Skip("no static busybox here (apt-get install busybox-static): FROM busybox takes the course's busybox root")
	}
	started := time.Now()
	course, contentFlag := walkCourse(t, imagesLesson)
	l, _ := course.Lesson(imagesLesson)
	index := slices.Index(course.Lessons, l)
	chIndex := slices.IndexFunc(l.Challenges, func(c lessons.Challenge) bool { return c.ID == imagesChallenge })
	if chIndex < 0 || len(l.Demos) == 0 || l.Demos[0] != "image-build-push-run" || len(l.Quiz) == 0 {
		t.Fatalf("lesson %s should open with the demo image-build-push-run and have a quiz and the challenge %s", l.ID, imagesChallenge)
	}
	ch := l.Challenges[chIndex]

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
	// The lesson's sandbox has a fixed name; someone else's would be
	// joined instead of ours.
	box := "lab-layers"
	if _, err := sandbox.Find(box); err == nil {
		t.Skipf("a sandbox called %s is already running (not this test's); the walk would join it. Stop it with: kcna-lab stop %s", box, box)
	}
	sandboxesBefore := sandboxDirs()

	bin := build(t)
	_ = os.Chmod(filepath.Dir(bin), 0o755)
	_ = os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
	t.Cleanup(func() {
		if _, err := sandbox.Find(box); err == nil {
			_ = exec.Command(bin, "stop", "--timeout", "2s", box).Run()
		}
		_ = os.Remove(sandbox.LogPath(box))
	})
	home := t.TempDir()
	state := filepath.Join(home, "state")
	// The images go to a store of the walk's own, not the learner's.
	env := []string{"HOME=" + home, "XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"XDG_DATA_HOME=" + filepath.Join(home, "data"), "SUDO_USER=", "TERM=xterm-256color",
		"KCNA_LAB_IMAGES=" + filepath.Join(home, "images")}

	w := newWalker(t)
	w.tmux("new-session", "-d", "-x", "80", "-y", "24", "-s", "walk",
		"env "+strings.Join(env, " ")+" "+bin+contentFlag+"; echo kcna-lab-exited-$?; sleep 60")
	header := fmt.Sprintf("%d. %s", l.Order, l.Title)

	// 1. The course map; move to lesson 7 and read it to the end.
	w.waitFor(15*time.Second, l.Title, "not started")
	app := w.appPID(bin)
	w.openAndRead(l, index, 6)

	// 2. The demo: build, push, pull, run two containers, rebuild. Its
	// last view is the layer digests of the two builds.
	w.press("r")
	scr := w.until(3*time.Minute, "the demo's end", func(s string) bool {
		return strings.Contains(s, "Done. Press r to run it again.") || strings.Contains(s, "Cannot run here:")
	})
	w.failIf(scr, "Cannot run here:", "the demo failed")
	w.fits(scr, header, "r run demo")
	if flat := flatPane(scr); !strings.Contains(flat, "same, shared") || !strings.Contains(flat, "new") {
		t.Errorf("the demo should end with the rebuild's layers, shared and new; screen:\n%s", scr)
	}

	// 3. The challenge, third of the lesson's. Checked before any build,
	// it fails: there is no image store yet.
	w.press("c")
	w.waitFor(5*time.Second, "Challenge: ")
	for range chIndex {
		w.press("]")
	}
	scr = w.waitFor(5*time.Second, "Challenge: "+ch.Title, "enter check")
	w.fits(scr, header, "enter check")
	w.press("Enter")
	w.waitFor(30*time.Second, "Not yet:", "no image store")

	// A second terminal: the learner's builds.
	app1 := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(app1, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM busybox\nCOPY base.txt /app/\nCOPY version.txt /app/\nCMD [\"cat\", \"/app/version.txt\"]\n")
	write("base.txt", "stays the same\n")
	write("version.txt", "version 1\n")
	out := labOK(t, env, bin, "build", "-t", "lab/app:1", app1)
	if !strings.Contains(out, "Built lab/app:1") {
		t.Fatalf("build lab/app:1 printed:\n%s", out)
	}
	w.press("Enter")
	w.waitFor(30*time.Second, "Not yet:", "lab/app:2")

	write("version.txt", "version 2\n")
	out = labOK(t, env, bin, "build", "-t", "lab/app:2", app1)
	if n := strings.Count(out, "(cached)"); n != 2 {
		t.Errorf("the second build should reuse 2 layers from the cache, not %d:\n%s", n, out)
	}
	digest := regexp.MustCompile(`manifest  (sha256:[0-9a-f]{64})`).FindStringSubmatch(out)
	if digest == nil {
		t.Fatalf("build printed no manifest digest:\n%s", out)
	}
	w.press("Enter")
	scr = w.waitFor(30*time.Second, "Passed:", "share their bottom 2")
	w.fits(scr, header, "enter check")

	// 4. Push to a registry on loopback; read the manifest with plain
	// HTTP, as curl would; run the image from the registry in an empty
	// store, which pulls it first.
	reg := exec.Command(bin, "registry", "--listen", "127.0.0.1:0")
	reg.Env = env
	stdout, err := reg.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Start(); err != nil {
		t.Fatal(err)
	}
	regDone := false
	t.Cleanup(func() {
		if !regDone {
			_ = reg.Process.Kill()
			_ = reg.Wait()
		}
	})
	first, _ := bufio.NewReader(stdout).ReadString('\n')
	m := regexp.MustCompile(`listening on http://(127\.0\.0\.1:\d+)`).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("kcna-lab registry said %q", first)
	}
	addr := m[1]
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	out = labOK(t, env, bin, "push", "lab/app:2", addr+"/lab/app:2")
	if !strings.Contains(out, digest[1]) {
		t.Errorf("push should name the manifest %s:\n%s", digest[1], out)
	}
	resp, err := http.Get("http://" + addr + "/v2/lab/app/manifests/2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(body)
	if got := "sha256:" + hex.EncodeToString(sum[:]); resp.StatusCode != 200 || got != digest[1] {
		t.Errorf("GET the manifest: %s, its bytes hash to %s; build printed %s", resp.Status, got, digest[1])
	}
	fresh := append(slices.Clone(env), "KCNA_LAB_IMAGES="+filepath.Join(home, "other-node"))
	out = labOK(t, fresh, bin, "run", "--image", addr+"/lab/app:2")
	if strings.TrimSpace(out) != "version 2" {
		t.Errorf("run --image %s/lab/app:2 printed %q; want version 2", addr, out)
	}
	if idx, err := os.ReadFile(filepath.Join(home, "other-node", "oci", "index.json")); err != nil || !strings.Contains(string(idx), digest[1]) {
		t.Errorf("the empty store should hold the pulled manifest %s: %s %v", digest[1], idx, err)
	}
	_ = reg.Process.Signal(syscall.SIGINT)
	if err := reg.Wait(); err != nil {
		t.Errorf("kcna-lab registry after ctrl-c: %v", err)
	}
	regDone = true

	// 5. The lesson's other two challenges, in its sandbox (`s`): a file
	// only the writable layer has, and a whiteout. `]` cycles to them.
	w.press("]")
	w.waitFor(5*time.Second, "Challenge: "+l.Challenges[0].Title)
	w.press("s")
	w.waitFor(30*time.Second, "[sandbox "+box)
	w.typeLine(`echo hi > /hello.txt; rm /etc/group; echo "done=$(cat /hello.txt)="`)
	w.waitFor(10*time.Second, "done=hi=")
	w.typeLine("exit")
	for i := range 2 {
		c := l.Challenges[i]
		w.waitFor(15*time.Second, "Challenge: "+c.Title)
		w.press("Enter")
		scr = w.waitFor(30*time.Second, "Passed:")
		w.fits(scr, header, "enter check")
		w.press("]")
	}

	// 6. The quiz, every answer taken from the lesson file.
	w.press("q")
	w.until(5*time.Second, "the challenge pane closed", func(s string) bool { return !strings.Contains(s, "Challenge: "+ch.Title) })
	w.passQuiz(l)

	// 7. Quit, and read the progress with the repository's own store;
	// then stop the kept sandbox, as the learner would.
	w.press("q")
	// The shell's sandbox is kept: quitting lists it, and n keeps it.
	w.waitFor(15*time.Second, "Sandboxes still running", "kcna-lab stop "+box)
	w.press("n")
	w.waitFor(15*time.Second, "kcna-lab-exited-0")
	if out, code := kl(t, bin, "stop", box); code != 0 {
		t.Errorf("kcna-lab stop %s: exit %d %s", box, code, out)
	}
	wantLessonDone(t, state, l, ch.ID, len(l.Quiz))

	// Nothing of the builds, the demo or the runs may be left.
	waitUntil(15*time.Second, func() bool { return len(newSandboxes(sandboxesBefore)) == 0 })
	for _, n := range newSandboxes(sandboxesBefore) {
		t.Errorf("left behind: sandbox state %s", n)
	}
	for _, left := range leftovers([]string{box}, app) {
		t.Errorf("left behind: %s", left)
	}
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mi), home) {
		t.Errorf("a mount under the walk's home is left:\n%s", mi)
	}
	t.Logf("the walk took %v", time.Since(started).Round(time.Second))
}

// labOK runs the built binary with env and wants it to succeed.
func labOK(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kcna-lab %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// sandboxDirs are the sandboxes' state directories now.
func sandboxDirs() []string {
	dirs, _ := filepath.Glob(filepath.Join(sandbox.StateDir(), "sandboxes", "*"))
	return dirs
}

// newSandboxes are state directories that were not there before.
func newSandboxes(before []string) []string {
	var out []string
	for _, d := range sandboxDirs() {
		if !slices.Contains(before, d) {
			out = append(out, d)
		}
	}
	return out
}
