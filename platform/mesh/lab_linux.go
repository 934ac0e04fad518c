//go:build linux

package mesh

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/kernel/journal"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Up starts a lab: the control plane and its socket, then each pod with its
// sidecar. On failure everything started so far is removed again.
func Up(ctx context.Context, spec LabSpec, sink event.Sink) (_ *Lab, err error) {
	if sink == nil {
		sink = event.Discard
	}
	if spec.Name == "" {
		spec.Name = DefaultLab
	}
	if spec.Services == nil {
		spec.Services = LabServices()
	}
	for _, s := range spec.Services {
		if err := sandbox.ValidateName(PodName(spec.Name, s)); err != nil {
			return nil, fmt.Errorf("mesh %q: its pods' sandbox names are NAME-SERVICE-VERSION: %w; choose a shorter name", spec.Name, err)
		}
	}
	l := &Lab{Name: spec.Name, Socket: ControlSocket(spec.Name), sink: sink}
	if c, err := Dial(ctx, l.Socket); err == nil {
		_ = c.Close()
		return nil, fmt.Errorf("a mesh called %q is already running (its control plane answers on %s); stop it with Ctrl-C where `kcna-lab mesh up` runs, or choose another --name", spec.Name, l.Socket)
	}
	// A crashed run's journals (its socket, its sidecars) are swept first.
	if _, err := sandbox.Clean(); err != nil {
		return nil, err
	}
	if l.journal, err = journal.Create(sandbox.JournalDir(), "kcna-mesh-"+spec.Name); err != nil {
		return nil, fmt.Errorf("mesh %q: %w", spec.Name, err)
	}
	defer func() {
		if err != nil {
			_ = l.Close()
		}
	}()

	if l.CP, err = NewControlPlane(sink); err != nil {
		return nil, err
	}
	if err := l.listen(); err != nil {
		return nil, err
	}
	for _, s := range spec.Services {
		pod, err := StartPod(ctx, PodSpec{Name: PodName(spec.Name, s), Service: s.Service, Version: s.Version, Net: spec.Net, Program: spec.Program}, l.CP, l.Socket, sink)
		if err != nil {
			return nil, err
		}
		l.Pods = append(l.Pods, pod)
	}
	return l, nil
}

// listen opens the control socket where only root can reach it: whoever can
// connect may change the rules or obtain any service's certificate.
func (l *Lab) listen() error {
	dir := filepath.Dir(l.Socket)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("mesh: create %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	if err := l.journal.Record(journal.Entry{Kind: journal.File, Path: l.Socket, Shell: "rm -f " + l.Socket}); err != nil {
		return err
	}
	// A socket file whose server is gone (checked by Up) is only in the way.
	_ = os.Remove(l.Socket)
	err := event.Step(l.sink,
		fmt.Sprintf("socket(AF_UNIX); bind(%s); chmod 0600  # the control plane's API", l.Socket),
		fmt.Sprintf("socat UNIX-LISTEN:%s,mode=600,fork -", l.Socket),
		func() (err error) {
			if l.ln, err = net.Listen("unix", l.Socket); err != nil {
				return err
			}
			return os.Chmod(l.Socket, 0o600)
		})
	if err != nil {
		return fmt.Errorf("mesh: control socket: %w", err)
	}
	l.served = make(chan error, 1)
	go func() { l.served <- l.CP.Serve(l.ln) }()
	return nil
}

// Close takes the pods down, newest first (each sidecar leaves the mesh
// before its sandbox stops), then the control plane and its socket.
func (l *Lab) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	for _, p := range slices.Backward(l.Pods) {
		if err := p.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	l.Pods = nil
	if l.CP != nil {
		if err := l.CP.Close(); err != nil {
			errs = append(errs, err)
		}
		if l.served != nil {
			select {
			case err := <-l.served:
				if err != nil {
					errs = append(errs, err)
				}
			case <-time.After(5 * time.Second):
				errs = append(errs, errors.New("mesh: the control socket did not close within 5s"))
			}
			l.served = nil
		}
	}
	if l.journal != nil {
		if err := l.journal.Rollback(sandbox.Undo); err != nil {
			errs = append(errs, err)
		}
		l.journal = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mesh %s: take down: %w", l.Name, err)
	}
	event.Narrate(l.sink, fmt.Sprintf("mesh %s is down: its sidecars, sandboxes and control socket are gone", l.Name))
	return nil
}
