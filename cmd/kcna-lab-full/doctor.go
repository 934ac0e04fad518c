package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/lessons"
	"github.com/kcna-lab/kcna-lab/lessons/demos"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// lessonReadiness is whether one lesson's demos can run live here.
type lessonReadiness struct {
	Lesson string `json:"lesson"`
	Title  string `json:"title"`
	Demo   string `json:"demo,omitempty"`
	// Live is true when the demo can run here; Why says why not.
	Live bool   `json:"live"`
	Why  string `json:"why,omitempty"`
}

type doctorReport struct {
	sandbox.Report
	// Workshop is the student's name when this runs in a lab on a
	// workshop server (kcna-lab serve sets KCNA_LAB_WORKSHOP).
	Workshop string            `json:"workshop,omitempty"`
	Lessons  []lessonReadiness `json:"lessons"`
}

// workshopLab fills in what a lab on a workshop server changes: the host
// doctor probes is the student's lab, and on a cgroup v1 server the lab
// has no cgroups (v1 cannot be delegated safely), which is not something
// the student can fix.
func (r *doctorReport) workshopLab() {
	r.Workshop = os.Getenv("KCNA_LAB_WORKSHOP")
	if r.Workshop != "" && r.Cgroup.Mode == "" {
		r.Cgroup.Problem = "this workshop server's cgroups are v1, which cannot be delegated into your lab safely, so the server holds your quota from outside and the lessons that set limits cannot run in your lab (on a server booted with cgroup v2 they can)"
	}
}

func newDoctorCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "What this host lets kcna-lab do, lesson by lesson, and why not",
		Long: `Inspect this host: the kernel, whether you are root, whether user
namespaces are allowed (and which setting decides), the cgroup layout (v1, v2
or hybrid) and which controllers can be used, overlayfs, the bridge network, a
static busybox for the default root filesystem, and for each lesson whether
its demo can run live here, or exactly why not.

What the kernel's files say it has, doctor then tries: it starts a throw-away
sandbox running /bin/true for each namespace, for all of them together, with
cgroup limits, with a writable layer and on the bridge, and removes each one.
A "yes" means that sandbox ran; a "no" quotes how it failed. This takes about
a second.`,
		Example: `  kcna-lab doctor
  sudo kcna-lab doctor --json`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			course, err := a.course()
			if err != nil {
				return err
			}
			rep := doctorReport{Report: sandbox.Doctor()}
			rep.workshopLab()
			rep.Lessons = readiness(course, demos.Builtin(), rep.Report)
			if asJSON {
				return a.printJSON(rep)
			}
			writeDoctor(a.stdout, rep)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func readiness(c *lessons.Course, reg *demos.Registry, r sandbox.Report) []lessonReadiness {
	var out []lessonReadiness
	for _, l := range c.Lessons {
		lr := lessonReadiness{Lesson: l.ID, Title: l.Title, Live: true}
		if len(l.Demos) == 0 {
			lr.Why = "no live demo in this lesson"
			out = append(out, lr)
			continue
		}
		for _, id := range l.Demos {
			lr.Demo = id
			d, ok := reg.Demo(id)
			if !ok {
				lr.Live, lr.Why = false, "the demo is not part of this build"
				break
			}
			if d.Blocked != nil {
				if why := d.Blocked(r); why != "" {
					lr.Live, lr.Why = false, why
					break
				}
			}
		}
		out = append(out, lr)
	}
	return out
}

// cannotRun maps each lesson that has challenges but whose demo cannot
// run here to why: a lesson's challenges are done in its demo's sandbox
// (the shell `s` opens), so where the demo cannot run, neither can they.
// Such a lesson can be completed without them ("done here",
// lessons.Progress.StatusHere); the challenge is never marked passed.
func cannotRun(c *lessons.Course, reg *demos.Registry, r sandbox.Report) map[string]string {
	why := map[string]string{}
	for i, lr := range readiness(c, reg, r) {
		if !lr.Live && len(c.Lessons[i].Challenges) > 0 {
			why[lr.Lesson] = lr.Why
		}
	}
	return why
}

