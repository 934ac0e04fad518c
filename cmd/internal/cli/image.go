package cli

import (
	"context"

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
	return store.ForRun(ctx, ref, spec, args, sink)
}

// OpenImages opens the learner's image store.
func OpenImages() (*image.Store, error) {
	dir, err := image.DefaultDir()
	if err != nil {
		return nil, err
	}
	return image.Open(dir)
}
