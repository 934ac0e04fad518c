package demos

import (
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// needsNamespaces says why a demo that creates namespaces cannot run here.
func needsNamespaces(r sandbox.Report, ns ...sandbox.Namespace) string {
	if r.Sandbox != "" {
		return r.Sandbox // a demo's sandboxes have every namespace
	}
	for _, n := range ns {
		if why := r.Namespaces[n]; why != "" {
			return why
		}
	}
	return ""
}

// needsOverlay says why a demo that gives a sandbox a writable layer
// cannot run here.
func needsOverlay(r sandbox.Report, ns ...sandbox.Namespace) string {
	if why := needsNamespaces(r, ns...); why != "" {
		return why
	}
	// Rootless, the sandbox's init mounts the overlay in its user
	// namespace; doctor tried that (r.Overlay).
	return r.Overlay
}
