// Package image builds, stores, moves and unpacks OCI images: lesson 7
// ("Images and layers") made live.
//
// Build reads a Dockerfile subset (FROM scratch or FROM busybox, COPY,
// RUN, ENV, WORKDIR, CMD, ENTRYPOINT, LABEL) and writes a real OCI image
// layout: each layer a gzip tar addressed by the sha256 of its bytes, a
// config naming the layers' uncompressed digests, a manifest naming the
// config and layers, and index.json naming the manifest by tag. A RUN step
// runs in a real sandbox (package sandbox) over the layers so far, and its
// writable overlay layer, whiteouts included, becomes the next layer. A
// build cache keyed on the parent chain, the instruction and the content of
// COPY's sources reuses unchanged layers.
//
// ForRun unpacks an image's layers into directories that a sandbox
// stacks as overlay lowers. Moving images to and from registries is
// the sub-package distribution's, so that `kcna-lab run --image` (in the
// slim front, cmd/kcna-lab) links no HTTP client.
//
// This package sits above sandbox and its sub-packages, like the
// orchestrator: it imports them and none of them imports it.
package image
