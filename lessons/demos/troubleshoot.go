package demos

// Lesson 14, troubleshooting: four broken sandboxes. Each challenge's
// Setup builds the fault with `kcna-lab run --detach` (so that it outlives
// the command that set it up), the learner diagnoses it with kcna-lab's
// commands and a shell inside, fixes it, and the check reads the fix from
// live state. The scenarios, exactly:
//
// fix-oom — "hungry" is killed over and over.
//   Setup:  kcna-lab run --detach --name hungry --memory 32M -- sh -c WORKER
//           where WORKER loops: load 48 MiB (head -c 48MiB /dev/zero | tail
//           -c 48MiB, in a subshell with oom_score_adj 1000 so that the OOM
//           killer takes it and not the loop), print "worker: exited with
//           $?", sleep 2 — a tiny restart loop, like a kubelet restarting a
//           container.
//   Fault:  48 MiB does not fit in 32 MiB: the cgroup's OOM killer sends
//           SIGKILL every round; `kcna-lab logs hungry` shows "exited with
//           137" (128 + 9), and the sandbox's cgroup shows the cause:
//           memory.events oom_kill N (v2) or memory.oom_control oom_kill N
//           (v1), with memory.max (memory.limit_in_bytes) at 32M.
//   Fix:    stop hungry and start it with the same worker and a limit that
//           covers it, e.g. --memory 64M (in Kubernetes: raise
//           resources.limits.memory; removing the limit does not pass).
//   Check:  hungry runs, has been up for 6 s or more, has a memory limit
//           above 48 MiB, oom_kill is 0, and its peak use (memory.peak or
//           memory.max_usage_in_bytes, where the kernel has it) is at least
//           40 MiB, so the 48 MiB worker really ran.
//
// fix-port-clash — two services of one "pod" on one port.
//   Setup:  kcna-lab run --detach --name clash -- sh -c 'metrics_port=8080;
//           httpd -f -p 8080 -h /etc & sleep 1; while :; do nc -ll -p
//           $metrics_port -e echo metrics; ...; sleep 3; done'  (web on
//           8080, then a metrics service also on 8080)
//   Fault:  one network namespace has one port space: the metrics
//           listener's bind fails, `kcna-lab logs clash` shows "nc: bind:
//           Address already in use"; `kcna-lab exec clash -- netstat -ltn`
//           shows 8080 already taken (by httpd: ps). The same
//           port in another sandbox works: each has its own namespace.
//   Fix:    stop clash and start it with the metrics service on another
//           port, e.g. metrics_port=9090 (containers of one pod share the
//           pod's network namespace, so they need distinct ports).
//   Check:  in clash's network namespace (/proc/INITPID/net/tcp and tcp6)
//           one socket listens on 8080 and another on a different port
//           (kcna-lab's DNS on 127.0.0.11 does not count); the detail names
//           the processes that hold them, read from /proc/PID/fd.
//
// fix-dns — the client cannot find the API by name.
//   Setup:  kcna-lab run --detach --name api --net bridge -- httpd -f -p
//           8080 -h /etc, and kcna-lab run --detach --name client -- sh -c
//           'while :; do wget -qO- -T 2 http://api:8080/hostname || echo
//           "client: cannot reach api"; sleep 5; done'  (no --net bridge)
//   Fault:  client has loopback only: `kcna-lab logs client` shows "bad
//           address 'api'", its /etc/resolv.conf says it has no resolver,
//           `nslookup api` inside cannot reach a server, and `kcna-lab ps`
//           shows no address for it. (An NXDOMAIN would instead mean the
//           server was reached and the name is wrong: a typo, or api not
//           running.)
//   Fix:    stop client and start it again with --net bridge, so that it
//           gets kcna-lab's DNS (127.0.0.11) and a route to api.
//   Check:  `nslookup api` inside client answers api's address (its lease).
//
// fix-lost-data — the journal forgets everything at each restart.
//   Setup:  kcna-lab run --detach --name journal --overlay -- sh -c
//           'mkdir -p /data; while :; do echo "$(hostname): entry at
//           $(date)" >> /data/journal.txt; sleep 2; done'  (no volume), and
//           makes ~/kcna-data, owned by the sandbox's root (host uid 100000
//           as root), so that a volume there can be written.
//   Fault:  /data is a plain directory in the writable layer (`kcna-lab
//           exec journal -- df -P /data` says overlay; `kcna-lab layers
//           journal` lists /data/journal.txt as added): stop journal and
//           the entries go with the layer.
//   Fix:    stop journal and start it with --volume ~/kcna-data:/data and
//           the same command; let it write, then stop it.
//   Check:  ~/kcna-data/journal.txt (SUDO_USER's home first, then $HOME)
//           exists, is owned by the sandbox's root as the host sees it,
//           holds a "journal: entry" line, and journal is no longer
//           running: the data outlived it.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/cgroup"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// The scenarios' workloads, one place for the setups, the demo and the
// checks' hints.
const (
	// workerBytes is what hungry's worker holds: 48 MiB.
	workerBytes = 48 << 20
	// worker loads 48 MiB. It volunteers to be the OOM killer's first
	// choice (oom_score_adj 1000, what the kubelet gives BestEffort pods):
	// on cgroup v1 a second kill can follow the first before its memory is
	// freed, and it must not hit the loop or the sandbox's init.
	worker       = `(echo 1000 > /proc/self/oom_score_adj; head -c 50331648 /dev/zero | tail -c 50331648 >/dev/null)`
	hungryScript = `while :; do echo "worker: loading 48 MiB"; ` + worker + `; echo "worker: exited with $?"; sleep 2; done`
	// clashScript starts the web server first (sleep 1), so that it is
	// always the metrics service that finds its port taken.
	clashScript  = `metrics_port=8080; httpd -f -p 8080 -h /etc & sleep 1; while :; do echo "metrics: listening on $metrics_port"; nc -ll -p $metrics_port -e echo metrics; echo "metrics: exited with $?"; sleep 3; done`
	clientScript = `while :; do wget -qO- -T 2 http://api:8080/hostname || echo "client: cannot reach api"; sleep 5; done`
	apiScript    = `httpd -f -p 8080 -h /etc`
	// journalScript writes where the app thinks its data lives.
	journalScript = `mkdir -p /data; while :; do echo "$(hostname): entry at $(date)" >> /data/journal.txt; sleep 2; done`
	// hungryUptime is how long hungry must have run for its worker to
	// have loaded its 48 MiB a few times.
	hungryUptime = 6 * time.Second
)

