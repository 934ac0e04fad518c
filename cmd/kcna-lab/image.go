package main

import (
	"context"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/plugin/image"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// imageSpec makes spec run the image named by --image: its layers as the
// root filesystem and overlay lowers, its entrypoint, command, env and
// working directory (args replace its CMD).
func (a *app) imageSpec(ctx context.Context, spec *sandbox.Spec, f sandboxFlags, args []string) error {
	ref, err := image.ParseRef(f.image)
	if err != nil {
		return err
	}
	store, err := openImages()
	if err != nil {
		return err
	}
	sink := event.Discard
	if f.trace {
		sink = newTraceSink(a.stderr)
	}
	return store.ForRun(ctx, ref, spec, args, sink)
}
