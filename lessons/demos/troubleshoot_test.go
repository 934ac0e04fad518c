//go:build linux

package demos

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/network"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

func TestTroubleshootDemo(t *testing.T) {
	names := []string{"oom0", "oom1", "clash", "other", "api", "lone", "cli", "journal"}
	for i, n := range names {
		names[i] = demoName(n)
	}
	var veths []string
	leaveNoTrace(t, &veths, names...)
	before := volumeDirs()
	pidOf := func(name string) int {
		st, err := sandbox.Find(demoName(name))
		if err != nil {
			t.Fatal(err)
		}
		return st.InitPID
	}
	runProbed(t, "troubleshoot", map[string]func(event.Compare){
		"The worker under two limits": func(event.Compare) {
			for i, want := range []bool{true, false} {
				st, err := sandbox.Find(demoName([]string{"oom0", "oom1"}[i]))
				if err != nil {
					t.Fatal(err)
				}
				m, err := readMemory(st.Cgroups)
				if err != nil {
					t.Fatal(err)
				}
				if (m.OOMKills > 0) != want {
					t.Errorf("%s: %s says oom_kill %d; want OOM kills: %v", st.Name, m.eventsFile, m.OOMKills, want)
				}
			}
		},
		"The second bind(2)": func(event.Compare) {
			clash, other := pidOf("clash"), pidOf("other")
			if !listensOn(t, clash, 8080) || !listensOn(t, other, 8080) {
				t.Error("both sandboxes should listen on 8080, each in its own namespace")
			}
			a, _ := sandbox.NamespaceInode(clash, sandbox.NSNet)
			b, _ := sandbox.NamespaceInode(other, sandbox.NSNet)
			if a == b {
				t.Errorf("one network namespace for both: %s", a)
			}
		},
		"The fix: the second service": func(event.Compare) {
			if pid := pidOf("clash"); !listensOn(t, pid, 8080) || !listensOn(t, pid, 9090) {
				t.Error("after the fix, clash should listen on 8080 and 9090")
			}
		},
		"Two ways a name fails": func(event.Compare) {
			veths = append(veths, vethsOf(t, demoName("api"), demoName("cli"))...)
			dev, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pidOf("lone")), "net/dev"))
			if err != nil || strings.Contains(string(dev), "eth0") {
				t.Errorf("the --net none client should have loopback only: %s %v", dev, err)
			}
			lookup := network.Lookup("")
			if _, ok := lookup(demoName("api")); !ok {
				t.Error("the IPAM does not resolve the api sandbox")
			}
			if _, ok := lookup("apl" + strings.TrimPrefix(demoName("api"), "api")); ok {
				t.Error("the typo resolves")
			}
		},
		"Run 1 writes its journal": func(event.Compare) {
			vol := newVolumeDir(t, before)
			if entries, _ := os.ReadDir(vol); len(entries) != 0 {
				t.Errorf("the volume should be empty after writing to the layer: %v", entries)
			}
		},
		"The fix: write where the volume is": func(event.Compare) {
			vol := newVolumeDir(t, before)
			if b, err := os.ReadFile(filepath.Join(vol, "journal.txt")); err != nil || string(b) != "entry 1\n" {
				t.Errorf("journal.txt on the host: %q %v", b, err)
			}
		},
	})
	if d := volumeDirs(); len(d) != len(before) {
		t.Errorf("volume dirs before %v, after %v", before, d)
	}
}

// setup runs a challenge's Setup and checks it says something.
func setup(t *testing.T, id string) string {
	t.Helper()
	c, ok := Builtin().Check(id)
	if !ok || c.Setup == nil {
		t.Fatalf("check %s has no setup", id)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec := &recorder{}
	msg, err := c.Setup(ctx, rec)
	if err != nil {
		t.Fatalf("setup %s: %v", id, err)
	}
	if msg == "" || len(rec.Of(event.KindStep)) == 0 {
		t.Errorf("setup %s said %q in %d steps", id, msg, len(rec.Of(event.KindStep)))
	}
	return msg
}

// The troubleshooting challenges: the setup's broken state fails the
// check, the fix a learner would make passes it.

func TestFixOOM(t *testing.T) {
	labBin(t)
	leaveNoTrace(t, nil, "hungry")
	wantVerdict(t, "fix-oom", false, "no sandbox called hungry")
	setup(t, "fix-oom")
	eventually(t, "fix-oom", false, "the limit (32M) is still below what the workload needs", 15*time.Second)

	labRun(t, "stop", "hungry")
	labRun(t, "run", "--detach", "--name", "hungry", "--", "sh", "-c", hungryScript)
	wantVerdict(t, "fix-oom", false, "there is no memory limit now")
	labRun(t, "stop", "hungry")
	labRun(t, "run", "--detach", "--name", "hungry", "--memory", "64M", "--", "sh", "-c", hungryScript)
	wantVerdict(t, "fix-oom", false, "let its worker load")
	eventually(t, "fix-oom", true, "with oom_kill 0", hungryUptime+10*time.Second)
}

func TestFixPortClash(t *testing.T) {
	labBin(t)
	leaveNoTrace(t, nil, "clash")
	setup(t, "fix-port-clash")
	eventually(t, "fix-port-clash", false, "only httpd", 10*time.Second)
	labRun(t, "stop", "clash")
	labRun(t, "run", "--detach", "--name", "clash", "--", "sh", "-c", strings.Replace(clashScript, "metrics_port=8080", "metrics_port=9090", 1))
	eventually(t, "fix-port-clash", true, "nc (PID", 10*time.Second)
}

func TestFixDNS(t *testing.T) {
	labBin(t)
	var veths []string
	leaveNoTrace(t, &veths, "client", "api")
	setup(t, "fix-dns")
	veths = vethsOf(t, "api")
	wantVerdict(t, "fix-dns", false, "client has no network but loopback")
	labRun(t, "stop", "client")
	labRun(t, "run", "--detach", "--name", "client", "--net", "bridge", "--", "sh", "-c", clientScript)
	veths = vethsOf(t, "api", "client")
	wantVerdict(t, "fix-dns", true, "inside client, `nslookup api` answers")
}

func TestFixLostData(t *testing.T) {
	labBin(t)
	leaveNoTrace(t, nil, "journal")
	home := openDir(t)
	t.Setenv("HOME", home)
	t.Setenv("SUDO_USER", "")
	data := filepath.Join(home, "kcna-data")
	setup(t, "fix-lost-data")
	if got := ownerUID(t, data); got != volumeWriter(filepath.Dir(data)) {
		t.Errorf("setup made %s for uid %d, want the sandbox's root as the host sees it, %d", data, got, volumeWriter(filepath.Dir(data)))
	}
	wantVerdict(t, "fix-lost-data", false, "its /data is still in its writable layer")

	labRun(t, "stop", "journal")
	labRun(t, "run", "--detach", "--name", "journal", "--overlay", "--volume", data+":/data", "--", "sh", "-c", journalScript)
	wantVerdict(t, "fix-lost-data", false, "stop it (kcna-lab stop journal)")
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(filepath.Join(data, "journal.txt")); strings.Count(string(b), "\n") >= 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	labRun(t, "stop", "journal")
	wantVerdict(t, "fix-lost-data", true, "the data outlived it")
}
