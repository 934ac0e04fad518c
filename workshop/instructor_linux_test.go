package workshop

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/kcna-lab/kcna-lab/lessons"
)

// TestWorkshopInstructor, over real SSH sessions: an instructor's key is
// nobody's student key and the name instructor takes no other key; a
// student's `class` is refused; the instructor's `class --json` shows
// the students, and a broadcast lands in the file every lab reads.
func TestWorkshopInstructor(t *testing.T) {
	ikey := newKey(t)
	srv := startServer(t, Options{InstructorKeys: []gossh.PublicKey{ikey.PublicKey()}, Linger: 0})
	alice := &client{user: "alice", key: newKey(t)}
	if _, errOut, st := alice.run(t, srv.addr, "lessons"); st != 0 {
		t.Fatalf("alice: status %d %s", st, errOut)
	}
	if _, errOut, st := alice.run(t, srv.addr, "class --json"); st == 0 || !strings.Contains(errOut, "instructor's to see") {
		t.Errorf("a student's class was not refused: status %d %q", st, errOut)
	}
	if conn, err := (&client{user: "instructor", key: alice.key}).dial(srv.addr); err == nil {
		conn.Close()
		t.Error("a student's key opened the instructor's session")
	}
	if conn, err := (&client{user: "mallory", key: ikey}).dial(srv.addr); err == nil {
		conn.Close()
		t.Error("an instructor's key got in as a student")
	}
	teacher := &client{user: "instructor", key: ikey}
	out, errOut, st := teacher.run(t, srv.addr, "class --json")
	if st != 0 {
		t.Fatalf("instructor's class --json: status %d %s", st, errOut)
	}
	var got struct {
		Students []struct {
			Name      string `json:"name"`
			QuizTotal int    `json:"quiz_total"`
		} `json:"students"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("class --json is not JSON: %v\n%s", err, out)
	}
	if len(got.Students) != 1 || got.Students[0].Name != "alice" || got.Students[0].QuizTotal == 0 {
		t.Fatalf("class --json: %+v, want alice with the course's questions", got.Students)
	}
	if _, _, st := teacher.run(t, srv.addr, "run -- hostname"); st == 0 {
		t.Error("the instructor's session ran a student's command")
	}
	if err := srv.LocalActions().Broadcast("Break until 11"); err != nil {
		t.Fatal(err)
	}
	var c lessons.Classroom
	if ok, err := lessons.ReadJSON(filepath.Join(srv.state, "class", lessons.ClassroomFile), &c); !ok || err != nil || c.Notice != "Break until 11" {
		t.Fatalf("the classroom after a broadcast: %+v (%v)", c, err)
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if s, ok := srv.Roster().Student("alice"); ok && !s.Connected {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("alice still shows connected after her sessions ended")
}

// TestServeClassPageToken is `kcna-lab serve --http` off loopback: it
// prints the page's address with a token, and serves nothing without it.
// (It listens on every address for the test's few seconds; the test's
// requests go to loopback only.)
func TestServeClassPageToken(t *testing.T) {
	_, kcnaLab := programs(t)
	keyFile := filepath.Join(t.TempDir(), "instructors.pub")
	if err := os.WriteFile(keyFile, gossh.MarshalAuthorizedKey(newKey(t).PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(freeAddr(t))
	state := classDir(t)
	cmd, _ := serveProcess(t, kcnaLab, state, "--http", "0.0.0.0:"+port, "--instructor-key", keyFile)
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	log := cmd.Stdout.(*os.File).Name()
	var token string
	for deadline := time.Now().Add(10 * time.Second); token == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(log)
		if _, after, ok := strings.Cut(string(b), "?token="); ok {
			token, _, _ = strings.Cut(after, "\n")
		}
	}
	if token == "" {
		t.Fatal("serve --http 0.0.0.0:PORT printed no token")
	}
	url := "http://127.0.0.1:" + port + "/api/class"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/api/class without the token: %s, want 401", resp.Status)
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/api/class with the token: %s", resp.Status)
	}
}

// TestWorkshopEndSessionAndHungActions: an instructor's command that
// hangs in a lab is killed after runQuietTimeout, both ends logged; then
// EndSession on a real server tells the connected student, stops her
// lab (its init and cgroups gone, as the kernel shows) and Serve returns
// nil on its own.
func TestWorkshopEndSessionAndHungActions(t *testing.T) {
	srv := startServer(t, Options{Linger: time.Minute})
	alice := &client{user: "alice", key: newKey(t)}
	var screen syncBuffer
	co, err := openCourse(srv.addr, alice, 30, 100, &screen)
	if err != nil {
		t.Fatal(err)
	}
	defer co.close()
	if err := waitScreen(&screen, "Containers and Kubernetes", 20*time.Second); err != nil {
		t.Fatalf("alice's course: %v", err)
	}
	lab, ok := srv.runningLab("alice")
	if !ok {
		t.Fatal("alice has no lab running")
	}
	labInit := lab.InitPID()

	old := runQuietTimeout
	runQuietTimeout = time.Second
	defer func() { runQuietTimeout = old }()
	start := time.Now()
	if st := srv.runQuiet("alice", lab, "/bin/sh", "-c", "sleep 3600"); st == 0 {
		t.Errorf("a command killed after its timeout exited 0")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("runQuiet took %v with a 1s timeout", took)
	}
	log := srv.log.Writer().(*syncBuffer).String()
	for _, want := range []string{`alice's lab: run ["/bin/sh" "-c" "sleep 3600"]`, "still running after 1s: killed", "exited with status"} {
		if !strings.Contains(log, want) {
			t.Errorf("the server's log lacks %q:\n%s", want, log)
		}
	}

	if len(studentCgroups("alice")) == 0 {
		t.Fatal("alice's lab has no cgroup directory to watch go")
	}
	if err := srv.LocalActions().EndSession(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.served:
		if srv.serveErr != nil {
			t.Errorf("Serve after EndSession: %v", srv.serveErr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return within 30s of EndSession")
	}
	if err := waitScreen(&screen, "The workshop server is stopping", 5*time.Second); err != nil {
		t.Errorf("alice was not told: %v", err)
	}
	if err := waitGone(labInit, 5*time.Second); err != nil {
		t.Errorf("alice's lab init after EndSession: %v", err)
	}
	if cgs := studentCgroups("alice"); len(cgs) != 0 {
		t.Errorf("alice's cgroups after EndSession: %v", cgs)
	}
	if log := srv.log.Writer().(*syncBuffer).String(); !strings.Contains(log, "end the session for everyone") {
		t.Errorf("the end is not in the server's log:\n%s", log)
	}
}
