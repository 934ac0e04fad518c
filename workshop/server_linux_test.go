package workshop

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

// testServer is a workshop server on a loopback port, run by the test.
type testServer struct {
	*Server
	addr  string
	state string
	stop  func() // ends Serve as SIGTERM would, and waits for it
	// served is closed when Serve has returned, with serveErr.
	served   chan struct{}
	serveErr error
}

func startServer(t *testing.T, o Options) *testServer {
	t.Helper()
	o.Programs, _ = programs(t)
	o.State = classDir(t)
	o.Quota = labhost.Quota{MemoryBytes: 1 << 30, Pids: 1024, CPUs: 1}
	var logBuf syncBuffer
	o.Log = &logBuf
	if o.Course == nil {
		o.Course = builtinCourse(t)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	ts := &testServer{Server: srv, addr: ln.Addr().String(), state: o.State, served: make(chan struct{})}
	go func() {
		ts.serveErr = srv.Serve(ctx, ln)
		close(ts.served)
	}()
	ts.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-ts.served:
				if ts.serveErr != nil {
					t.Errorf("Serve: %v", ts.serveErr)
				}
			case <-time.After(30 * time.Second):
				t.Error("the server did not stop within 30s")
			}
		})
	}
	t.Cleanup(func() {
		ts.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", logBuf.String())
		}
	})
	return ts
}

