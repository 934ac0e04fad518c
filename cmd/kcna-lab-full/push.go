package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/plugin/image"
	"github.com/kcna-lab/kcna-lab/plugin/image/distribution"
)

func newPushCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "push NAME:TAG [REGISTRY/NAME:TAG]",
		Short: "Push a built image to a registry over the OCI distribution API",
		Long: `Upload the image NAME:TAG from kcna-lab's image store to a registry, as
docker push does: each layer and the config are uploaded as blobs unless
the registry has them already (a layer shared by many images is sent once),
then the manifest is PUT under the tag. Without a destination it goes to
` + distribution.DefaultRegistry + `/NAME:TAG, where kcna-lab registry listens.

The registry stores the manifest's bytes unchanged, so its digest there is
the one kcna-lab build printed.`,
		Example: `  kcna-lab registry &
  sudo kcna-lab push hello:1
  sudo kcna-lab push hello:1 127.0.0.1:5000/lab/hello:v1
  curl -s 127.0.0.1:5000/v2/hello/manifests/1 | sha256sum`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := image.ParseRef(args[0])
			if err != nil {
				return err
			}
			dst := image.Ref{Registry: distribution.DefaultRegistry, Repo: src.Repo, Tag: src.Tag}
			if len(args) == 2 {
				if dst, err = image.ParseRef(args[1]); err != nil {
					return err
				}
			}
			store, err := cli.OpenImages()
			if err != nil {
				return err
			}
			desc, err := distribution.Push(cmd.Context(), store, src, dst, cli.NewDemoSink(a.stdout))
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\npushed %s as %s\n  manifest %s\n  curl http://%s/v2/%s/manifests/%s\n", src, dst, desc.Digest, dst.Registry, dst.Repo, dst.Tag)
			return nil
		},
	}
}

func newPullCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "pull REGISTRY/NAME:TAG",
		Short: "Pull an image from a registry into kcna-lab's image store",
		Long: `Download an image over the OCI distribution API, as docker pull does: the
manifest for the tag, then the config and each layer by digest, every blob
checked against its sha256 before it is kept. The image is then in the
store under its full name, ready for kcna-lab run --image.`,
		Example: `  sudo kcna-lab pull 127.0.0.1:5000/hello:1
  sudo kcna-lab run --image 127.0.0.1:5000/hello:1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := image.ParseRef(args[0])
			if err != nil {
				return err
			}
			store, err := cli.OpenImages()
			if err != nil {
				return err
			}
			desc, err := distribution.Pull(cmd.Context(), store, ref, cli.NewDemoSink(a.stdout))
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "\npulled %s\n  manifest %s\n", ref, desc.Digest)
			return nil
		},
	}
}
