package workshop

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// roomSize is the class the load test holds: the goal for one
// 2-core server.
const roomSize = 30

// TestWorkshopHoldsARoom connects a room of students at once, each through
// a real SSH session with a terminal: they open the course, read lesson 1,
// run its live demo and answer its first question. All must finish, each
// progress file must hold that student's answer, and nothing may be left
// on the host when the server stops.
func TestWorkshopHoldsARoom(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the room test runs 30 labs")
	}
	// Each student's lab holds about 70 MB (make bench measures it).
	if avail, need := memAvailableMB(), roomSize*80; avail < need {
		t.Skipf("a room of %d needs about %d MB of memory; this machine has %d MB available", roomSize, need, avail)
	}
	srv := startServer(t, Options{Linger: 0, MaxStudents: roomSize})
	before := leftovers(t)
	var wg sync.WaitGroup
	errs := make([]error, roomSize)
	for i := range roomSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = attendLesson(srv.addr, &client{user: fmt.Sprintf("student%02d", i), key: newKey(t)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("student%02d: %v", i, err)
		}
	}
	for i := range roomSize {
		path := filepath.Join(srv.state, "students", fmt.Sprintf("student%02d", i), "home", ".local", "state", "kcna-lab", "progress.json")
		if err := answeredFirstQuestion(path); err != nil {
			t.Errorf("student%02d's progress: %v", i, err)
		}
	}
	srv.stop()
	if got := leftovers(t); got != before {
		t.Errorf("after the room left:\n%s\nwant as before:\n%s", got, before)
	}
}

// memAvailableMB is /proc/meminfo's MemAvailable.
func memAvailableMB() int {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb / 1024
		}
	}
	return 0
}

// attendLesson is one student's visit: course map, lesson 1, its demo in
// the live pane, the quiz's first question answered right, quit.
func attendLesson(addr string, c *client) error {
	co, err := openCourse(addr, c, 30, 100, &syncBuffer{})
	if err != nil {
		return err
	}
	defer co.close()
	steps := []struct {
		keys, want string
		within     time.Duration
	}{
		{"", "Containers and Kubernetes", 60 * time.Second},
		{"\r", "After this lesson you can", 30 * time.Second},
		{"r", "Press r to run it again", 120 * time.Second},
		{"z", "Choose 3", 30 * time.Second},
		{"abd\r", "Right.", 30 * time.Second},
	}
	for _, s := range steps {
		if err := co.press(s.keys, s.want, s.within); err != nil {
			return err
		}
	}
	// q steps back a screen at a time (quiz, lesson, course map) and
	// quits from the map: press it until the course ends.
	ended := make(chan error, 1)
	go func() { ended <- co.sess.Wait() }()
	for range 6 {
		_, _ = io.WriteString(co.stdin, "q")
		select {
		case err := <-ended:
			return err
		case <-time.After(2 * time.Second):
		}
	}
	return fmt.Errorf("q six times did not quit the course; screen ends:\n%s", tail(plain(co.screen.String()), 600))
}

// answeredFirstQuestion reads a student's progress file as the course
// wrote it: lesson 1 read, its demo run, its first question right.
func answeredFirstQuestion(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var p struct {
		Lessons map[string]struct {
			ReadAt   time.Time `json:"read_at"`
			DemoRuns int       `json:"demo_runs"`
			Answers  map[string]struct {
				Correct bool `json:"correct"`
			} `json:"answers"`
		} `json:"lessons"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	l := p.Lessons["why-containers"]
	switch {
	case l.ReadAt.IsZero():
		return fmt.Errorf("lesson 1 not marked read: %s", b)
	case l.DemoRuns < 1:
		return fmt.Errorf("lesson 1's demo run not counted: %s", b)
	case !l.Answers["dependency-kinds"].Correct:
		return fmt.Errorf("the first question not answered right: %s", b)
	}
	return nil
}