func troubleshootDemos() []Demo {
	return []Demo{{
		ID:    "troubleshoot",
		Title: "Four broken sandboxes, four diagnoses: OOM, a port clash, a name that does not resolve, lost data",
		Run:   runTroubleshoot,
		Blocked: func(r sandbox.Report) string {
			if why := needsBridge(r); why != "" {
				return why
			}
			if r.Cgroup.Problem != "" {
				return r.Cgroup.Problem
			}
			return r.Overlay
		},
		ShellFlags: []string{"--name", "lab-debug", "--keep", "--net", "bridge"},
	}}
}

func troubleshootChecks() []Check {
	return []Check{
		{ID: "fix-oom", Verify: checkFixOOM, Setup: setupOOM},
		{ID: "fix-port-clash", Verify: checkFixPortClash, Setup: setupPortClash},
		{ID: "fix-dns", Verify: checkFixDNS, Setup: setupDNS},
		{ID: "fix-lost-data", Verify: checkFixLostData, Setup: setupLostData},
	}
}

func runTroubleshoot(ctx context.Context, sink event.Sink) error {
	for _, part := range []func(context.Context, event.Sink) error{oomCase, portClashCase, dnsCase, lostDataCase} {
		if err := part(ctx, sink); err != nil {
			return err
		}
	}
	event.Narrate(sink, "The method is the same each time: read the symptom (an exit status, a log line), then ask the kernel's own records — the cgroup's counters, the namespace's socket table, the resolver file, the mount table — rather than guess.")
	return nil
}

