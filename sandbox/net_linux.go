//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/kcna-lab/kcna-lab/sandbox/initproc"
)

// attachNetwork plugs the init's network namespace into Spec.Net while the
// init still waits for its config, so the command starts with its network
// up, and sets the resolver file the init mounts over /etc/resolv.conf.
// What serves the sandbox (DNS, published ports) lives in this process, so
// it lasts as long as the sandbox's kcna-lab does (the background one,
// with --detach).
func (sb *Sandbox) attachNetwork(pid int, cfg *initproc.Config) error {
	if !slices.Contains(sb.spec.Isolate, NSNet) {
		return errors.New("--net bridge needs the sandbox's own network namespace: add net to --isolate")
	}
	p := networkPlugin()
	if p == nil {
		return errors.New("this program has no network plugin: import github.com/kcna-lab/kcna-lab/plugin/network to use Spec.Net")
	}
	a, err := p.Attach(*sb.spec.Net, sb.Name, pid, sb.journal, sb.sink)
	if err != nil {
		return err
	}
	sb.net = a
	if len(a.ResolvConf) > 0 {
		resolv := filepath.Join(sb.dir, "resolv.conf")
		if err := os.WriteFile(resolv, a.ResolvConf, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", resolv, err)
		}
		cfg.ResolvConf = resolv
	}
	return nil
}

// detachNetwork stops what serves the sandbox and takes it off its
// network.
func (sb *Sandbox) detachNetwork() error {
	if sb.net == nil {
		return nil
	}
	var errs []error
	for _, c := range sb.net.Closers {
		errs = append(errs, c.Close())
	}
	sb.net = nil
	return errors.Join(errs...)
}
