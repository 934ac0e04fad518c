package workshop

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/workshop/classweb"
	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

// TestWorkshopInstructorFlow is a class day with real SSH sessions: two
// students on the course, an instructor on the dashboard. Alice answers a
// question and passes lesson 1's challenge with the CLI over SSH; the
// dashboard and /api/class show it within a second; a broadcast reaches
// both students' courses; pacing marks lesson 2 "wait for the
// instructor"; the export says what happened.
func TestWorkshopInstructorFlow(t *testing.T) {
	ikey := newKey(t)
	srv := startServer(t, Options{InstructorKeys: []gossh.PublicKey{ikey.PublicKey()}, Linger: time.Minute, UsageEvery: 200 * time.Millisecond})
	_, kcnaLab := programs(t)
	alice := &client{user: "alice", key: newKey(t)}
	bob := &client{user: "bob", key: newKey(t)}
	var aliceScreen, bobScreen, dashScreen syncBuffer
	courses := map[string]*course{}
	for _, s := range []struct {
		c      *client
		screen *syncBuffer
	}{{alice, &aliceScreen}, {bob, &bobScreen}} {
		co, err := openCourse(srv.addr, s.c, 30, 100, s.screen)
		if err != nil {
			t.Fatal(err)
		}
		defer co.close()
		courses[s.c.user] = co
		if err := waitScreen(s.screen, "Containers and Kubernetes", 20*time.Second); err != nil {
			t.Fatalf("%s's course: %v", s.c.user, err)
		}
	}
	dash, err := openCourse(srv.addr, &client{user: "instructor", key: ikey}, 40, 140, &dashScreen)
	if err != nil {
		t.Fatal(err)
	}
	defer dash.close()
	if err := waitScreen(&dashScreen, "2 connected", 5*time.Second); err != nil {
		t.Fatalf("the dashboard: %v", err)
	}
	api := httptest.NewServer(classweb.Handler(srv.Roster(), ""))
	defer api.Close()

	// Alice answers lesson 1's first question right, in the plain quiz.
	q := srv.Course().Lessons[0].Quiz[0]
	letters := ""
	for _, i := range q.Answers {
		letters += string(rune('a' + i))
	}
	if out, st := runWithInput(t, alice, srv.addr, "quiz "+srv.Course().Lessons[0].ID+" --count 1", strings.Join(strings.Split(letters, ""), ",")+"\n"); st != 0 {
		t.Fatalf("alice's quiz: status %d\n%s", st, out)
	}
	// And passes its challenge: the config directory in her home, then a
	// sandbox with it as a read-only volume, then the check.
	st, _ := srv.class.Lookup("alice")
	conf := filepath.Join(srv.state, "students", "alice", "home", "app-config")
	if err := os.MkdirAll(conf, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(conf, "app.conf"), []byte("port=8080\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{conf, filepath.Join(conf, "app.conf")} {
		if err := os.Chown(p, labhost.HostID(st.Slot), labhost.HostID(st.Slot)); err != nil {
			t.Fatal(err)
		}
	}
	if _, errOut, code := alice.run(t, srv.addr, "run --name app --detach --volume /root/app-config:/etc/app:ro -- sleep 3600"); code != 0 {
		t.Fatalf("alice's sandbox: status %d %s", code, errOut)
	}
	ch := srv.Course().Lessons[0].Challenges[0]
	if out, errOut, code := alice.run(t, srv.addr, "challenge "+ch.ID+" --check"); code != 0 {
		t.Fatalf("alice's check: status %d\n%s%s", code, out, errOut)
	}
	passed := time.Now()

	// Within a second: /api/class, then the dashboard's lesson view.
	for {
		got := apiClass(t, api.URL)
		if len(got.Students) == 2 && got.Students[0].Name == "alice" && got.Students[0].QuizRight == 1 && got.Students[0].Challenges == 1 {
			t.Logf("/api/class showed alice's answer and pass %s after her check", time.Since(passed).Round(time.Millisecond))
			break
		}
		if time.Since(passed) > time.Second {
			t.Fatalf("/api/class a second after alice's pass: %+v", got.Students)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := dash.press("l", ch.Title+": 1/2 passed", time.Second); err != nil {
		t.Fatalf("the dashboard's lesson view: %v", err)
	}
	dashScreen.Reset()
	if err := dash.press("\x7f", "2 connected", uiWait); err != nil {
		t.Fatal(err)
	}

	// A broadcast, asked for and confirmed on the dashboard, reaches both.
	if err := dash.press("b", "message:", uiWait); err != nil {
		t.Fatal(err)
	}
	if err := dash.press("Break until 11\r", "to every student?", uiWait); err != nil {
		t.Fatal(err)
	}
	if err := dash.press("y", "Broadcast to every student: done", uiWait); err != nil {
		t.Fatal(err)
	}
	for name, screen := range map[string]*syncBuffer{"alice": &aliceScreen, "bob": &bobScreen} {
		if err := waitScreen(screen, "Break until 11", uiWait); err != nil {
			t.Errorf("%s did not get the broadcast: %v", name, err)
		}
	}

	// Pacing: lessons past 1 wait for the instructor.
	dashScreen.Reset()
	if err := dash.press("p", "open lessons 1 to", uiWait); err != nil {
		t.Fatal(err)
	}
	if err := dash.press("1\r", "after 1", uiWait); err != nil {
		t.Fatal(err)
	}
	if err := dash.press("y", "Pace the class: done", uiWait); err != nil {
		t.Fatal(err)
	}
	// Bob dismisses the notice; lesson 2 is marked on his map, and does
	// not open.
	bobScreen.Reset()
	if err := courses["bob"].press("\r", "wait for the instructor:", uiWait); err != nil {
		t.Fatalf("pacing on bob's map: %v", err)
	}
	if err := courses["bob"].press("j\r", "waits for the instructor", uiWait); err != nil {
		t.Fatalf("bob opening lesson 2: %v", err)
	}

	// The export, on the server and over SSH, says what happened.
	teacher := &client{user: "instructor", key: ikey}
	viaSSH, errOut, code := teacher.run(t, srv.addr, "class --csv")
	if code != 0 {
		t.Fatalf("class --csv: status %d %s", code, errOut)
	}
	out, err := exec.Command(kcnaLab, "class", "export", "--state", srv.state, "--format", "csv").CombinedOutput()
	if err != nil {
		t.Fatalf("class export: %v\n%s", err, out)
	}
	if !bytes.Equal(out, []byte(viaSSH)) {
		t.Errorf("the export and class --csv differ:\n%s\n---\n%s", out, viaSSH)
	}
	rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil || len(rows) != 3 {
		t.Fatalf("the export: %v\n%s", err, out)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if a := rows[1]; a[0] != "alice" || a[col["quiz_right"]] != "1" || a[col["challenges_passed"]] != "1" || a[col["lessons_read"]] != "0" {
		t.Errorf("alice's row: %q", a)
	}
	if b := rows[2]; b[0] != "bob" || b[col["quiz_right"]] != "0" || b[col["challenges_passed"]] != "0" {
		t.Errorf("bob's row: %q", b)
	}

	// What the kernel reports of alice's lab: her sandbox, her memory;
	// where her course is, from the activity it writes in her lab.
	waitAPI(t, api.URL, uiWait, "alice's sandbox app and her lab's memory", func(a apiStudent) bool {
		return len(a.Sandboxes) == 1 && a.Sandboxes[0].Name == "app" && a.MemoryBytes > 0 && a.Screen == "map"
	})
	// The instructor stops her sandboxes, then resets her lab; the
	// kernel says so too: the sandbox's init, then her lab's init and
	// its cgroups are gone, while bob's lab runs on.
	aliceLab, ok := srv.runningLab("alice")
	if !ok {
		t.Fatal("alice has no lab running")
	}
	aliceInit := aliceLab.InitPID()
	sandboxInits := sandboxInitsUnder(aliceInit)
	if len(sandboxInits) != 1 {
		out, _ := exec.Command("ps", "-e", "-o", "pid,ppid,pidns,args").Output()
		t.Fatalf("host PIDs of sandbox inits under alice's lab (%d): %v, want 1\n%s", aliceInit, sandboxInits, out)
	}
	if err := srv.LocalActions().StopSandboxes("alice"); err != nil {
		t.Fatal(err)
	}
	waitAPI(t, api.URL, uiWait, "alice's sandboxes gone", func(a apiStudent) bool { return len(a.Sandboxes) == 0 && a.Lab })
	if err := waitGone(sandboxInits[0], uiWait); err != nil {
		t.Errorf("alice's sandbox init after StopSandboxes: %v", err)
	}
	if len(studentCgroups("alice")) == 0 {
		t.Fatal("alice's lab has no cgroup directory to watch go")
	}
	bobLab, ok := srv.runningLab("bob")
	if !ok {
		t.Fatal("bob has no lab running")
	}
	bobInit := bobLab.InitPID()
	if err := srv.LocalActions().ResetLab("alice"); err != nil {
		t.Fatal(err)
	}
	if err := waitGone(aliceInit, uiWait); err != nil {
		t.Errorf("alice's lab init after ResetLab: %v", err)
	}
	if cgs := studentCgroups("alice"); len(cgs) != 0 {
		t.Errorf("alice's cgroups after ResetLab: %v", cgs)
	}
	if err := unix.Kill(bobInit, 0); err != nil {
		t.Errorf("bob's lab init (%d) after alice's reset: %v", bobInit, err)
	}
	if _, errOut, code := bob.run(t, srv.addr, "lessons"); code != 0 {
		t.Errorf("bob's lab after alice's reset: status %d %s", code, errOut)
	}
	if err := waitScreen(&aliceScreen, "Your instructor reset your lab", 5*time.Second); err != nil {
		t.Error(err)
	}
	waitAPI(t, api.URL, uiWait, "alice without a lab, her progress kept", func(a apiStudent) bool {
		return !a.Lab && !a.Connected && a.QuizRight == 1 && a.Challenges == 1
	})
	if log := srv.log.Writer().(*syncBuffer).String(); !strings.Contains(log, `broadcast "Break until 11" (done)`) || !strings.Contains(log, "reset the lab of alice (done)") {
		t.Errorf("the instructor's actions are not in the server's log:\n%s", log)
	}
}

// sandboxInitsUnder lists, by host PID, the sandbox inits below a lab's
// init: its descendants that are PID 1 of a PID namespace of their own
// (NSpid ends in 1).
func sandboxInitsUnder(labInit int) []int {
	parent := map[int]int{}
	var inits []int
	dirs, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		var pid, ppid int
		var nspid []string
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			switch k {
			case "Pid":
				pid, _ = strconv.Atoi(strings.TrimSpace(v))
			case "PPid":
				ppid, _ = strconv.Atoi(strings.TrimSpace(v))
			case "NSpid":
				nspid = strings.Fields(v)
			}
		}
		parent[pid] = ppid
		if len(nspid) > 1 && nspid[len(nspid)-1] == "1" {
			inits = append(inits, pid)
		}
	}
	var under []int
	for _, p := range inits {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == labInit {
				under = append(under, p)
				break
			}
		}
	}
	return under
}

// waitGone waits for a host PID to be gone (or a zombie).
func waitGone(pid int, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return nil
		}
		if _, rest, ok := strings.Cut(string(b), ") "); ok && strings.HasPrefix(rest, "Z") {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PID %d still runs after %s", pid, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// studentCgroups lists a student's lab cgroup directories, v1 and v2.
func studentCgroups(name string) []string {
	v1, _ := filepath.Glob("/sys/fs/cgroup/*/kcna-lab/kcna-student-" + name)
	v2, _ := filepath.Glob("/sys/fs/cgroup/kcna-lab/kcna-student-" + name)
	return append(v1, v2...)
}

type apiStudent struct {
	Name        string `json:"name"`
	Connected   bool   `json:"connected"`
	Screen      string `json:"screen"`
	QuizRight   int    `json:"quiz_right"`
	Challenges  int    `json:"challenges_passed"`
	Lab         bool   `json:"lab"`
	MemoryBytes int64  `json:"memory_bytes"`
	Sandboxes   []struct {
		Name string `json:"name"`
	} `json:"sandboxes"`
}

func apiClass(t *testing.T, url string) (got struct{ Students []apiStudent }) {
	t.Helper()
	resp, err := http.Get(url + "/api/class")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	return got
}

// waitAPI waits until /api/class shows alice as ok wants.
func waitAPI(t *testing.T, url string, within time.Duration, what string, ok func(apiStudent) bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := apiClass(t, url)
		if len(got.Students) > 0 && got.Students[0].Name == "alice" && ok(got.Students[0]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/class within %v: %s; it shows %+v", within, what, got.Students)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// uiWait bounds the steps of the instructor's typing (a slow VM draws
// each keystroke in turn); what must be seen within a second says so.
const uiWait = 5 * time.Second

// runWithInput runs a command over SSH with input on its stdin.
func runWithInput(t *testing.T, c *client, addr, command, input string) (string, int) {
	t.Helper()
	conn, err := c.dial(addr)
	if err != nil {
		t.Fatalf("%s: dial: %v", c.user, err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &out
	sess.Stdin = strings.NewReader(input)
	err = sess.Run(command)
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), ee.ExitStatus()
	case err != nil:
		t.Fatalf("%s: %s: %v", c.user, command, err)
	}
	return out.String(), 0
}
