package image

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kcna-lab/kcna-lab/internal/atomicfile"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// The media types of the OCI image spec that kcna-lab writes.
const (
	MediaManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaConfig   = "application/vnd.oci.image.config.v1+json"
	MediaLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	MediaIndex    = "application/vnd.oci.image.index.v1+json"
	// RefAnnotation names an image in an OCI layout's index.json.
	RefAnnotation = "org.opencontainers.image.ref.name"
)

// Descriptor points at a blob by digest, as the OCI spec's descriptors do.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// Manifest is an OCI image manifest: the config and the layers, bottom
// layer first.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// Config is an OCI image config. It has no "created" time, so that the
// same steps over the same files give the same digest.
type Config struct {
	Architecture string    `json:"architecture"`
	OS           string    `json:"os"`
	Config       RunConfig `json:"config"`
	RootFS       RootFS    `json:"rootfs"`
	History      []History `json:"history,omitempty"`
}

// RunConfig is how a container of the image starts.
type RunConfig struct {
	Env        []string          `json:"Env,omitempty"`
	Entrypoint []string          `json:"Entrypoint,omitempty"`
	Cmd        []string          `json:"Cmd,omitempty"`
	WorkingDir string            `json:"WorkingDir,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

// RootFS lists the layers' diff IDs: the sha256 of each uncompressed tar.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// History is one build step.
type History struct {
	CreatedBy  string `json:"created_by"`
	EmptyLayer bool   `json:"empty_layer,omitempty"`
}

type index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []Descriptor `json:"manifests"`
}

// Store is the learner's images on disk, under one directory:
//
//	oci/       an OCI image layout: oci-layout, index.json, blobs/sha256/
//	cache/     the build cache: one file per cache key naming a layer
//	unpacked/  layers unpacked into directories, the lowers of an overlay
type Store struct {
	Dir string
}

// DirEnv, when set, names the image store instead of the default: tests
// and the end-to-end walk use it to leave the learner's images alone.
const DirEnv = "KCNA_LAB_IMAGES"

// DefaultDir is where kcna-lab keeps images: $KCNA_LAB_IMAGES, else
// "images" in its cache dir (/var/cache/kcna-lab/images as root,
// ~/.cache/kcna-lab/images otherwise).
func DefaultDir() (string, error) {
	if d := os.Getenv(DirEnv); d != "" {
		return d, nil
	}
	cache, err := sandbox.CacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "images"), nil
}

// Open opens the store in dir, creating an empty OCI layout there if
// there is none yet.
func Open(dir string) (*Store, error) {
	s := &Store{Dir: dir}
	if err := os.MkdirAll(filepath.Join(s.Layout(), "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("image store %s: %w", dir, err)
	}
	for _, d := range []string{"cache", "unpacked"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("image store %s: %w", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Layout(), "oci-layout")); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.WriteFile(filepath.Join(s.Layout(), "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`+"\n"), 0o644); err != nil {
			return nil, err
		}
	}
	s.removeStale()
	if _, err := os.Stat(s.indexPath()); errors.Is(err, fs.ErrNotExist) {
		b, _ := json.MarshalIndent(index{SchemaVersion: 2, MediaType: MediaIndex, Manifests: []Descriptor{}}, "", "  ")
		if err := atomicfile.WriteFile(s.indexPath(), append(b, '\n'), 0o644); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// staleAfter is how old a temporary file or directory must be before
// Open takes it for a crashed build's or pull's; a real one takes seconds.
const staleAfter = time.Hour

// removeStale deletes what a build, pull or unpack killed half-way left:
// temporary blobs and half-unpacked layers, never renamed into place.
func (s *Store) removeStale() {
	for _, pat := range []string{
		filepath.Join(s.Layout(), "blobs", "sha256", ".*"),
		filepath.Join(s.Layout(), ".*"), // atomicfile's ".index.json-*"...
		filepath.Join(s.Dir, "cache", ".*"),
		filepath.Join(s.Dir, "unpacked", ".unpack-*"),
	} {
		old, _ := filepath.Glob(pat)
		for _, p := range old {
			if fi, err := os.Lstat(p); err == nil && time.Since(fi.ModTime()) > staleAfter {
				_ = removeTree(p)
			}
		}
	}
}

// Layout is the OCI image layout's directory.
func (s *Store) Layout() string { return filepath.Join(s.Dir, "oci") }

func (s *Store) indexPath() string { return filepath.Join(s.Layout(), "index.json") }

// BlobPath is where the blob with this digest ("sha256:HEX") lives.
func (s *Store) BlobPath(digest string) string {
	return filepath.Join(s.Layout(), "blobs", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

// PutBlob stores b under its sha256 and returns its descriptor.
func (s *Store) PutBlob(mediaType string, b []byte) (Descriptor, error) {
	sum := sha256.Sum256(b)
	d := Descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(b))}
	if _, err := os.Stat(s.BlobPath(d.Digest)); err == nil {
		return d, nil
	}
	return d, atomicfile.WriteFile(s.BlobPath(d.Digest), b, 0o644)
}

// PutBlobFrom stores a blob read from r (a pull's download), refusing it
// unless it hashes to digest.
func (s *Store) PutBlobFrom(digest string, r io.Reader) error {
	f, err := os.CreateTemp(filepath.Join(s.Layout(), "blobs", "sha256"), ".pull-*")
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(f.Name()) }()
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("download %s: %w", digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("blob %s arrived as %s: refusing it", digest, got)
	}
	return s.putBlobFile(f.Name(), digest)
}

