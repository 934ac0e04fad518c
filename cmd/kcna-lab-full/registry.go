package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kcna-lab/kcna-lab/cmd/internal/cli"
	"github.com/kcna-lab/kcna-lab/plugin/image/distribution"
)

func newRegistryCmd(a *app) *cobra.Command {
	var listen string
	var remoteOK bool
	cmd := &cobra.Command{
		Use:   "registry [--listen HOST:PORT]",
		Short: "Run an OCI distribution registry on loopback, to push images to and pull from",
		Long: `Run a real container registry, the server side of docker push and docker
pull, until Ctrl-C: go-containerregistry's implementation of the OCI
distribution API, the one Docker Hub, ghcr.io and every other registry
speak. Each request is logged as it arrives.

  GET  /v2/NAME/manifests/TAG     the manifest a tag points at
  GET  /v2/NAME/blobs/sha256:...  a layer or config, by digest
  PUT  /v2/NAME/manifests/TAG     what a push ends with

It keeps everything in memory: stop it and its images are gone. It has no
authentication, so it listens only on a loopback address unless
--allow-remote says otherwise.`,
		Example: `  kcna-lab registry --listen 127.0.0.1:5000 &
  sudo kcna-lab push hello:1                     # to 127.0.0.1:5000/hello:1
  curl -s 127.0.0.1:5000/v2/hello/manifests/1    # the manifest, as JSON
  curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json' 127.0.0.1:5000/v2/hello/manifests/1 | grep -i digest`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli.LongLived() // up for the class, holding what is pushed
			return distribution.Serve(cmd.Context(), listen, remoteOK, a.stderr, func(addr string) {
				fmt.Fprintf(a.stdout, "registry listening on http://%s (Ctrl-C stops it and forgets its images)\n  try: curl http://%s/v2/\n", addr, addr)
			})
		},
	}
	cmd.Flags().StringVar(&listen, "listen", distribution.DefaultRegistry, "the `HOST:PORT` to listen on")
	cmd.Flags().BoolVar(&remoteOK, "allow-remote", false, "allow a listen address that is not loopback (the registry has no authentication)")
	return cmd
}
