package main

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/image"
)

func newBuildCmd(a *app) *cobra.Command {
	var tag, file string
	var noCache, quiet, trace bool
	cmd := &cobra.Command{
		Use:   "build -t NAME:TAG DIR",
		Short: "Build an OCI image from DIR/Dockerfile, every layer a real tar you can see",
		Long: `Build an image the way docker build -t NAME:TAG DIR does, from a subset of
the Dockerfile language:

  FROM scratch | busybox   an empty image, or the course's own busybox root
                           filesystem as the first layer (nothing is pulled)
  COPY SRC... DEST         files from DIR, as a new layer
  RUN CMD | ["CMD", ...]   run CMD in a sandbox over the layers so far; what it
                           writes in its writable overlay layer is the new layer,
                           deletions recorded as .wh. whiteout files
  ENV, WORKDIR, CMD, ENTRYPOINT, LABEL   change the image's config only

Each layer is a tar, gzipped, stored under the sha256 of its bytes; a config
(JSON) lists the layers' uncompressed digests and how to start a container;
a manifest names the config and the layers by digest, and index.json names
the manifest by tag. The result is a standard OCI image layout in
kcna-lab's cache dir, images/oci (/var/cache/kcna-lab/images/oci as root,
~/.cache/kcna-lab/images/oci otherwise): look at it with ls and cat, or
push it to a registry with kcna-lab push.

A step whose inputs are unchanged (the image before it, its instruction,
and for COPY the content of its sources) is not run again: its layer comes
from the build cache (images/cache), and the build says CACHED.`,
		Example: `  mkdir hello && cd hello
  echo 'hello from a layer' > hello.txt
  printf 'FROM busybox\nCOPY hello.txt /srv/\n' > Dockerfile
  printf 'RUN rm /etc/hosts\nCMD ["cat", "/srv/hello.txt"]\n' >> Dockerfile

  # the docker equivalent: docker build -t hello:1 .
  sudo kcna-lab build -t hello:1 .
  sudo kcna-lab run --image hello:1
  cat /var/cache/kcna-lab/images/oci/index.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if tag == "" {
				return errors.New("name the image with -t NAME[:TAG], e.g. kcna-lab build -t hello:1 " + args[0])
			}
			ref, err := image.ParseRef(tag)
			if err != nil {
				return err
			}
			if ref.Registry != "" {
				return fmt.Errorf("-t %s: build names a local image; push it to %s afterwards with kcna-lab push %s:%s %s", tag, ref.Registry, ref.Repo, ref.Tag, ref)
			}
			store, err := cli.OpenImages()
			if err != nil {
				return err
			}
			var sink event.Sink = cli.NewDemoSink(a.stdout)
			if quiet {
				sink = event.Discard
			}
			res, err := image.Build(cmd.Context(), store, image.BuildOptions{Context: args[0], Dockerfile: file, Tag: ref, NoCache: noCache, Trace: trace}, sink)
			if err != nil {
				return err
			}
			printBuild(a, store, res)
			return nil
		},
	}
	cmd.Flags().StringVarP(&tag, "tag", "t", "", "the image's `NAME[:TAG]` (the tag defaults to latest)")
	fileFlag(cmd.Flags(), &file, "the Dockerfile's `PATH` (default DIR/Dockerfile)")
	cmd.Flags().BoolVar(&noCache, "no-cache", false, "run every step again instead of reusing cached layers")
	cmd.Flags().BoolVar(&trace, "trace", false, "show every kernel-level step of the sandboxes that RUN steps run in")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the summary, not each step")
	return cmd
}

// printBuild sums the build up: each layer's digest and whether it was
// cached, then the manifest's digest.
func printBuild(a *app, store *image.Store, res *image.BuildResult) {
	fmt.Fprintf(a.stdout, "\nBuilt %s\n", res.Tag)
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  LAYER\tSIZE\tSTEP\t")
	for _, s := range res.Steps {
		how := ""
		if s.Cached {
			how = "(cached)"
		}
		step := s.Instruction
		if r := []rune(step); len(r) > 48 {
			step = string(r[:47]) + "…"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\n", s.Layer.Digest, s.Layer.Size, step, how)
	}
	_ = tw.Flush()
	fmt.Fprintf(a.stdout, "  config    %s\n  manifest  %s\n  layout    %s\n", res.Config.Digest, res.Manifest.Digest, store.Layout())
}
