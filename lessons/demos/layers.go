package demos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/overlay"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// layersDemo builds an image-like stack: the busybox root filesystem with
// an "app" layer on top and a writable layer above both, then shows where
// a new file, a changed file and a deleted file end up.
func layersDemo() Demo {
	return Demo{
		ID:         "overlay-layers",
		Title:      "Image layers and the writable layer: copy-up and whiteouts in overlayfs",
		Run:        runLayers,
		Blocked:    func(r sandbox.Report) string { return needsOverlay(r, sandbox.NSMount) },
		ShellFlags: []string{"--name", "lab-layers", "--keep", "--overlay"},
	}
}

func runLayers(ctx context.Context, sink event.Sink) error {
	app, err := os.MkdirTemp("", "kcna-layer-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(app) }()
	if err := os.MkdirAll(filepath.Join(app, "app"), 0o755); err != nil {
		return err
	}
	for name, body := range map[string]string{"app/config": "colour=blue\n", "app/README": "an image layer\n"} {
		if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	if err := os.Chmod(app, 0o755); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		// Root inside the sandbox is an unprivileged host uid; like the
		// rootfs, the layer is given to it so that it may change its files.
		if err := chownAll(app, sandbox.RootMapBase); err != nil {
			return err
		}
	}
	event.Narrate(sink, "An image is a stack of read-only layers. Here: the busybox root filesystem at the bottom, an \"app\" layer with /app/config and /app/README on top (a COPY in a Dockerfile makes such a layer), and a writable layer above both. overlayfs merges them into one tree:")
	name := demoName("layers")
	_, stop, err := held(ctx, sandbox.Spec{Name: name, Layers: []string{app}}, sink)
	if err != nil {
		return err
	}
	defer stop()
	st, err := sandbox.Find(name)
	if err != nil {
		return err
	}
	fs := overlay.Open(st.Layers.Dir, st.Layers.Lower)
	out, err := inside(ctx, name, "sh", "-c", `echo hello > /hello.txt && echo "new file /hello.txt"; echo colour=green > /app/config && echo "changed /app/config"; rm /app/README && echo "deleted /app/README"; echo; echo "the merged view:"; ls /app /hello.txt`)
	if err != nil {
		return err
	}
	changes, err := fs.Changes()
	if err != nil {
		return err
	}
	var upper []string
	for _, c := range changes {
		if info, err := os.Lstat(filepath.Join(fs.Upper, c.Path)); err == nil && info.IsDir() && c.Kind != overlay.Opaque {
			continue // parents copied up along with a file
		}
		upper = append(upper, fmt.Sprintf("%-9s %s", c.Kind, c.Path))
	}
	event.SideBySide(sink, "What the sandbox did | what its writable (upper) layer now holds, read from "+fs.Upper, out, upper)
	var origin []string
	for _, p := range []string{"/hello.txt", "/app/config", "/bin/busybox", "/etc/passwd"} {
		o, err := fs.Origin(p)
		if err != nil {
			origin = append(origin, p+": "+err.Error())
			continue
		}
		layer := o.String()
		if o.Layer >= 0 && o.Layer < len(fs.Lower) {
			layer += " (" + filepath.Base(fs.Lower[o.Layer]) + ")"
		}
		origin = append(origin, fmt.Sprintf("%-13s from %s", p, layer))
	}
	event.SideBySide(sink, "Where each file of the merged view comes from", origin, []string{"upper = the writable layer", "lower 0 = the app layer", "lower 1 = the busybox layer"})
	lowerStill, _ := os.ReadFile(filepath.Join(app, "app", "config"))
	event.Narrate(sink, fmt.Sprintf("The new file exists only in the upper layer. Changing /app/config copied the whole file up first: the app layer still says %q. Deleting /app/README left a whiteout, a 0/0 character device in the upper layer that hides the lower file. The lower layers never change, which is why many containers can share one image; the upper layer is removed with the sandbox, which is why data belongs in a volume.", string(lowerStill[:len(lowerStill)-1])))
	return nil
}

func chownAll(dir string, id int) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, id, id)
	})
}
