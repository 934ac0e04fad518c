package kubernetes

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestKustomizeBuild renders this directory as `kubectl apply -k` does,
// with kustomize's krusty (the library kubectl embeds), after setting the
// image as README.md tells the instructor to, and decodes the result with
// the same strict decoder as the manifests.
func TestKustomizeBuild(t *testing.T) {
	const image = "registry.example/kcna-lab:v1"
	dir := t.TempDir()
	files := readManifests(t)
	for name, data := range files {
		if filepath.Dir(name) != "." {
			continue // the Dockerfile
		}
		if name == "kustomization.yaml" {
			data = bytes.Replace(data, []byte("newName: kcna-lab"), []byte("newName: registry.example/kcna-lab"), 1)
			data = bytes.Replace(data, []byte("newTag: latest"), []byte("newTag: v1"), 1)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	out, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	b, err := decode(map[string][]byte{"kustomize build": out})
	if err != nil {
		t.Fatal(err)
	}

	if b.statefulSet == nil || len(b.namespaces) != 1 {
		t.Fatalf("rendered: %d Namespaces and StatefulSet %v; want both", len(b.namespaces), b.statefulSet != nil)
	}
	if got := b.statefulSet.Spec.Template.Spec.Containers[0].Image; got != image {
		t.Errorf("image %q, want %q: the kustomization's images entry does not reach the container", got, image)
	}
	// The objects of the listed files, all of them and nothing else (the
	// example Secret is not listed).
	orig, err := decode(files)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for obj := range orig.labels {
		if !strings.HasPrefix(obj, "Secret ") {
			want = append(want, obj)
		}
	}
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(b.labels)); !slices.Equal(got, want) {
		t.Errorf("kustomize rendered %v, the listed files hold %v", got, want)
	}
	// The Namespace first, so that one apply creates it before the rest.
	if first, _, _ := strings.Cut(string(out), "\n---\n"); !strings.Contains(first, "kind: Namespace") {
		t.Errorf("the first rendered object is not the Namespace:\n%s", first)
	}
}
