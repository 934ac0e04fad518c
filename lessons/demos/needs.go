package demos

import (
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// needsNamespaces says why a demo that creates namespaces cannot run here.
func needsNamespaces(r sandbox.Report, ns ...sandbox.Namespace) string {
	for _, n := range ns {
		if why := r.Namespaces[n]; why != "" {
			return why
		}
	}
	return ""
}
