package classweb

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/parse"
	"github.com/kcna-lab/kcna-lab/workshop/roster"
)

func testCourse(t testing.TB) *lessons.Course {
	t.Helper()
	src := "---\nid: first\ntitle: First lesson\norder: 1\ndomain: container-orchestration\nobjectives: [Try]\nquiz:\n" +
		"  - id: q1\n    prompt: Which is right?\n    choices: [wrong, right]\n    answer: b\n    explanation: The second is right, the first is not.\n" +
		"---\n# First\n\nText.\n"
	c, probs := parse.Load(fstest.MapFS{"01-first.md": {Data: []byte(src)}}, nil)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return c
}

// class is a roster of alice and bob, followed by inotify until the test
// ends; it returns alice's progress directory.
func class(t *testing.T) (*roster.Roster, *lessons.Course, string) {
	t.Helper()
	c := testCourse(t)
	r := roster.New(c, roster.Options{})
	alice := filepath.Join(t.TempDir(), "kcna-lab")
	r.Add("alice", alice)
	r.Add("bob", filepath.Join(t.TempDir(), "kcna-lab"))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = r.Watch(ctx) }()
	time.Sleep(50 * time.Millisecond)
	return r, c, alice
}

// answer saves a right answer to the first question in dir, as the
// student's course would.
func answer(t *testing.T, c *lessons.Course, dir string) {
	t.Helper()
	p := lessons.NewProgress()
	p.MarkRead(c.Lessons[0], time.Now())
	p.RecordAnswer(&c.Lessons[0].Quiz[0], []int{1}, time.Now())
	if err := (&lessons.Store{Path: filepath.Join(dir, "progress.json"), UID: -1, GID: -1}).Save(p); err != nil {
		t.Fatal(err)
	}
}

// TestTokenGuardsEveryPath: with a token, nothing is served without it;
// ?token= sets a cookie that then opens the API.
func TestTokenGuardsEveryPath(t *testing.T) {
	r, _, _ := class(t)
	srv := httptest.NewServer(Handler(r, "s3cret"))
	defer srv.Close()
	for _, p := range []string{"/", "/app.js", "/api/class", "/api/lessons", "/events", "/?token=wrong"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without the token: %s, want 401", p, resp.Status)
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/api/class", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Students []roster.Student }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got.Students) != 2 {
		t.Fatalf("/api/class with the token: %v %+v", err, got)
	}
}

// TestListenDecidesLoopbackFromTheSocket: loopback (no token) is what
// the listening socket's address is, whatever name was given.
func TestListenDecidesLoopbackFromTheSocket(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:0": true, "localhost:0": true, ":0": false, "0.0.0.0:0": false} {
		ln, got, err := Listen(addr)
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		ln.Close()
		if got != want {
			t.Errorf("Listen(%q) on %s: loopback %v, want %v", addr, ln.Addr(), got, want)
		}
	}
	if _, _, err := Listen("8088"); err == nil || !strings.Contains(err.Error(), "HOST:PORT") {
		t.Errorf("a port alone: %v, want a HOST:PORT error", err)
	}
}

// TestServerBoundsConnectionsAndStreams: at most MaxStreams live pages
// (the next gets a 503 saying so), at most MaxConns connections served
// at once (the next waits until one closes).
func TestServerBoundsConnectionsAndStreams(t *testing.T) {
	r, _, _ := class(t)
	ln, _, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := NewServer(Handler(r, ""))
	go func() { _ = web.Serve(ln) }()
	t.Cleanup(func() { _ = web.Close() })
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range MaxStreams {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %v %v", i, err, resp)
		}
		defer resp.Body.Close()
	}
	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "live class pages are open already") {
		t.Fatalf("stream %d: %d %q, want 503 saying why", MaxStreams+1, resp.StatusCode, body)
	}
	cancel()
	http.DefaultClient.CloseIdleConnections()

	// Hold MaxConns connections (the streams above are closing too).
	time.Sleep(100 * time.Millisecond)
	var held []net.Conn
	for range MaxConns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond)
	client := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	if resp, err := client.Get(base + "/api/class"); err == nil {
		resp.Body.Close()
		t.Fatalf("with %d connections held a request was served (%d), want it kept waiting", MaxConns, resp.StatusCode)
	}
	held[0].Close()
	client.Timeout = 3 * time.Second
	resp, err = client.Get(base + "/api/class")
	if err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	resp.Body.Close()
	for _, c := range held[1:] {
		c.Close()
	}
}

// TestPageInChromium loads the page in a real headless Chromium: it
// shows both students, and alice's row changes when she answers a
// question (inotify, then server-sent events), within a second.
func TestPageInChromium(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		t.Skip("no Chromium on this machine (Debian: apt-get install chromium; make deps installs it)")
	}
	r, c, alice := class(t)
	srv := httptest.NewServer(Handler(r, "s3cret"))
	defer srv.Close()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.Headless)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()

	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/?token=s3cret"),
		chromedp.WaitVisible(chromedp.CSS("#student-bob")),
	); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#class")))
	if err != nil || !strings.Contains(text, "alice") || !strings.Contains(text, "bob") {
		t.Fatalf("the page does not show both students (%v):\n%s", err, text)
	}
	if quiz, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#student-alice .quiz"))); err != nil || quiz != "0/0" {
		t.Fatalf("alice's quiz before answering: %q (%v)", quiz, err)
	}
	start := time.Now()
	answer(t, c, alice)
	wctx, cancelW := context.WithTimeout(ctx, time.Second)
	defer cancelW()
	_, err = chromedp.Run(wctx, chromedp.Poll[bool](`document.querySelector("#student-alice .quiz").textContent === "1/1"`, chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		text, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#class")))
		t.Fatalf("alice's answer not on the page within a second (%v):\n%s", err, text)
	}
	t.Logf("alice's answer on the page %s after her course saved it", time.Since(start).Round(time.Millisecond))
}
