// Package distribution moves OCI images between kcna-lab's image store
// and registries over the OCI distribution API (lesson 7): Push, Pull,
// and Serve, a registry on loopback. It is go-containerregistry's
// registry and client, kept out of package image so that `kcna-lab run
// --image`, which only reads the local store, does not link an HTTP
// client and TLS.
package distribution

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/image"
)

// DefaultRegistry is where `kcna-lab registry` listens and `push` sends
// an image with no registry named.
const DefaultRegistry = "127.0.0.1:5000"

// Serve runs an OCI distribution registry (go-containerregistry's) on
// listen until ctx ends, logging each request to logw. It refuses an
// address that is not loopback unless remote is true: the registry has
// no authentication, and anyone who reaches it may push.
func Serve(ctx context.Context, listen string, remoteOK bool, logw io.Writer, ready func(addr string)) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("--listen %q: want HOST:PORT, e.g. %s", listen, DefaultRegistry)
	}
	if !remoteOK && !isLoopback(host) {
		return fmt.Errorf("the listen address %s is not loopback: this registry has no authentication, so anyone who can reach it could push and pull; use 127.0.0.1, or add --allow-remote if you mean it", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", listen, err)
	}
	srv := &http.Server{
		Handler:           registry.New(registry.Logger(log.New(logw, "registry: ", log.LstdFlags))),
		ReadHeaderTimeout: 10 * time.Second,
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		// Requests under way get a second to finish; a client's
		// connection that never sent one would otherwise hold Shutdown
		// for five.
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
		<-done
		return nil
	case err := <-done:
		return err
	}
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// remoteRef turns ref into go-containerregistry's. Without name.Insecure
// it speaks HTTPS, except to localhost, loopback and private (RFC 1918)
// addresses, which it speaks plain HTTP to as Docker does: the course's
// own registry on 127.0.0.1 works, and a public registry is not asked
// over plain HTTP.
func remoteRef(ref image.Ref) (name.Reference, error) {
	if ref.Registry == "" {
		return nil, fmt.Errorf("%s names no registry: give REGISTRY/NAME:TAG, e.g. %s/%s", ref, DefaultRegistry, ref)
	}
	return name.ParseReference(ref.String())
}

// Push sends the local image src to the registry reference dst, speaking
// the distribution API: each blob is uploaded unless the registry has it
// already, then the manifest is PUT under the tag. It returns the
// manifest's descriptor; its digest is the one build printed.
func Push(ctx context.Context, s *image.Store, src, dst image.Ref, sink event.Sink) (image.Descriptor, error) {
	if sink == nil {
		sink = event.Discard
	}
	desc, err := s.Resolve(src)
	if err != nil {
		return image.Descriptor{}, err
	}
	r, err := remoteRef(dst)
	if err != nil {
		return image.Descriptor{}, err
	}
	p, err := layout.FromPath(s.Layout())
	if err != nil {
		return image.Descriptor{}, fmt.Errorf("open the OCI layout %s: %w", s.Layout(), err)
	}
	h, err := v1.NewHash(desc.Digest)
	if err != nil {
		return image.Descriptor{}, err
	}
	img, err := p.Image(h)
	if err != nil {
		return image.Descriptor{}, fmt.Errorf("read %s from the layout: %w", src, err)
	}
	repo := r.Context()
	err = event.Step(sink, fmt.Sprintf("PUT blobs and manifest %s to %s", image.ShortDigest(desc.Digest), r),
		fmt.Sprintf("crane push %s %s  # or: docker push %s", s.Layout(), r, r),
		func() error { return remote.Write(r, img, remote.WithContext(ctx)) })
	if err != nil {
		return image.Descriptor{}, fmt.Errorf("push %s to %s: %w", src, dst, hintRegistry(err, dst))
	}
	event.Narrate(sink, fmt.Sprintf("Pushed. The registry now serves the manifest at http://%s/v2/%s/manifests/%s, and each blob at /v2/%s/blobs/sha256:...", repo.RegistryStr(), repo.RepositoryStr(), dst.Tag, repo.RepositoryStr()))
	return desc, nil
}

// Pull fetches ref from its registry into the store: the manifest, the
// config and every layer, each checked against its digest, and names it
// ref in index.json.
func Pull(ctx context.Context, s *image.Store, ref image.Ref, sink event.Sink) (image.Descriptor, error) {
	if sink == nil {
		sink = event.Discard
	}
	r, err := remoteRef(ref)
	if err != nil {
		return image.Descriptor{}, err
	}
	var desc image.Descriptor
	err = event.Step(sink, fmt.Sprintf("GET manifest, config and layers of %s", r),
		fmt.Sprintf("crane pull --format=oci %s DIR  # or: docker pull %s", r, r),
		func() error {
			// From an index (a multi-platform image), the manifest for
			// this machine: without it the library picks linux/amd64,
			// which an arm64 learner could not run.
			img, err := remote.Image(r, remote.WithContext(ctx), remote.WithPlatform(platform))
			if err != nil {
				return err
			}
			desc, err = storeImage(s, img)
			return err
		})
	if err != nil {
		return image.Descriptor{}, fmt.Errorf("pull %s: %w", ref, hintRegistry(err, ref))
	}
	if err := s.Tag(ref, desc); err != nil {
		return image.Descriptor{}, err
	}
	event.Narrate(sink, fmt.Sprintf("Pulled %s: manifest %s, stored in %s.", ref, desc.Digest, s.Layout()))
	return desc, nil
}

// platform is the platform whose image a pull takes from an index:
// this machine's.
var platform = v1.Platform{OS: "linux", Architecture: runtime.GOARCH}

// storeImage writes a remote image's blobs into the layout, each checked
// against its digest, and returns its manifest's descriptor.
func storeImage(s *image.Store, img v1.Image) (image.Descriptor, error) {
	mt, err := img.MediaType()
	if err != nil {
		return image.Descriptor{}, err
	}
	if string(mt) != image.MediaManifest && string(mt) != "application/vnd.docker.distribution.manifest.v2+json" {
		return image.Descriptor{}, fmt.Errorf("the registry sent a %s; kcna-lab runs single-platform image manifests", mt)
	}
	layers, err := img.Layers()
	if err != nil {
		return image.Descriptor{}, err
	}
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return image.Descriptor{}, err
		}
		if _, err := os.Stat(s.BlobPath(d.String())); err == nil {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return image.Descriptor{}, err
		}
		err = s.PutBlobFrom(d.String(), rc)
		rc.Close()
		if err != nil {
			return image.Descriptor{}, err
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return image.Descriptor{}, err
	}
	if _, err := s.PutBlob(image.MediaConfig, cfg); err != nil {
		return image.Descriptor{}, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return image.Descriptor{}, err
	}
	return s.PutBlob(string(mt), raw)
}

// hintRegistry adds what to do when nothing listens at the registry.
func hintRegistry(err error, ref image.Ref) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("%w (is a registry running there? start one with `kcna-lab registry --listen %s`)", err, ref.Registry)
	}
	return err
}
