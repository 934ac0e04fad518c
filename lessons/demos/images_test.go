package demos

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/rootfs"
	"github.com/kcna-lab/kcna-lab/plugin/image"
)

// TestImageBuildPushRun runs lesson 7's demo and checks what it showed:
// the digest the build printed equals the one computed from the bytes the
// registry served, the second push uploaded nothing, the two containers
// each saw their own hostname, and the rebuild shared the layers below the
// changed file.
func TestImageBuildPushRun(t *testing.T) {
	rec := runDemo(t, "image-build-push-run")
	d := rec.compare(t, "One manifest digest")
	if len(d.Left.Lines) != 1 || len(d.Right.Lines) != 1 || !strings.HasPrefix(d.Right.Lines[0], d.Left.Lines[0]+"  (Docker-Content-Digest: "+d.Left.Lines[0]+")") {
		t.Errorf("manifest digests differ: build %q, registry %q", d.Left.Lines, d.Right.Lines)
	}
	var again string
	for _, e := range rec.Of(event.KindNarration) {
		if strings.HasPrefix(e.Text, "Push the same image again") {
			again = e.Text
		}
	}
	if again == "" || strings.Contains(again, "PATCH") || strings.Contains(again, "POST") || strings.Count(again, "HEAD /v2/lab/hello/blobs/") != 5 || strings.Contains(again, "BLOB_UNKNOWN") || !strings.Contains(again, "PUT /v2/lab/hello/manifests/stable") {
		t.Errorf("the second push's registry log should show no upload, only HEADs and the manifest PUT:\n%s", again)
	}
	c := rec.compare(t, "Two containers")
	last := func(l []string) string { return l[len(l)-1] }
	if len(c.Left.Lines) != 4 || c.Left.Lines[1] != "version 1" || c.Left.Lines[2] != "RUN saw version 1" || last(c.Left.Lines) == last(c.Right.Lines) || !strings.HasPrefix(last(c.Left.Lines), "/tmp/me: img1-") {
		t.Errorf("two containers printed %q and %q; want the image's files and each its own hostname", c.Left.Lines, c.Right.Lines)
	}
	l := rec.compare(t, "Layer digests")
	want := []string{"same, shared", "same, shared", "new", "new"}
	for i, w := range want {
		if !strings.HasSuffix(l.Right.Lines[i], w) {
			t.Errorf("rebuild layer %d: %q; want %q", i, l.Right.Lines[i], w)
		}
	}
}

// TestShareBaseLayersCheck builds the challenge's images in a store of
// the test's own and checks the verdicts: none yet, a change copied
// first (only the base shared), then the change copied last.
func TestShareBaseLayersCheck(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the busybox base layer is read from root's cache (CI runs as root)")
	}
	if rootfs.StaticBusybox() == "" {
		t.Skip("no static busybox here (apt install busybox-static)")
	}
	dir := t.TempDir()
	t.Setenv(image.DirEnv, filepath.Join(dir, "store"))
	wantVerdict(t, "share-base-layers", false, "no image store")
	store, err := image.Open(filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	app := filepath.Join(dir, "app")
	build := func(tag, dockerfile, version string) {
		t.Helper()
		if err := writeTree(app, map[string]string{"Dockerfile": dockerfile, "base.txt": "stays\n", "version.txt": version}); err != nil {
			t.Fatal(err)
		}
		if _, err := image.Build(context.Background(), store, image.BuildOptions{Context: app, Tag: image.Ref{Repo: "lab/app", Tag: tag}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	build("1", "FROM busybox\nCOPY base.txt /app/\nCOPY version.txt /app/\n", "v1\n")
	wantVerdict(t, "share-base-layers", false, "lab/app:2")
	build("2", "FROM busybox\nCOPY base.txt /app/\nCOPY version.txt /app/\n", "v1\n")
	wantVerdict(t, "share-base-layers", false, "the same 3 layers")
	build("1", "FROM busybox\nCOPY version.txt /app/\nCOPY base.txt /app/\n", "v1\n")
	build("2", "FROM busybox\nCOPY version.txt /app/\nCOPY base.txt /app/\n", "v2\n")
	wantVerdict(t, "share-base-layers", false, "share 1 bottom layer")
	build("1", "FROM busybox\nCOPY base.txt /app/\nCOPY version.txt /app/\n", "v1\n")
	build("2", "FROM busybox\nCOPY base.txt /app/\nCOPY version.txt /app/\n", "v2\n")
	wantVerdict(t, "share-base-layers", true, "share their bottom 2 layer(s)")
}
