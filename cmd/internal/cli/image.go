package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/image"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// imageSpec makes spec run the image named by --image: its layers as the
// root filesystem and overlay lowers, its entrypoint, command, env and
// working directory (args replace its CMD).
func (a *App) imageSpec(ctx context.Context, spec *sandbox.Spec, f SandboxFlags, args []string) error {
	ref, err := image.ParseRef(f.image)
	if err != nil {
		return err
	}
	store, err := OpenImages()
	if err != nil {
		return err
	}
	sink := event.Discard
	if f.Trace {
		sink = NewTraceSink(a.Stderr)
	}
	err = store.ForRun(ref, spec, args, sink)
	if !errors.Is(err, image.ErrNotStored) || ref.Registry == "" {
		return err
	}
	if a.Pull == nil {
		return ErrHandOver // the front does not link a registry client
	}
	event.Narrate(sink, fmt.Sprintf("%s is not in the local store yet: pulling it, as docker run does.", ref))
	if _, err := a.Pull(ctx, store, ref, sink); err != nil {
		return err
	}
	return store.ForRun(ref, spec, args, sink)
}

// Puller fetches an image from its registry into the store: package
// distribution's Pull, which only kcna-lab-full links.
type Puller func(context.Context, *image.Store, image.Ref, event.Sink) (image.Descriptor, error)

// OpenImages opens the learner's image store.
func OpenImages() (*image.Store, error) {
	dir, err := image.DefaultDir()
	if err != nil {
		return nil, err
	}
	return image.Open(dir)
}
