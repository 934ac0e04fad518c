package demos

import (
	"os"

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

// needsOverlay says why a demo that gives a sandbox a writable layer (an
// overlay mounted on the host before the clone) cannot run here.
func needsOverlay(r sandbox.Report, ns ...sandbox.Namespace) string {
	if why := needsNamespaces(r, ns...); why != "" {
		return why
	}
	if r.Overlay != "" {
		return r.Overlay
	}
	if os.Geteuid() != 0 {
		return "the writable layer is an overlay mounted on the host before the sandbox starts, which needs root: run kcna-lab with sudo"
	}
	return ""
}