// oomCase: a worker killed with 137, traced to its cgroup's OOM counter.
func oomCase(ctx context.Context, sink event.Sink) error {
	event.Narrate(sink, "(a) A worker that needs 48 MiB, in a sandbox limited to 32 MiB. The symptom is an exit status:")
	var views [2][]string
	for i, limit := range []int64{32 << 20, 64 << 20} {
		name := demoName(fmt.Sprintf("oom%d", i))
		// Both stay up until their cgroups have been shown.
		sb, stop, err := held(ctx, sandbox.Spec{Name: name, Limits: sandbox.Limits{MemoryBytes: limit}}, sink)
		if err != nil {
			return err
		}
		defer stop()
		out, _, err := sandbox.ExecOutput(ctx, name, "sh", "-c", worker+`; echo "worker: exited with $?"`)
		if err != nil {
			return err
		}
		mem, err := readMemory(sb.Cgroups())
		if err != nil {
			return err
		}
		views[i] = append(lines(strings.TrimSpace(out)), mem.lines()...)
	}
	columns(sink, "The worker under two limits, and what its cgroup recorded", "--memory 32M", views[0], "--memory 64M", views[1])
	event.Narrate(sink, "137 is 128 + 9: the worker ended by SIGKILL. Anyone could send a SIGKILL; the proof that the kernel's OOM killer did it, because the cgroup reached its limit, is the cgroup's own counter: oom_kill in memory.events (v2) or memory.oom_control (v1). Container runtimes watch the same cgroup counter, which is how Kubernetes can report a container as OOMKilled. The fix is a limit that covers what the workload needs, not no limit.")
	return nil
}

// portClashCase: two listeners on one port in one network namespace.
func portClashCase(ctx context.Context, sink event.Sink) error {
	event.Narrate(sink, "(b) Two services in one sandbox, both configured for port 8080, as two containers of one pod might be.")
	one, other := demoName("clash"), demoName("other")
	sb, stop, err := held(ctx, sandbox.Spec{Name: one}, sink)
	if err != nil {
		return err
	}
	defer stop()
	// httpd without -f puts itself in the background, so exec returns.
	if _, err := inside(ctx, one, "httpd", "-p", "8080", "-h", "/etc"); err != nil {
		return err
	}
	second, _, err := sandbox.ExecOutput(ctx, one, "sh", "-c", `nc -l -p 8080 2>&1; echo "second service: exited with $?"; `+listening)
	if err != nil {
		return err
	}
	owners, err := listenerOwners(sb.PID())
	if err != nil {
		return err
	}
	_, stopOther, err := held(ctx, sandbox.Spec{Name: other}, sink)
	if err != nil {
		return err
	}
	defer stopOther()
	elsewhere, err := inside(ctx, other, "sh", "-c", "httpd -p 8080 -h /etc && "+listening)
	if err != nil {
		return err
	}
	columns(sink, "The second bind(2) to 8080 fails in the same namespace, not in another",
		one, append(lines(strings.TrimSpace(second)), owners...), other, elsewhere)
	fixed, err := inside(ctx, one, "sh", "-c", "httpd -p 9090 -h /etc && "+listening)
	if err != nil {
		return err
	}
	columns(sink, "The fix: the second service on its own port", one+": httpd -p 9090", fixed, "why", []string{"a port is bound once per", "network namespace; a pod's", "containers share one"})
	event.Narrate(sink, "\"Address already in use\" (EADDRINUSE) names the namespace's socket table as the place to look: netstat -ltn inside shows who holds the port, and /proc/PID/net/tcp on the host shows the same table. The same port in another sandbox was fine. Kubernetes containers of one pod share the pod's network namespace, so they need distinct ports; different pods may reuse one.")
	return nil
}

// dnsCase: no resolver at all, against a resolver that says NXDOMAIN.
func dnsCase(ctx context.Context, sink event.Sink) error {
	api, lone, onBridge := demoName("api"), demoName("lone"), demoName("cli")
	typo := "apl" + strings.TrimPrefix(api, "api")
	event.Narrate(sink, fmt.Sprintf("(c) A name that does not resolve. %s serves on the bridge; one client has no network but loopback, the other is on the bridge but asks for %s, a typo.", api, typo))
	_, stopAPI, err := serveHostname(ctx, api, nil, sink)
	if err != nil {
		return err
	}
	defer stopAPI()
	_, stopLone, err := held(ctx, sandbox.Spec{Name: lone}, sink)
	if err != nil {
		return err
	}
	defer stopLone()
	_, stopCli, err := held(ctx, sandbox.Spec{Name: onBridge, Net: &sandbox.Net{}}, sink)
	if err != nil {
		return err
	}
	defer stopCli()
	noNet, _, err := sandbox.ExecOutput(ctx, lone, "sh", "-c", "cat /etc/resolv.conf; nslookup "+api+" 2>&1")
	if err != nil {
		return err
	}
	wrong, _, err := sandbox.ExecOutput(ctx, onBridge, "sh", "-c", "nslookup "+typo+" 2>&1; nslookup "+api)
	if err != nil {
		return err
	}
	columns(sink, "Two ways a name fails", lone+" (--net none)", lines(noNet), onBridge+" (--net bridge)", lines(wrong))
	event.Narrate(sink, "Read the failure: \"no servers could be reached\" means no DNS server answered at all — look at /etc/resolv.conf and the network (here: loopback only, no resolver). NXDOMAIN means a server answered that the name does not exist — look at the name (a typo) and whether the service behind it runs. The fix for the first is to join the network (--net bridge); for the second, the right name.")
	return nil
}