// putBlobFile moves the file tmp, whose sha256 is digest, into the
// layout; tmp must be in the layout's blobs directory.
func (s *Store) putBlobFile(tmp, digest string) error {
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, s.BlobPath(digest))
}

// ReadBlob reads a blob and checks it against its digest.
func (s *Store) ReadBlob(digest string) ([]byte, error) {
	b, err := os.ReadFile(s.BlobPath(digest))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", digest, err)
	}
	sum := sha256.Sum256(b)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return nil, fmt.Errorf("blob %s is corrupt: its content hashes to %s", digest, got)
	}
	return b, nil
}

// Tag names the manifest desc ref in index.json, replacing what the name
// pointed at before.
func (s *Store) Tag(ref Ref, desc Descriptor) error {
	return s.locked(func() error {
		idx, err := s.readIndex()
		if err != nil {
			return err
		}
		idx.Manifests = slices.DeleteFunc(idx.Manifests, func(d Descriptor) bool { return d.Annotations[RefAnnotation] == ref.String() })
		desc.Annotations = map[string]string{RefAnnotation: ref.String()}
		idx.Manifests = append(idx.Manifests, desc)
		b, err := json.MarshalIndent(idx, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.WriteFile(s.indexPath(), append(b, '\n'), 0o644)
	})
}

// Resolve finds the manifest a name points at in index.json.
func (s *Store) Resolve(ref Ref) (Descriptor, error) {
	idx, err := s.readIndex()
	if err != nil {
		return Descriptor{}, err
	}
	for _, d := range idx.Manifests {
		if d.Annotations[RefAnnotation] == ref.String() {
			return d, nil
		}
	}
	return Descriptor{}, notStored{ref, s.Layout()}
}

// ErrNotStored is what Resolve and ForRun return (errors.Is) for an image
// the store does not hold: one from a registry is pulled (package
// distribution) and tried again, as docker run does.
var ErrNotStored = errors.New("image not in the local store")

type notStored struct {
	ref    Ref
	layout string
}

func (e notStored) Error() string {
	return fmt.Sprintf("no image %s in %s: build it with `kcna-lab build -t %s DIR`, or pull it", e.ref, e.layout, e.ref)
}

func (e notStored) Is(target error) bool { return target == ErrNotStored }

// Images lists the tagged images, in index.json's order.
func (s *Store) Images() ([]Descriptor, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	return idx.Manifests, nil
}

// Load reads the manifest and config that desc points at.
func (s *Store) Load(desc Descriptor) (*Manifest, *Config, error) {
	b, err := s.ReadBlob(desc.Digest)
	if err != nil {
		return nil, nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if m.MediaType != "" && m.MediaType != MediaManifest && m.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
		return nil, nil, fmt.Errorf("manifest %s is a %s; kcna-lab runs single-platform image manifests", desc.Digest, m.MediaType)
	}
	cb, err := s.ReadBlob(m.Config.Digest)
	if err != nil {
		return nil, nil, err
	}
	var c Config
	if err := json.Unmarshal(cb, &c); err != nil {
		return nil, nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(c.RootFS.DiffIDs) != len(m.Layers) {
		return nil, nil, fmt.Errorf("image %s: the config names %d layers, the manifest %d", desc.Digest, len(c.RootFS.DiffIDs), len(m.Layers))
	}
	return &m, &c, nil
}

func (s *Store) readIndex() (*index, error) {
	b, err := os.ReadFile(s.indexPath())
	if err != nil {
		return nil, err
	}
	var idx index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %w", s.indexPath(), err)
	}
	return &idx, nil
}

// locked runs fn holding the store's lock, so that two builds tagging at
// once do not lose one another's index.json entry.
func (s *Store) locked(fn func() error) error {
	f, err := os.OpenFile(filepath.Join(s.Dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return fn()
}

// Ref is an image name: [REGISTRY/]REPOSITORY:TAG.
type Ref struct {
	Registry string // "" for a local name, e.g. "127.0.0.1:5000"
	Repo     string
	Tag      string
}

var (
	repoRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)
	})
	tagRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`) })
)

// ParseRef reads NAME[:TAG] or REGISTRY/NAME[:TAG]; the tag defaults to
// "latest", as Docker's does. A first part with a dot or a colon, or
// "localhost", is a registry.
func ParseRef(s string) (Ref, error) {
	if strings.Contains(s, "@") {
		return Ref{}, fmt.Errorf("image %q: references by digest (@sha256:...) are not supported here; use NAME:TAG", s)
	}
	var r Ref
	rest := s
	if first, after, ok := strings.Cut(s, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Registry, rest = first, after
	}
	r.Repo, r.Tag = rest, "latest"
	if i := strings.LastIndex(rest, ":"); i >= 0 {
		r.Repo, r.Tag = rest[:i], rest[i+1:]
	}
	if !repoRE().MatchString(r.Repo) {
		return Ref{}, fmt.Errorf("image name %q: use lower-case letters, digits and . _ - separators, e.g. hello or lab/hello", r.Repo)
	}
	if !tagRE().MatchString(r.Tag) {
		return Ref{}, fmt.Errorf("image tag %q: use letters, digits, _ . and -, at most 128, e.g. v1", r.Tag)
	}
	return r, nil
}

// String gives the reference back in full, tag included.
func (r Ref) String() string {
	s := r.Repo + ":" + r.Tag
	if r.Registry != "" {
		s = r.Registry + "/" + s
	}
	return s
}
