package workshop

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/workshop/labhost"
)

// TestBenchWorkshop measures a room as its students feel it, for `make
// bench` (KCNA_BENCH=1): the real `kcna-lab serve` process, a room of
// students on ptys, a third of them running live demos over and over
// while the others press keys. It reports the time from a keystroke sent
// to the changed frame received (p50/p95), the server's memory per
// student, and what each student's lab holds in memory besides.
func TestBenchWorkshop(t *testing.T) {
	if os.Getenv("KCNA_BENCH") == "" {
		t.Skip("a benchmark: make bench runs it (KCNA_BENCH=1)")
	}
	_, kcnaLab := programs(t)
	cmd, addr := serveProcess(t, kcnaLab, classDir(t), "--linger", "0", "--max-students", fmt.Sprint(roomSize))
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	idleRSS := rssKB(cmd.Process.Pid)

	var mu sync.Mutex
	var latencies []time.Duration
	var wg sync.WaitGroup
	stop := make(chan struct{})
	ready := make(chan struct{}, roomSize)
	for i := range roomSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &client{user: fmt.Sprintf("bench%02d", i), key: newKey(t)}
			lat, err := benchStudent(addr, c, i%3 == 0, ready, stop)
			if err != nil {
				t.Errorf("%s: %v", c.user, err)
			}
			mu.Lock()
			latencies = append(latencies, lat...)
			mu.Unlock()
		}()
	}
	for range roomSize {
		select {
		case <-ready:
		case <-time.After(2 * time.Minute):
			t.Fatal("the room did not get in within 2 minutes")
		}
	}
	time.Sleep(20 * time.Second) // keys pressed while demos run
	roomRSS := rssKB(cmd.Process.Pid)
	labsRSS := labProcessesRSS()
	close(stop)
	wg.Wait()

	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(p*float64(len(latencies)-1))]
	}
	perStudent := float64(roomRSS-idleRSS) / 1024 / roomSize
	t.Logf("workshop server, %d students on ptys, %d of them running live demos, kcna-lab serve as a process:", roomSize, (roomSize+2)/3)
	t.Logf("  keystroke to changed frame   p50 %v  p95 %v  (%d keystrokes; goal p95 <= 50ms)", pct(0.5).Round(time.Millisecond/10), pct(0.95).Round(time.Millisecond/10), len(latencies))
	t.Logf("  server RSS                   %.1f MB idle, %.1f MB with the room: %.2f MB per student (goal <= 30 MB + 8 MB per student)",
		float64(idleRSS)/1024, float64(roomRSS)/1024, perStudent)
	t.Logf("  labs (outside the server)    %.1f MB per student: the lab's init, the course's process, sandboxes (RSS summed, shared pages counted in each)",
		float64(labsRSS)/1024/roomSize)
}

// benchStudent opens the course; demo students run lesson 1's demo again
// and again, the others press j and k and time each frame.
func benchStudent(addr string, c *client, demo bool, ready chan<- struct{}, stop <-chan struct{}) ([]time.Duration, error) {
	frames := make(chan time.Time, 1024)
	co, err := openCourse(addr, c, 30, 100, &syncBuffer{frames: frames})
	if err != nil {
		return nil, err
	}
	defer co.close()
	if err := waitScreen(co.screen, "Containers and Kubernetes", 2*time.Minute); err != nil {
		return nil, err
	}
	stdin := co.stdin
	ready <- struct{}{}
	var lat []time.Duration
	if demo {
		_, _ = io.WriteString(stdin, "\r")
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			_, _ = io.WriteString(stdin, "qqqq")
			return lat, nil
		default:
		}
		if demo {
			_, _ = io.WriteString(stdin, "r")
			time.Sleep(2 * time.Second)
			continue
		}
		time.Sleep(300 * time.Millisecond)
		drain(frames)
		key := "j"
		if i%2 == 1 {
			key = "k"
		}
		sent := time.Now()
		_, _ = io.WriteString(stdin, key)
		select {
		case at := <-frames:
			lat = append(lat, at.Sub(sent))
		case <-time.After(5 * time.Second):
			return lat, fmt.Errorf("no frame within 5s of a keystroke")
		}
	}
}

func drain(c <-chan time.Time) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// labProcessesRSS sums the RSS of every process in a student's uid range.
func labProcessesRSS() int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	total := 0
	for _, d := range dirs {
		var st os.FileInfo
		st, err := os.Stat(d)
		if err != nil {
			continue
		}
		if uid := statUID(st); uid >= labhost.FirstID {
			pid, _ := strconv.Atoi(filepath.Base(d))
			total += rssKB(pid)
		}
	}
	return total
}