// lostDataCase: data written to the writable layer beside an unused volume.
func lostDataCase(ctx context.Context, sink event.Sink) error {
	vol, err := volumeDir()
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(vol) }()
	name := demoName("journal")
	event.Narrate(sink, fmt.Sprintf("(d) An app writes its journal to /var/log/app, but its volume (%s on the host) is mounted at /data.", vol))
	spec := sandbox.Spec{Name: name, Overlay: true, Volumes: []sandbox.Volume{{Host: vol, Target: "/data"}}}
	runIn := func(script string) ([]string, error) {
		s := spec
		s.Args = []string{"sh", "-c", script}
		out, res, err := capture(ctx, s, sink)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("sandbox %s exited with %d: %s", name, res.ExitCode, strings.TrimSpace(out))
		}
		return lines(out), err
	}
	first, err := runIn(`mkdir -p /var/log/app && echo "entry 1" >> /var/log/app/journal.txt && cat /var/log/app/journal.txt && df -P /var/log/app /data | awk '{print $1, $6}'`)
	if err != nil {
		return err
	}
	second, err := runIn(`cat /var/log/app/journal.txt 2>&1; true`)
	if err != nil {
		return err
	}
	columns(sink, "Run 1 writes its journal; run 2, a fresh sandbox with the same volume, reads it", "run 1 (and df: which filesystem)", first, "run 2", append(second, "host "+vol+":", strings.Join(lsLines(vol), " ")))
	fixed, err := runIn(`echo "entry 1" >> /data/journal.txt`)
	if err != nil {
		return err
	}
	again, err := runIn(`cat /data/journal.txt`)
	if err != nil {
		return err
	}
	columns(sink, "The fix: write where the volume is", "run 3: echo >> /data/journal.txt", append(fixed, "(stopped)"), "run 4 reads /data/journal.txt", append(again, "host: "+strings.TrimSpace(strings.Join(lsLines(vol), " "))))
	event.Narrate(sink, "df named the culprit: /var/log/app is on overlay, the sandbox's writable layer, which is removed with the sandbox; /data is the host's filesystem. Data must be written under a volume's mount point (or the volume mounted where the app writes) to outlive the container.")
	return nil
}

// memoryState is what a sandbox's memory cgroup says.
type memoryState struct {
	Dir      string
	Limit    int64 // bytes; 0 for none
	OOMKills int64
	Peak     int64 // bytes; -1 when the kernel does not keep it

	// The files they came from: v2 names, or v1's.
	limitFile, eventsFile, peakFile string
}

// errNoMemoryCgroup is readMemory's answer for a sandbox with cgroups but
// none of the memory controller: on a hybrid host, one without a limit.
var errNoMemoryCgroup = errors.New(cgroup.UnjoinedWhy("memory"))

// readMemory reads the memory controller's limit, OOM-kill counter and
// peak use from a sandbox's cgroup dirs, v2 or v1 files as the host has.
func readMemory(cgroups []string) (memoryState, error) {
	if len(cgroups) == 0 {
		return memoryState{}, errors.New("the sandbox has no cgroup: it was started without limits")
	}
	m := memoryState{Dir: controllerDir(cgroups, "memory"), Peak: -1}
	m.limitFile, m.eventsFile, m.peakFile = "memory.max", "memory.events", "memory.peak"
	if _, err := os.Stat(filepath.Join(m.Dir, "memory.max")); err != nil {
		m.limitFile, m.eventsFile, m.peakFile = "memory.limit_in_bytes", "memory.oom_control", "memory.max_usage_in_bytes"
		if _, err := os.Stat(filepath.Join(m.Dir, m.limitFile)); err != nil {
			return m, errNoMemoryCgroup
		}
	}
	raw := readTrim(filepath.Join(m.Dir, m.limitFile))
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil && n < 1<<50 {
		m.Limit = n // v1 writes "no limit" as a huge page-aligned number
	} else if raw != "max" && err != nil {
		return m, fmt.Errorf("read %s in %s: %s", m.limitFile, m.Dir, raw)
	}
	found := false
	for _, l := range lines(readTrim(filepath.Join(m.Dir, m.eventsFile))) {
		if v, ok := strings.CutPrefix(l, "oom_kill "); ok {
			m.OOMKills, _ = strconv.ParseInt(v, 10, 64)
			found = true
		}
	}
	if !found {
		return m, fmt.Errorf("%s has no oom_kill counter (it needs Linux 4.13 or later)", filepath.Join(m.Dir, m.eventsFile))
	}
	if n, err := strconv.ParseInt(readTrim(filepath.Join(m.Dir, m.peakFile)), 10, 64); err == nil {
		m.Peak = n
	}
	return m, nil
}