func writeDoctor(w io.Writer, rep doctorReport) {
	yes := func(problem string) string {
		if problem == "" {
			return "yes"
		}
		return "no: " + problem
	}
	who := "not root (rootless: a user namespace maps you to root inside)"
	if rep.Root {
		who = "root"
	}
	fmt.Fprintf(w, "kernel            %s\n", rep.Kernel)
	if strings.Contains(strings.ToLower(rep.Kernel), "microsoft") {
		// WSL2's kernel is Microsoft's build, in a VM of its own: what
		// works there is what the tries below found, nothing assumed.
		fmt.Fprintf(w, "                  WSL2: sandboxes run on the WSL2 VM's Linux kernel, not on Windows; every yes below was tried on it\n")
	}
	fmt.Fprintf(w, "running as        %s\n", who)
	if rep.Workshop != "" {
		fmt.Fprintf(w, "workshop lab      you are %s on a kcna-lab workshop server: this lab is your host, with its own users, mounts, processes, network and cgroups; the server and other students are out of reach\n", rep.Workshop)
	}
	fmt.Fprintf(w, "user namespaces   %s\n", yes(rep.UserNS))
	fmt.Fprintf(w, "namespaces\n")
	for _, n := range sandbox.AllNamespaces {
		fmt.Fprintf(w, "  %-8s        %s\n", n, yes(rep.Namespaces[n]))
	}
	mode := rep.Cgroup.Mode
	if mode == "" {
		mode = "none found"
	}
	fmt.Fprintf(w, "  all together    %s\n", yes(rep.Sandbox))
	fmt.Fprintf(w, "cgroups           %s\n", mode)
	names := make([]string, 0, len(rep.Cgroup.Controllers))
	for n := range rep.Cgroup.Controllers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s        %s\n", n, rep.Cgroup.Controllers[n])
	}
	fmt.Fprintf(w, "  limits usable   %s\n", yes(rep.Cgroup.Problem))
	fmt.Fprintf(w, "overlayfs         %s\n", yes(rep.Overlay))
	fmt.Fprintf(w, "bridge network    %s\n", yes(rep.Bridge))
	fmt.Fprintf(w, "idmapped volumes  %s\n", yes(rep.Idmap))
	fmt.Fprintf(w, "seccomp filters   %s\n", yes(rep.Seccomp))
	if rep.Busybox != "" {
		fmt.Fprintf(w, "static busybox    %s\n", rep.Busybox)
	} else {
		fmt.Fprintf(w, "static busybox    not found: the default root filesystem will copy host programs and their libraries instead (Debian/Ubuntu: apt install busybox-static)\n")
	}
	switch {
	case rep.InitProblem != "":
		fmt.Fprintf(w, "sandbox init      %s\n", rep.InitProblem)
	case rep.Init == "/proc/self/exe":
		fmt.Fprintf(w, "sandbox init      kcna-lab itself (no kcna-lab-init beside it: sandboxes start more slowly; `make build` makes it)\n")
	case rep.InitKind == "native":
		fmt.Fprintf(w, "sandbox init      %s, with the native init (C that starts a sandbox before the Go runtime would)\n", rep.Init)
	default:
		fmt.Fprintf(w, "sandbox init      %s, Go only: with gcc and libc6-dev, `make build` adds the native init, which starts sandboxes in about half the time\n", rep.Init)
	}
	fmt.Fprintf(w, "\nlessons\n")
	for _, l := range rep.Lessons {
		switch {
		case l.Demo == "":
			fmt.Fprintf(w, "  %-24s %s\n", l.Lesson, l.Why)
		case l.Live:
			fmt.Fprintf(w, "  %-24s live demo %s: can run here\n", l.Lesson, l.Demo)
		default:
			fmt.Fprintf(w, "  %-24s live demo %s: cannot run here: %s\n", l.Lesson, l.Demo, l.Why)
		}
	}
	if !rep.Root {
		fmt.Fprintf(w, "\nSome demos need root; run them with sudo (progress is still saved in your home).\n")
	}
}
