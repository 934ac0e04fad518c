package main

// Shell completion (kcna-lab completion bash|zsh|fish): lesson ids for
// show and quiz, running sandboxes' names for stop, exec, logs and layers,
// and the values of run's and shell's --net, --root and --isolate.

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

// addCompletions gives root's commands their completions.
func addCompletions(root *cobra.Command, a *app) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "show", "quiz":
			c.ValidArgsFunction = firstArg(a.completeLessons)
		case "stop", "logs", "layers", "exec":
			c.ValidArgsFunction = firstArg(completeSandboxes)
		case "run", "shell":
			registerSandboxFlagCompletions(c)
		}
	}
}

// firstArg completes the first argument with fn, and nothing after it.
func firstArg(fn func(toComplete string) []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return fn(toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeLessons are the lesson ids, each with its title.
func (a *app) completeLessons(string) []string {
	c, err := a.course()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(c.Lessons))
	for _, l := range c.Lessons {
		out = append(out, cobra.CompletionWithDesc(l.ID, l.Title))
	}
	return out
}

// completeSandboxes are the running sandboxes' names, each with its command.
func completeSandboxes(string) []string {
	list, err := sandbox.List()
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, cobra.CompletionWithDesc(s.Name, strings.Join(s.Args, " ")))
	}
	return out
}

// isolateWords are --isolate's words, as sandbox.ParseIsolate reads them.
var isolateWords = []string{"pid", "uts", "mnt", "ipc", "net", "user", "cgroup", "time", "all", "none"}

func registerSandboxFlagCompletions(c *cobra.Command) {
	fixed := func(values ...string) cobra.CompletionFunc {
		return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return values, cobra.ShellCompDirectiveNoFileComp
		}
	}
	_ = c.RegisterFlagCompletionFunc("net", fixed(
		cobra.CompletionWithDesc("none", "loopback only, in its own namespace"),
		cobra.CompletionWithDesc("bridge", "an address on kcna-lab's bridge")))
	_ = c.RegisterFlagCompletionFunc("root", fixed(
		cobra.CompletionWithDesc("pivot", "pivot_root: the host's tree is detached"),
		cobra.CompletionWithDesc("chroot", "escapable; for the chroot lesson")))
	_ = c.RegisterFlagCompletionFunc("isolate", func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completeList(toComplete, isolateWords), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	})
}

// completeList completes the last word of a comma-separated list, leaving
// out the words already in it: "pid,u" gives "pid,uts" and "pid,user".
func completeList(toComplete string, words []string) []string {
	done, last := "", toComplete
	if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
		done, last = toComplete[:i+1], toComplete[i+1:]
	}
	have := strings.Split(done, ",")
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, last) && !contains(have, w) {
			out = append(out, done+w)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
