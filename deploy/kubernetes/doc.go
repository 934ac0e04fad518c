// Package kubernetes holds the manifests that run `kcna-lab serve` on a
// Kubernetes cluster, for workshops too large for one machine (issue 14,
// "Workshop server", its section "Beyond one machine"; the server itself
// serves every lesson over SSH). It has no code: its tests decode every
// manifest strictly into the k8s.io/api types, check that the manifests
// agree with each other and with kcna-lab's serve flags, and run
// deploy/kcna-lab-cgroupns, the image's entrypoint, against the kernel's
// cgroup v2. README.md beside this file is the instructor's guide.
package kubernetes