// TestWorkshopClass drives one server the way a class does: students join
// with keys, use the CLI over SSH, and cannot reach each other.
func TestWorkshopClass(t *testing.T) {
	srv := startServer(t, Options{Linger: time.Minute})
	alice := &client{user: "alice", key: newKey(t)}
	bob := &client{user: "bob", key: newKey(t)}

	t.Run("the CLI over SSH, scoped to the student", func(t *testing.T) {
		out, errOut, st := alice.run(t, srv.addr, "progress")
		if st != 0 || !strings.Contains(out, "why-containers") {
			t.Fatalf("progress: status %d\n%s%s", st, out, errOut)
		}
		if _, err := os.Stat(filepath.Join(srv.state, "students", "alice", "home")); err != nil {
			t.Errorf("alice has no home on the server: %v", err)
		}
		out, _, st = alice.run(t, srv.addr, "kcna-lab run -- hostname")
		if st != 0 || strings.TrimSpace(out) == "" {
			t.Errorf("run -- hostname: status %d, %q", st, out)
		}
		_, errOut, st = alice.run(t, srv.addr, "serve")
		if st == 0 || !strings.Contains(errOut, "already on one") {
			t.Errorf("serve over SSH: status %d, %q; want a refusal", st, errOut)
		}
	})

	t.Run("a name is pinned to its first key", func(t *testing.T) {
		mallory := &client{user: "alice", key: newKey(t)}
		if conn, err := mallory.dial(srv.addr); err == nil {
			conn.Close()
			t.Fatal("another key got in as alice")
		}
		if !strings.Contains(strings.Join(mallory.told, " "), "The name alice is taken") {
			t.Errorf("mallory was told %q; want why", mallory.told)
		}
	})

	t.Run("bad names and no key are refused, saying why", func(t *testing.T) {
		bad := &client{user: "Bad_Name", key: newKey(t)}
		if conn, err := bad.dial(srv.addr); err == nil {
			conn.Close()
			t.Fatal("a bad name got in")
		}
		if !strings.Contains(strings.Join(bad.told, " "), "cannot be a student name") {
			t.Errorf("Bad_Name was told %q; want why", bad.told)
		}
		keyless := &client{user: "carol"}
		if conn, err := keyless.dial(srv.addr); err == nil {
			conn.Close()
			t.Fatal("a session without a key got in without a class code")
		}
		if !strings.Contains(strings.Join(keyless.told, " "), "ssh-keygen") {
			t.Errorf("carol was told %q; want how to make a key", keyless.told)
		}
	})

	t.Run("a student sees and touches only their own sandboxes", func(t *testing.T) {
		if _, errOut, st := alice.run(t, srv.addr, "run --detach --name web -- sleep 600"); st != 0 {
			t.Fatalf("alice run --detach: %d %s", st, errOut)
		}
		defer alice.run(t, srv.addr, "stop web")
		out, _, _ := alice.run(t, srv.addr, "ps")
		if !strings.Contains(out, "web") {
			t.Errorf("alice's ps does not show her sandbox:\n%s", out)
		}
		out, errOut, st := bob.run(t, srv.addr, "ps")
		if st != 0 || strings.Contains(out, "web") {
			t.Errorf("bob's ps: status %d; want 0 and no sight of alice's sandbox:\n%s%s", st, out, errOut)
		}
		for _, cmd := range []string{"stop web", "logs web", "exec web -- true"} {
			if out, errOut, st := bob.run(t, srv.addr, cmd); st == 0 || !strings.Contains(out+errOut, "web") {
				t.Errorf("bob: %s: status %d, %q; want a refusal naming no such sandbox", cmd, st, out+errOut)
			}
		}
		// A volume's host path is in the student's own root: the server's
		// /work, /home or state directory is not there to mount.
		out, errOut, st = bob.run(t, srv.addr, "run --volume "+srv.state+":/data -- ls /data")
		if st == 0 || strings.Contains(out, "students") {
			t.Errorf("bob mounted the server's class directory: status %d\n%s%s", st, out, errOut)
		}
	})

	t.Run("the quota holds the whole lab; on cgroup v2 sandboxes nest in it", func(t *testing.T) {
		pureV2 := fileExists("/sys/fs/cgroup/cgroup.controllers")
		memFile := "/sys/fs/cgroup/memory/kcna-lab/kcna-student-alice/memory.limit_in_bytes"
		if pureV2 {
			memFile = "/sys/fs/cgroup/kcna-lab/kcna-student-alice/memory.max"
		}
		if got := readTrim(t, memFile); got != fmt.Sprint(1<<30) {
			t.Errorf("%s = %s, want the quota %d", memFile, got, 1<<30)
		}
		_, errOut, st := alice.run(t, srv.addr, "run --detach --name lim --memory 64M -- sleep 600")
		if !pureV2 {
			// v1 cannot be delegated: the lab has no cgroups, and says so.
			if st == 0 {
				alice.run(t, srv.addr, "stop lim")
				t.Fatal("a memory limit inside a lab on a cgroup v1 server was accepted")
			}
			if out, _, _ := alice.run(t, srv.addr, "doctor"); !strings.Contains(out, "cannot be delegated into your lab") {
				t.Errorf("doctor in the lab does not say why limits are off:\n%s", out)
			}
			return
		}
		if st != 0 {
			t.Fatalf("run --memory in alice's lab: status %d %s", st, errOut)
		}
		defer alice.run(t, srv.addr, "stop lim")
		nested, _ := filepath.Glob("/sys/fs/cgroup/kcna-lab/kcna-student-alice/kcna-lab/*/memory.max")
		found := false
		for _, f := range nested {
			found = found || readTrim(t, f) == fmt.Sprint(64<<20)
		}
		if !found {
			t.Errorf("no cgroup with memory.max 64M nested under alice's: %v", nested)
		}
	})

	t.Run("the chroot escape lands in the student's lab", func(t *testing.T) {
		out, errOut, st := alice.run(t, srv.addr, "demo chroot-escape")
		if st != 0 || !strings.Contains(out, "got out") {
			t.Fatalf("demo chroot-escape: status %d\n%s%s", st, out, errOut)
		}
		// The first climb is out of the chroot: it reaches alice's lab
		// root (which has /opt/kcna-lab), not the server's (which has /work
		// or /home, and the class directory).
		_, climbed, ok := strings.Cut(out, "after the climb, / holds:")
		climbed, _, _ = strings.Cut(climbed, "\n")
		if !ok || !strings.Contains(climbed, " opt") || strings.Contains(climbed, " work") || strings.Contains(climbed, " home") {
			t.Errorf("the escape from the chroot reached %q; want alice's lab root (bin dev etc opt proc root ...)", climbed)
		}
	})

	t.Run("a lesson's shell on the session's terminal, resized", func(t *testing.T) {
		co, err := openCourse(srv.addr, alice, 30, 100, &syncBuffer{})
		if err != nil {
			t.Fatal(err)
		}
		defer co.close()
		for _, step := range []struct{ keys, want string }{
			{"", "Containers and Kubernetes"},
			{"\r", "After this lesson"},
			// The shell's prompt, in the lesson's sandbox: the whole of it,
			// since a lone "#" can be on the lesson's page already, and keys
			// typed before the shell is up go to the course instead.
			{"s", "[sandbox lab-why /]# "},
		} {
			if err := co.press(step.keys, step.want, 30*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		if err := co.sess.WindowChange(41, 97); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if err := co.press("echo kl-$((6*7)) $(stty size)\r", "kl-42 41 97", 20*time.Second); err != nil {
			t.Fatalf("the shell is not on the session's resized terminal: %v", err)
		}
		// The lesson comes back when the shell exits.
		co.screen.Reset()
		if err := co.press("exit\r", "1. Why containers", 20*time.Second); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the course over a terminal, with absurd sizes and garbage", func(t *testing.T) {
		// A student new to the course: it opens on the course map, and
		// q quits at once (alice's course would reopen in her lesson and
		// ask about the sandbox her shell kept).
		hana := &client{user: "hana", key: newKey(t)}
		co, err := openCourse(srv.addr, hana, 24, 80, &syncBuffer{})
		if err != nil {
			t.Fatal(err)
		}
		defer co.close()
		if err := waitScreen(co.screen, "Containers and Kubernetes", 20*time.Second); err != nil {
			t.Fatal(err)
		}
		for _, size := range [][2]int{{0, 0}, {10000, 10000}, {1, 1}, {24, 80}} {
			if err := co.sess.WindowChange(size[0], size[1]); err != nil {
				t.Fatalf("window-change %v: %v", size, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		_, _ = io.WriteString(co.stdin, "\x1b[999;999R\x1b]52;c;!!\x07\x1b[?1049\x1bP+q\x1b\\\xff\xfe")
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(co.stdin, "q")
		ended := make(chan error, 1)
		go func() { ended <- co.sess.Wait() }()
		select {
		case err := <-ended:
			if err != nil {
				t.Errorf("the course ended with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("q did not end the course; screen:\n%s", tail(plain(co.screen.String()), 2000))
		}
		if _, _, st := bob.run(t, srv.addr, "lessons"); st != 0 {
			t.Error("the server stopped serving others")
		}
	})
}

// TestWorkshopClassCode is the class code: a new name gives it once, then
// its key alone lets it in; a student without a key joins by the code.
func TestWorkshopClassCode(t *testing.T) {
	srv := startServer(t, Options{ClassCode: "k8s-rocks"})
	key := newKey(t)
	wrong := &client{user: "dana", key: key, code: "guess"}
	if conn, err := wrong.dial(srv.addr); err == nil {
		conn.Close()
		t.Fatal("a wrong class code got in")
	}
	right := &client{user: "dana", key: key, code: "k8s-rocks"}
	if _, errOut, st := right.run(t, srv.addr, "lessons"); st != 0 {
		t.Fatalf("dana with the code: status %d %s", st, errOut)
	}
	again := &client{user: "dana", key: key} // no code this time
	if _, errOut, st := again.run(t, srv.addr, "lessons"); st != 0 {
		t.Fatalf("dana's pinned key alone: status %d %s", st, errOut)
	}
	if other := (&client{user: "dana", key: newKey(t), code: "k8s-rocks"}); true {
		if conn, err := other.dial(srv.addr); err == nil {
			conn.Close()
			t.Error("another key with the class code took over dana")
		}
	}
	keyless := &client{user: "erin", code: "k8s-rocks"}
	if _, errOut, st := keyless.run(t, srv.addr, "lessons"); st != 0 {
		t.Fatalf("erin without a key, with the code: status %d %s", st, errOut)
	}
}

// TestWorkshopLeavesNothing: a student who disconnects mid-command leaves
// no process or cgroup once the session ends, and a stopped server none.
func TestWorkshopLeavesNothing(t *testing.T) {
	srv := startServer(t, Options{Linger: 0})
	before := leftovers(t)
	fay := &client{user: "fay", key: newKey(t)}
	conn, err := fay.dial(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("run --name busy -- sleep 600"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(leftovers(t), "kcna-student-fay") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // the sandbox is up
	conn.Close()            // gone mid-command
	deadline = time.Now().Add(20 * time.Second)
	for leftovers(t) != before && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if got := leftovers(t); got != before {
		t.Errorf("after fay left:\n%s\nwant as before:\n%s", got, before)
	}
	// A session open when the server stops is told, and nothing stays.
	gus := &client{user: "gus", key: newKey(t)}
	conn, err = gus.dial(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err = conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var errOut syncBuffer
	sess.Stderr = &errOut
	if err := sess.Start("run -- sleep 600"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	srv.stop()
	if !strings.Contains(errOut.String(), "server is stopping") {
		t.Errorf("gus was not told the server stopped: %q", errOut.String())
	}
	if got := leftovers(t); got != before {
		t.Errorf("after the server stopped:\n%s\nwant as before:\n%s", got, before)
	}
}

// TestWorkshopRefusesPolitely: past --max-students the next student is
// told the class is full (and gets in once someone leaves); a flood of
// connections from one address is cut off before any handshake, and the
// server goes on serving.
func TestWorkshopRefusesPolitely(t *testing.T) {
	srv := startServer(t, Options{MaxStudents: 2, Linger: 0})
	hold := func(c *client) func() {
		conn, err := c.dial(srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		sess, err := conn.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.Start("run -- sleep 600"); err != nil {
			t.Fatal(err)
		}
		return func() { conn.Close() }
	}
	leaveAlice := hold(&client{user: "alice", key: newKey(t)})
	leaveBob := hold(&client{user: "bob", key: newKey(t)})
	defer leaveBob()
	time.Sleep(time.Second)
	carol := &client{user: "carol", key: newKey(t)}
	if _, errOut, st := carol.run(t, srv.addr, "lessons"); st == 0 || !strings.Contains(errOut, "class is full") {
		t.Errorf("carol in a full class: status %d, %q; want told it is full", st, errOut)
	}
	leaveAlice()
	// Alice's place is free once the server has seen her go, which on a
	// slow machine can take seconds (her lab may still be starting).
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, errOut, st := carol.run(t, srv.addr, "lessons")
		if st == 0 {
			break
		}
		if !strings.Contains(errOut, "class is full") || time.Now().After(deadline) {
			t.Fatalf("carol once alice left: status %d, %q", st, errOut)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The flood: far more new connections at once than the burst allows.
	refused := 0
	for range 300 {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			refused++
			continue
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != nil {
			refused++ // closed before the server's version line
		}
		c.Close()
	}
	if refused == 0 {
		t.Error("300 connections at once from one address: none was refused")
	}
	time.Sleep(5 * time.Second) // the limiter refills
	if _, errOut, st := carol.run(t, srv.addr, "lessons"); st != 0 {
		t.Errorf("after the flood: status %d, %q; the server must go on serving", st, errOut)
	}
}

// TestWorkshopAfterKill9: serve killed with SIGKILL mid-class takes every
// lab with it; `kcna-lab clean` removes what the labs left (their
// cgroups, as their journals name them), and the next serve knows every
// student's key and progress.
func TestWorkshopAfterKill9(t *testing.T) {
	_, kcnaLab := programs(t)
	state := classDir(t)
	serve := func() (*exec.Cmd, string) { return serveProcess(t, kcnaLab, state) }
	before := leftovers(t)
	first, addr := serve()
	alice := &client{user: "alice", key: newKey(t)}
	if err := attendLesson(addr, alice); err != nil {
		t.Fatalf("alice's lesson: %v", err)
	}
	conn, err := alice.dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("run --name busy -- sleep 600"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	_ = first.Process.Kill()
	_ = first.Wait()
	time.Sleep(500 * time.Millisecond)
	if got := leftovers(t); !strings.Contains(got, "kcna-student-alice") {
		t.Logf("after kill -9 (before clean):\n%s", got)
	}
	if out, err := exec.Command(kcnaLab, "clean").CombinedOutput(); err != nil {
		t.Fatalf("kcna-lab clean: %v\n%s", err, out)
	}
	if got := leftovers(t); got != before {
		t.Errorf("after kill -9 and clean:\n%s\nwant as before:\n%s", got, before)
	}
	second, addr := serve()
	defer func() {
		// SIGTERM ends a server cleanly: every lab stopped, exit 0.
		_ = second.Process.Signal(syscall.SIGTERM)
		if err := second.Wait(); err != nil {
			t.Errorf("serve after SIGTERM: %v; want exit 0", err)
		}
		if got := leftovers(t); got != before {
			t.Errorf("after SIGTERM:\n%s\nwant as before:\n%s", got, before)
		}
	}()
	out, errOut, st := alice.run(t, addr, "lessons")
	if st != 0 || !regexp.MustCompile(`why-containers .* 1/\d+`).MatchString(out) {
		t.Errorf("alice after the restart: status %d\n%s%s\nwant her answered question kept", st, out, errOut)
	}
	if other := (&client{user: "alice", key: newKey(t)}); true {
		if c, err := other.dial(addr); err == nil {
			c.Close()
			t.Error("after the restart another key got in as alice: the pin was lost")
		}
	}
}

// TestWorkshopKeylessNamesStayTheirs: with a class code a student may
// join without a key; their name is then pinned to a password shown once,
// and neither the class code alone nor another key takes it over.
func TestWorkshopKeylessNamesStayTheirs(t *testing.T) {
	srv := startServer(t, Options{ClassCode: "k8s-rocks"})
	erin := &client{user: "erin", code: "k8s-rocks"}
	_, errOut, st := erin.run(t, srv.addr, "lessons")
	if st != 0 {
		t.Fatalf("erin without a key, with the code: status %d %s", st, errOut)
	}
	m := regexp.MustCompile(`\n    ([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})\r?\n`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("erin was not shown her password:\n%s", errOut)
	}
	for _, mallory := range []*client{
		{user: "erin", code: "k8s-rocks"},                 // the class code as erin's password
		{user: "erin", key: newKey(t), code: "k8s-rocks"}, // a key of her own, and the code
	} {
		if conn, err := mallory.dial(srv.addr); err == nil {
			conn.Close()
			t.Errorf("someone else got in as erin (key %v)", mallory.key != nil)
		}
	}
	again := &client{user: "erin", code: m[1]}
	if _, errOut, st := again.run(t, srv.addr, "lessons"); st != 0 {
		t.Errorf("erin with her password: status %d %s", st, errOut)
	}
}

// TestWorkshopBoundsWhatAClientHolds: a connection that never logs in is
// closed after the handshake timeout, not after --idle; a session's env
// requests are refused past the few a terminal needs.
func TestWorkshopBoundsWhatAClientHolds(t *testing.T) {
	defer func(d time.Duration) { handshakeTimeout = d }(handshakeTimeout)
	handshakeTimeout = 2 * time.Second
	srv := startServer(t, Options{Idle: time.Hour, Linger: 0})

	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	_, err = io.Copy(io.Discard, c) // the version line, then EOF when closed
	if took := time.Since(start); err != nil || took > 10*time.Second {
		t.Errorf("a silent connection: read %v after %v; want closed by the server after about 2s", err, took.Round(time.Millisecond))
	}

	ivy := &client{user: "ivy", key: newKey(t)}
	conn, err := ivy.dial(srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Setenv("EVIL", "1"); err == nil {
		t.Error("env EVIL=1 was accepted; want refused (not a terminal setting)")
	}
	accepted := 0
	for range 40 {
		if sess.Setenv("LANG", "C.UTF-8") == nil {
			accepted++
		}
	}
	// The refused EVIL counted as one of the session's requests.
	if accepted != maxEnvPerSession-1 {
		t.Errorf("%d of 40 env LANG requests accepted; want %d", accepted, maxEnvPerSession-1)
	}
	out, err := sess.Output("lessons")
	if err != nil || !strings.Contains(string(out), "why-containers") {
		t.Errorf("the session after its env requests: %v\n%s", err, out)
	}
}

// TestWorkshopCgroupLessonsInALab runs the demos of the lessons that
// lean on cgroups (5 cgroups, 6 runtimes, 9 orchestration, 14
// troubleshooting) in a student's lab, where cgroups are the lab's
// delegated subtree. On a cgroup v1 server there is none to delegate,
// and the demo must say so, not fail obscurely.
func TestWorkshopCgroupLessonsInALab(t *testing.T) {
	srv := startServer(t, Options{Linger: 0})
	jo := &client{user: "jo", key: newKey(t)}
	pureV2 := fileExists("/sys/fs/cgroup/cgroup.controllers")
	for _, demo := range []struct{ id, want string }{
		{"cgroup-limits", "137"},
		{"oci-runtime", "config.json"},
		{"orchestration", "replica"},
		{"troubleshoot", "OOM"},
	} {
		t.Run(demo.id, func(t *testing.T) {
			out, errOut, st := jo.run(t, srv.addr, "demo "+demo.id)
			if !pureV2 {
				// It runs, or says this lab cannot and why.
				if st != 0 && !strings.Contains(errOut, "cannot be delegated into your lab") {
					t.Errorf("demo %s in a lab on a cgroup v1 server: status %d; want it to run or to say cgroups cannot be delegated:\n%s%s", demo.id, st, tail(out, 1500), errOut)
				}
				if demo.id == "cgroup-limits" && st == 0 {
					t.Errorf("demo cgroup-limits ran in a lab without cgroups:\n%s", tail(out, 1500))
				}
				t.Logf("demo %s: status %d %s", demo.id, st, tail(errOut, 300))
				return
			}
			if st != 0 || !strings.Contains(out, demo.want) {
				t.Errorf("demo %s in jo's lab: status %d; want 0 and %q in the output:\n%s%s", demo.id, st, demo.want, tail(out, 3000), errOut)
			}
		})
	}
}