func (m memoryState) lines() []string {
	limit := "max (none)"
	if m.Limit > 0 {
		limit = mib(m.Limit)
	}
	out := []string{filepath.Base(m.Dir) + ":", fmt.Sprintf("  %s = %s", m.limitFile, limit), fmt.Sprintf("  %s: oom_kill %d", m.eventsFile, m.OOMKills)}
	if m.Peak >= 0 {
		out = append(out, fmt.Sprintf("  %s = %s", m.peakFile, mib(m.Peak)))
	}
	return out
}

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%dM", n>>20)
	}
	return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
}

// listenerOwners describes the listening sockets of pid's network
// namespace with the processes that hold them, as netstat -ltnp would.
func listenerOwners(pid int) ([]string, error) {
	ls, err := listeners(pid)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, l := range ls {
		inodes[l.Inode] = true
	}
	owners, err := socketOwners(inodes)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range ls {
		who := "?"
		if p, ok := owners[l.Inode]; ok {
			who = fmt.Sprintf("%s (PID %d)", readTrim(fmt.Sprintf("/proc/%d/comm", p)), p)
		}
		out = append(out, fmt.Sprintf("%s LISTEN %s", l.Addr, who))
	}
	return out, nil
}

// lab runs kcna-lab with args as one step, as a learner would type it.
func lab(ctx context.Context, sink event.Sink, args ...string) error {
	bin, err := sandbox.LabProgram()
	if err != nil {
		return err
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = a
		if strings.ContainsAny(a, " '\"$|&;<>*?()") {
			quoted[i] = shellQuote(a)
		}
	}
	shell := "kcna-lab " + strings.Join(quoted, " ")
	return event.Step(sink, "exec "+shell, shell, func() error {
		out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", shell, err, strings.TrimSpace(string(out)))
		}
		return nil
	})
}

// restart stops the named sandboxes that run, then starts each run
// command: a setup builds its scenario afresh, whatever the learner did.
func restart(ctx context.Context, sink event.Sink, names []string, runs ...[]string) error {
	for _, n := range names {
		if _, err := sandbox.Find(n); err == nil {
			if err := lab(ctx, sink, "stop", n); err != nil {
				return err
			}
		}
	}
	for _, args := range runs {
		if err := lab(ctx, sink, append([]string{"run", "--detach"}, args...)...); err != nil {
			return err
		}
	}
	return nil
}

func setupOOM(ctx context.Context, sink event.Sink) (string, error) {
	if err := restart(ctx, sink, []string{"hungry"}, []string{"--name", "hungry", "--memory", "32M", "--", "sh", "-c", hungryScript}); err != nil {
		return "", err
	}
	return "Sandbox hungry runs a worker that needs about 48 MiB and restarts it every 2 s, like a kubelet restarting a crashing container. The worker keeps dying. Find out why: `kcna-lab logs hungry` (the exit status), `kcna-lab ps`, and its cgroup's files under /sys/fs/cgroup (memory.max and memory.events, or memory.limit_in_bytes and memory.oom_control on cgroup v1). Then start hungry again so that the worker keeps running — same worker, same name.", nil
}

