package demos

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/seccomp"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// securityDemo shows the layers of a sandbox's defence from both sides:
// capabilities, the user namespace's map, the read-only root, masked
// /proc files, no_new_privs, and the seccomp filter beside a sandbox
// without one.
func securityDemo() Demo {
	return Demo{
		ID:    "capabilities",
		Title: "What root inside a sandbox may do: capabilities, uid map, read-only root, masked /proc, seccomp",
		Run:   runSecurity,
		Blocked: func(r sandbox.Report) string {
			return needsNamespaces(r, sandbox.NSPid, sandbox.NSMount)
		},
		ShellFlags: []string{"--name", "lab-security", "--keep"},
	}
}

func runSecurity(ctx context.Context, sink event.Sink) error {
	name := demoName("sec")
	event.Narrate(sink, "Start a sandbox with the defaults every lesson uses and compare it with this kcna-lab process on the host.")
	_, stop, err := held(ctx, sandbox.Spec{Name: name}, event.Discard)
	if err != nil {
		return err
	}
	defer stop()
	self := strconv.Itoa(os.Getpid())
	hostCaps, err := statusField(self, "CapEff")
	if err != nil {
		return err
	}
	box, err := inside(ctx, name, "sh", "-c", "grep -E '^(CapEff|NoNewPrivs|Uid):' /proc/self/status; cat /proc/self/uid_map")
	if err != nil {
		return err
	}
	boxCaps := ""
	for _, l := range box {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			boxCaps = strings.TrimSpace(v)
		}
	}
	event.SideBySide(sink, "CapEff in /proc/self/status, decoded (capabilities(7))",
		append([]string{"CapEff: " + hostCaps}, decodeCaps(hostCaps)...),
		append([]string{"CapEff: " + boxCaps}, decodeCaps(boxCaps)...))
	event.Narrate(sink, "Root's power is split into capabilities. The sandbox keeps the short default set a container runtime keeps (Docker's list): enough to own its files and processes, none of CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_MODULE, CAP_SYS_PTRACE or CAP_SYS_TIME, which reach the host.")

	hostNNP, _ := statusField(self, "NoNewPrivs")
	event.SideBySide(sink, "Who is root, and may a program gain privileges?",
		[]string{"uid_map: " + readTrim("/proc/self/uid_map"), "NoNewPrivs: " + hostNNP},
		box[len(box)-1:])
	event.Narrate(sink, "Inside, uid 0 is root, but the user namespace's map (inside, outside, count) puts it at an unprivileged uid on the host when kcna-lab runs as root: a process that got out would be a stranger there, not root. With no_new_privs set, no setuid program or file capability can raise a process's privileges again.")

	probe, _, err := sandbox.ExecOutput(ctx, name, "sh", "-c", `touch /bin/evil 2>&1 || true; for f in /proc/kcore /proc/keys /proc/timer_list; do [ -e $f ] && echo "$f: $(wc -c < $f) bytes" || echo "$f: absent"; done; echo x 2>&1 > /proc/sys/kernel/hostname || true`)
	if err != nil {
		return err
	}
	event.SideBySide(sink, "Writing to the image and reading the kernel's secrets, tried inside",
		[]string{"the host's /bin is writable by host root", "/proc/keys, /proc/timer_list: readable", "/proc/sys: writable by host root"},
		lines(probe))
	event.Narrate(sink, "The root filesystem is mounted read-only, so a compromised process cannot change the image's programs. /proc files that leak host information are masked (bind-mounted over with /dev/null, or absent, like /proc/kcore on kernels built without it) and /proc/sys is read-only: runc's default lists. One kernel serves every container, so these layers are what stands between a process and the rest of the host.")
	return seccompPart(ctx, sink, name)
}

// personalityProbe asks for personality(ADDR_NO_RANDOMIZE) with busybox's
// linux64 -R, a call that needs no capability and that Docker's seccomp
// profile refuses. Its error is broken at the colons to fit a column.
const personalityProbe = "grep -E '^Seccomp(_filters)?:' /proc/self/status; linux64 -R cat /proc/self/personality 2>&1 | sed 's/: /:\\n  /g'"

// seccompPart makes the same call in a sandbox without a seccomp filter
// and in the held one (name), which has Docker's default profile.
func seccompPart(ctx context.Context, sink event.Sink, name string) error {
	if err := sandbox.SeccompUnavailable(); err != nil {
		event.Narrate(sink, "The seccomp part cannot run here: "+err.Error()+".")
		return nil
	}
	event.Narrate(sink, "Last, the system calls themselves. Every sandbox loads Docker's default seccomp profile unless told otherwise; start one more with --seccomp unconfined and make the same call in both: personality(ADDR_NO_RANDOMIZE), which busybox's linux64 -R makes to switch off address-space randomisation for the program it starts.")
	free, _, err := capture(ctx, sandbox.Spec{Name: demoName("sec-free"), Seccomp: seccomp.Unconfined, Args: []string{"sh", "-c", personalityProbe}}, event.Discard)
	if err != nil {
		return err
	}
	filtered, _, err := sandbox.ExecOutput(ctx, name, "sh", "-c", personalityProbe)
	if err != nil {
		return err
	}
	sink.Emit(event.Event{Time: time.Now(), Kind: event.KindCompare, Compare: &event.Compare{
		Title: "personality(ADDR_NO_RANDOMIZE) by linux64 -R, then /proc/self/personality",
		Left:  event.Column{Title: "--seccomp unconfined", Lines: lines(free)},
		Right: event.Column{Title: "Docker's default profile", Lines: lines(filtered)},
	}})
	event.Narrate(sink, "Both sandboxes hold the same capabilities, and personality needs none: the seccomp filter makes the difference. Seccomp: 2 in /proc/PID/status means a BPF filter is attached (Seccomp_filters counts them); the init loaded it last and every process in the sandbox inherits it. Docker's profile is an allow list: a call it does not name fails with EPERM, and personality passes only with 0, 8 (PER_LINUX32), 0x20000, 0x20008 or 0xffffffff (which only asks), so 0x40000 (ADDR_NO_RANDOMIZE) is refused. Without the filter the kernel sets it, and /proc/self/personality reads 00040000. `kcna-lab run --trace` shows the filter's load and what it allows.")
	return nil
}

// decodeCaps turns a hexadecimal capability mask into names, several to a
// line.
func decodeCaps(hex string) []string {
	mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
	if err != nil {
		return []string{"(" + err.Error() + ")"}
	}
	names := sandbox.CapabilityNames(mask)
	if len(names) > 20 {
		return []string{fmt.Sprintf("all %d capabilities", len(names))}
	}
	var out []string
	for i := 0; i < len(names); i += 2 {
		out = append(out, strings.Join(names[i:min(i+2, len(names))], " "))
	}
	return out
}
