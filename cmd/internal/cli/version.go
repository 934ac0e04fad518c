package cli

import "runtime/debug"

// version is set at build time with -ldflags
// "-X github.com/kcna-lab/kcna-lab/cmd/internal/cli.version=...".
var version = ""

// BuildVersion is the -ldflags version, else the module version, else the
// VCS revision the binary was built from.
func BuildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 7 {
			return "dev-" + s.Value[:7]
		}
	}
	return "dev"
}