func checkFixOOM(context.Context) (Verdict, error) {
	st, v := running("hungry", "kcna-lab challenge fix-oom --setup")
	if v != nil {
		return *v, nil
	}
	if len(st.Cgroups) == 0 {
		return fail("hungry runs without any limit: a workload without a memory limit can take the whole machine's memory; keep a limit, one large enough for its 48 MiB (--memory)")
	}
	m, err := readMemory(st.Cgroups)
	if errors.Is(err, errNoMemoryCgroup) {
		return fail("hungry has %s, so there is no memory limit now; keep one, large enough for the worker's 48 MiB (--memory)", cgroup.UnjoinedWhy("memory"))
	}
	if err != nil {
		return Verdict{}, err
	}
	name := filepath.Base(m.Dir)
	switch {
	case m.Limit == 0:
		return fail("%s of %s is max: there is no memory limit now; keep one, large enough for the worker's 48 MiB (--memory)", m.limitFile, name)
	case m.OOMKills > 0:
		return fail("%s of %s shows oom_kill %d: the limit (%s) is still below what the workload needs", m.eventsFile, name, m.OOMKills, mib(m.Limit))
	case m.Limit <= workerBytes:
		return fail("the limit of %s is %s, which cannot hold the worker's 48 MiB", name, mib(m.Limit))
	}
	if up := time.Since(st.Created); up < hungryUptime {
		return fail("hungry has run for %s only; let its worker load its 48 MiB a few times and check again in %s", up.Round(time.Second), (hungryUptime-up).Round(time.Second)+time.Second)
	}
	if m.Peak >= 0 && m.Peak < 40<<20 {
		return fail("%s of %s is %s: the 48 MiB worker has not run in it; start hungry with the worker from the setup (kcna-lab ps shows the command)", m.peakFile, name, mib(m.Peak))
	}
	peak := ""
	if m.Peak >= 0 {
		peak = fmt.Sprintf(", peak use %s", mib(m.Peak))
	}
	return pass("hungry has run for %s under %s = %s with oom_kill 0%s: the limit now covers the worker", time.Since(st.Created).Round(time.Second), m.limitFile, mib(m.Limit), peak)
}

func setupPortClash(ctx context.Context, sink event.Sink) (string, error) {
	if err := restart(ctx, sink, []string{"clash"}, []string{"--name", "clash", "--", "sh", "-c", clashScript}); err != nil {
		return "", err
	}
	return "Sandbox clash runs two services, like two containers of one pod: a web server (httpd) and a metrics service (nc). Clients of the metrics service get nothing. Find out why: `kcna-lab logs clash`, `kcna-lab exec clash -- netstat -ltn`, `kcna-lab exec clash -- ps`. Then start clash again so that both services listen (`kcna-lab ps` shows its command).", nil
}

func checkFixPortClash(context.Context) (Verdict, error) {
	st, v := running("clash", "kcna-lab challenge fix-port-clash --setup")
	if v != nil {
		return *v, nil
	}
	ls, err := listeners(st.InitPID)
	if err != nil {
		return Verdict{}, err
	}
	inodes := map[string]bool{}
	var ports []int
	for _, l := range ls {
		if l.Addr.Addr().String() == "127.0.0.11" {
			continue // kcna-lab's DNS server, not the learner's
		}
		inodes[l.Inode] = true
		if p := int(l.Addr.Port()); !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}
	owners, err := socketOwners(inodes)
	if err != nil {
		return Verdict{}, err
	}
	who := func(port int) string {
		for _, l := range ls {
			if int(l.Addr.Port()) == port {
				if p, ok := owners[l.Inode]; ok {
					return fmt.Sprintf("%s (PID %d) on %d", readTrim(fmt.Sprintf("/proc/%d/comm", p)), p, port)
				}
			}
		}
		return fmt.Sprintf("something on %d", port)
	}
	slices.Sort(ports)
	switch {
	case !slices.Contains(ports, webPort):
		return fail("nothing in clash's network namespace listens on %d any more: keep the web server on 8080 and move the other service", webPort)
	case len(ports) < 2:
		return fail("in clash's network namespace only %s listens: the second service still cannot bind; `kcna-lab logs clash` says why", who(webPort))
	}
	var others []string
	for _, p := range ports {
		if p != webPort {
			others = append(others, who(p))
		}
	}
	return pass("in clash's network namespace %s listens and %s: two services of one namespace, two ports", who(webPort), strings.Join(others, ", "))
}

func setupDNS(ctx context.Context, sink event.Sink) (string, error) {
	if err := restart(ctx, sink, []string{"client", "api"},
		[]string{"--name", "api", "--net", "bridge", "--", "sh", "-c", apiScript},
		[]string{"--name", "client", "--", "sh", "-c", clientScript}); err != nil {
		return "", err
	}
	return "Sandbox api serves on port 8080 on kcna-lab's bridge; sandbox client asks for http://api:8080/ every 5 s and fails. Find out why: `kcna-lab logs client`, `kcna-lab ps`, and inside client: cat /etc/resolv.conf, nslookup api, ip addr. Then start client again so that `nslookup api` inside it answers api's address (same name, same command).", nil
}

