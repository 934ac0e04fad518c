package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/oci"
)

func newOCICmd(a *app) *cobra.Command {
	var f cli.SandboxFlags
	var bundle string
	var tty bool
	cmd := &cobra.Command{
		Use:   "oci [flags] [--bundle DIR] [-- CMD [ARG...]]",
		Short: "Print the OCI config.json for a sandbox, or write a bundle runc can run",
		Long: `Describe a sandbox the way the Open Container Initiative's runtime
specification does, and print it as config.json. The flags are run's: the
same flags, the same sandbox. CMD defaults to /bin/sh.

An OCI bundle is a directory that a low-level runtime such as runc, crun or
youki can run:

  DIR/config.json   what to run (process.args, env, cwd) and how to isolate
                    it: hostname, mounts, linux.namespaces, uid/gid maps,
                    linux.resources (cgroup limits), capabilities, masked
                    /proc paths, linux.seccomp (the system call filter,
                    Docker's default profile resolved rule by rule)
  root.path         the root filesystem the process sees as /

Each field is a step kcna-lab takes itself: linux.namespaces are clone and
unshare flags, root.path is what it pivot_roots into, linux.resources are
the cgroup files it writes (` + "`kcna-lab demo oci-runtime`" + ` shows every field
beside its step). Docker, containerd, CRI-O and podman all end by writing
such a bundle and calling the runtime on it.

With --bundle DIR, kcna-lab writes DIR/config.json (atomically) instead of
printing it. The root filesystem is not copied: root.path names kcna-lab's
cached root filesystem by its absolute path, which the spec allows and
runc bind-mounts read-only. A --rootfs archive (.tar, .tar.gz) is unpacked
into DIR/rootfs and root.path is then "rootfs", relative to the bundle, as
` + "`runc spec`" + ` writes it.

process.terminal is true for a bare shell (CMD left out, or /bin/sh alone):
runc then gives it a pseudo-terminal, so that it prompts and reads lines as
an interactive shell. Otherwise, and with --tty=false, runc connects the
process through pipes; that is also what the lifecycle commands (runc
create, start) need without a --console-socket.

A few sandbox features have no config.json field, and are refused: --root
chroot (a runtime always uses pivot_root), and --overlay or --layer (a
high-level runtime mounts image layers before it calls the low-level one).
runc before 1.2 knows no time namespace and refuses a config that asks for
one: when runc is installed, --bundle leaves out what it does not know, and
says so.`,
		Example: `  # the config.json for a sandbox with a 64 MiB limit
  kcna-lab oci --hostname oci-box --memory 64M

  # write a bundle, then hand it to runc
  sudo kcna-lab oci --bundle ~/kcna-bundle --hostname oci-box --memory 64M -- /bin/sh
  sudo runc run --bundle ~/kcna-bundle kcna-oci

  # which namespaces, and which capabilities without NET_RAW?
  kcna-lab oci --isolate pid,uts,mnt,ipc,net --cap-drop NET_RAW`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"/bin/sh"}
			}
			spec, err := f.Spec(args)
			if err != nil {
				return err
			}
			spec.Tty = tty
			if !cmd.Flags().Changed("tty") {
				spec.Tty = bareShell(args)
			}
			sink := event.Discard
			if f.Trace {
				sink = cli.NewTraceSink(a.stderr)
			}
			dst := ""
			if bundle != "" {
				dst = filepath.Join(bundle, "rootfs")
			}
			root, err := oci.PrepareRootfs(spec, dst, sink)
			if err != nil {
				return err
			}
			cfg, err := oci.Config(spec, root)
			if err != nil {
				return err
			}
			if bundle == "" {
				return a.printJSON(cfg)
			}
			// The bundle is for the runc on this host: leave out what it
			// does not know (the time namespace, before runc 1.2).
			if runc, err := oci.Runc(); err == nil {
				feat, _ := oci.RuncFeatures(cmd.Context(), runc)
				if dropped := oci.Adapt(cfg, feat); len(dropped) > 0 {
					fmt.Fprintf(a.stderr, "kcna-lab: left %s out of the bundle: %s does not know it (time namespaces need runc 1.2 or later; seccomp, a runc built with libseccomp)\n", strings.Join(dropped, ", "), runc)
				}
			}
			if err := oci.WriteBundle(bundle, cfg, root); err != nil {
				return err
			}
			abs, _ := filepath.Abs(bundle)
			written, err := oci.ReadBundle(abs)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "wrote the OCI bundle %s\n  config.json  runs %q as hostname %q\n  root.path    %s\nrun it with runc:\n  sudo runc run --bundle %s kcna-oci\n",
				abs, written.Process.Args, written.Hostname, written.Root.Path, abs)
			return nil
		},
	}
	f.Register(cmd, false)
	cmd.Flags().BoolVar(&tty, "tty", false, "set process.terminal: the runtime gives the process a pseudo-terminal, which an interactive shell needs under `runc run` (default: true when CMD is a bare shell such as /bin/sh; `runc create` then needs --console-socket)")
	cmd.Flags().StringVar(&bundle, "bundle", "", "write an OCI bundle into `DIR` (config.json, and an archive --rootfs unpacked into DIR/rootfs) instead of printing config.json")
	return cmd
}

// bareShell reports whether args start a shell with no script: one that
// is interactive only on a terminal.
func bareShell(args []string) bool {
	if len(args) != 1 {
		return false
	}
	switch filepath.Base(args[0]) {
	case "sh", "ash", "bash", "dash", "zsh":
		return true
	}
	return false
}
