package mesh

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
)

// A sidecar in a sandbox is kcna-lab itself, started again inside the
// sandbox's network namespace as `kcna-lab mesh sidecar FLAGS`. These are
// the two halves of that command line: the words that select the hidden
// mode, and the flags that carry a SidecarConfig across the exec.

// sidecarCommand are the arguments that select a sidecar process's mode;
// the sidecar's flags follow them.
func sidecarCommand() []string { return []string{"mesh", "sidecar"} }

// SidecarArgs is the command line, after the program, that runs a sidecar
// for cfg joined to the control plane at controlSocket.
func SidecarArgs(cfg SidecarConfig, controlSocket string) []string {
	args := sidecarCommand()
	add := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	add("control", controlSocket)
	add("service", cfg.Service)
	add("version", cfg.Version)
	add("inbound", cfg.Inbound)
	add("outbound", cfg.Outbound)
	add("app", cfg.App)
	add("metrics", cfg.Metrics)
	add("advertise", cfg.Advertise)
	return args
}

// IsSidecarCommand reports whether args (os.Args[1:]) select the sidecar
// mode, e.g. in a test binary's TestMain.
func IsSidecarCommand(args []string) bool {
	want := sidecarCommand()
	return len(args) >= len(want) && slices.Equal(args[:len(want)], want)
}

// RunSidecarCommand runs the sidecar that flags (what follows `mesh
// sidecar`) describe until ctx ends. Usage errors go to stderr too.
func RunSidecarCommand(ctx context.Context, flags []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("kcna-lab mesh sidecar", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg SidecarConfig
	var control string
	fs.StringVar(&control, "control", "", "the control plane's unix `SOCKET`")
	fs.StringVar(&cfg.Service, "service", "", "the service this sidecar stands for")
	fs.StringVar(&cfg.Version, "version", "", "the version of the app instance")
	fs.StringVar(&cfg.Inbound, "inbound", "", "`ADDR` to listen on for traffic to the app")
	fs.StringVar(&cfg.Outbound, "outbound", "", "`ADDR` to listen on for the app's calls")
	fs.StringVar(&cfg.App, "app", "", "the app's own `ADDR`")
	fs.StringVar(&cfg.Metrics, "metrics", "", "`ADDR` to serve /metrics on, in the Prometheus text format")
	fs.StringVar(&cfg.Advertise, "advertise", "", "the inbound `ADDR` other sidecars dial")
	if err := fs.Parse(flags); err != nil {
		return err
	}
	if control == "" || fs.NArg() > 0 {
		return fmt.Errorf("mesh sidecar: want --control SOCKET and no arguments; this mode is started by `kcna-lab mesh up`, not by hand")
	}
	return RunSidecar(ctx, cfg, control)
}