func checkFixDNS(ctx context.Context) (Verdict, error) {
	api, v := running("api", "kcna-lab challenge fix-dns --setup")
	if v != nil {
		return *v, nil
	}
	if api.Net == nil {
		return fail("sandbox api is not on a bridge, so no DNS server knows its name: it must run with --net bridge")
	}
	cl, v := running("client", "kcna-lab challenge fix-dns --setup")
	if v != nil {
		return *v, nil
	}
	ok, detail, err := resolvesTo(ctx, "client", "api", "api")
	if err != nil {
		return Verdict{}, err
	}
	if !ok && cl.Net == nil {
		detail += "; client has no network but loopback (kcna-lab ps shows no address for it), so no DNS server is in reach"
	}
	return Verdict{Passed: ok, Detail: detail}, nil
}

func setupLostData(ctx context.Context, sink event.Sink) (string, error) {
	dirs, err := dataDirs()
	if err != nil {
		return "", err
	}
	dir, err := makeDataDir(dirs[0], sink)
	if err != nil {
		return "", err
	}
	if err := restart(ctx, sink, []string{"journal"}, []string{"--name", "journal", "--overlay", "--", "sh", "-c", journalScript}); err != nil {
		return "", err
	}
	return fmt.Sprintf("Sandbox journal appends an entry to /data/journal.txt every 2 s. Stop it and start it again (kcna-lab ps shows its command): its journal starts empty every time. Find out why: `kcna-lab exec journal -- df -P /data`, `kcna-lab layers journal`. Then fix it so that the entries are kept on the host in %s and survive `kcna-lab stop journal` — stop it at the end.", dir), nil
}

// makeDataDir makes ~/kcna-data if it is missing, for the sandbox's root
// to write: owned by it as the host sees it.
func makeDataDir(dir string, sink event.Sink) (string, error) {
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	uid := volumeWriter(filepath.Dir(dir))
	err := event.Step(sink, fmt.Sprintf("mkdir(%q, 0755); chown(%d)", dir, uid), fmt.Sprintf("mkdir %s && chown %d:%d %s", dir, uid, uid, dir), func() error {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		return os.Chown(dir, uid, uid)
	})
	if err != nil {
		return "", fmt.Errorf("make %s for the journal's volume: %w", dir, err)
	}
	return dir, nil
}

func checkFixLostData(context.Context) (Verdict, error) {
	dirs, err := dataDirs()
	if err != nil {
		return Verdict{}, err
	}
	var files []string
	for _, d := range dirs {
		files = append(files, filepath.Join(d, "journal.txt"))
	}
	p, uid, ok, err := sandboxWritten(files)
	if err != nil {
		return Verdict{}, err
	}
	if st, err := sandbox.Find("journal"); err == nil {
		ms, err := volumeMounts(st.InitPID)
		if err != nil {
			return Verdict{}, err
		}
		for _, m := range ms {
			if m.Point == "/data" {
				return fail("journal writes /data to a volume now (%s on device %s); stop it (kcna-lab stop journal) so the check can see the entries outlive it", m.Root, m.Device)
			}
		}
		return fail("journal runs, and its /data is still in its writable layer (no mount at /data in /proc/%d/mountinfo): these entries go when it stops", st.InitPID)
	}
	switch {
	case p == "":
		return fail("there is no %s: journal's entries did not reach the host; mount %s at /data in journal", files[0], dirs[0])
	case !ok:
		return fail("%s belongs to host uid %d, not to the sandbox's root (host uid %d): it was not written by sandbox journal", p, uid, volumeWriter(filepath.Dir(p)))
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Verdict{}, err
	}
	n := 0
	for _, l := range lines(string(b)) {
		if strings.HasPrefix(l, "journal: entry at ") {
			n++
		}
	}
	if n == 0 {
		return fail("%s holds no \"journal: entry at\" line: it was not written by the journal's command", p)
	}
	return pass("%s holds %d entries from journal, owned by the sandbox's root (host uid %d), and journal is stopped: the data outlived it because /data was a volume", p, n, uid)
}
