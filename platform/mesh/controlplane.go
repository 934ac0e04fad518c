package mesh

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// ControlPlane is the mesh's brain, as istiod is Istio's: it holds the rules
// and pushes every change to every sidecar, issues each sidecar its
// certificate from an in-memory CA, and keeps the registry of running
// instances that sidecars pick endpoints from. It never carries a request
// itself: that is the data plane's job.
type ControlPlane struct {
	sink  event.Sink
	ca    *authority
	stats Stats
	spans spanLog

	mu        sync.Mutex
	rules     Rules
	version   int
	members   []*member
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	rotation  *time.Timer
	closed    bool
}

// member is one sidecar in the registry.
type member struct {
	ep   Endpoint
	peer peer
}

// peer is how the control plane talks to a sidecar: a *Sidecar in the same
// process, or a remotePeer across the control socket.
type peer interface {
	Apply(Rules) error
	SetIdentity(Identity) error
	SetEndpoints(map[string][]Endpoint)
}

// NewControlPlane makes the mesh's root CA and an empty registry. The rules
// start as the zero Rules: plaintext, everything allowed.
func NewControlPlane(sink event.Sink) (*ControlPlane, error) {
	if sink == nil {
		sink = event.Discard
	}
	cp := &ControlPlane{sink: sink, listeners: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{}}
	err := event.Step(sink,
		fmt.Sprintf("generate the mesh root CA (ECDSA P-256, spiffe://%s, kept in memory only)", TrustDomain),
		`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -keyout ca.key -out ca.crt -subj "/O=kcna-lab mesh/CN=kcna-lab mesh root CA" -addext basicConstraints=critical,CA:TRUE,pathlen:0`,
		func() (err error) {
			cp.ca, err = newAuthority(time.Now())
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("mesh: control plane: %w", err)
	}
	event.Narrate(sink, "control plane up: it holds the rules and the CA, and pushes both to the sidecars; it never carries a request itself")
	cp.mu.Lock() // rotate reads cp.rotation under the lock
	cp.rotation = time.AfterFunc(CertTTL/2, cp.rotate)
	cp.mu.Unlock()
	return cp, nil
}

// Register adds a started in-process sidecar to the mesh: it gets its
// certificate, the current rules and the endpoint table, and is pushed every
// later change. Closing the sidecar takes it out again.
func (cp *ControlPlane) Register(s *Sidecar) error {
	if s.leave.Load() != nil {
		return fmt.Errorf("mesh: register %s: already in a mesh", s.cfg.Service)
	}
	ep, err := s.Endpoint()
	if err != nil {
		return err
	}
	m, err := cp.join(ep, s)
	if err != nil {
		return err
	}
	report := cp.observe
	leave := func() { cp.drop(m) }
	s.report.Store(&report)
	s.leave.Store(&leave)
	return nil
}

// Push makes r the mesh's rules and sends them to every sidecar. Invalid
// rules are refused before any sidecar sees them. The error lists the
// sidecars that could not be reached; the others have the new rules.
func (cp *ControlPlane) Push(r Rules) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("mesh: push: %w", err)
	}
	r = r.clone()
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.rules = r
	cp.version++
	event.Narrate(cp.sink, fmt.Sprintf("control plane: rules v%d to %d sidecar(s): %s. (In Istio you would kubectl apply the resources named; istiod pushes them to every Envoy over xDS.)",
		cp.version, len(cp.members), r))
	var errs []error
	for _, m := range cp.members {
		err := event.Step(cp.sink,
			fmt.Sprintf("push rules v%d to %s %s sidecar at %s", cp.version, m.ep.Service, m.ep.Version, m.ep.Sidecar), "",
			func() error { return m.peer.Apply(r) })
		if err != nil {
			errs = append(errs, fmt.Errorf("%s sidecar at %s: %w", m.ep.Service, m.ep.Sidecar, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mesh: push rules v%d: %w", cp.version, err)
	}
	return nil
}

// Rules returns the rules last pushed.
func (cp *ControlPlane) Rules() Rules {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.rules.clone()
}

// Issue makes a fresh key and certificate for service, signed by the mesh CA.
func (cp *ControlPlane) Issue(service string) (Identity, error) {
	var id Identity
	err := event.Step(cp.sink,
		fmt.Sprintf("issue certificate for %s (ECDSA P-256, valid %s, signed by the mesh CA)", SPIFFEID(service), hours(CertTTL)),
		fmt.Sprintf(`openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %[1]s.key -subj "/O=kcna-lab mesh" -addext subjectAltName=URI:%[2]s -addext extendedKeyUsage=serverAuth,clientAuth | openssl x509 -req -CA ca.crt -CAkey ca.key -copy_extensions copy -days 1 -out %[1]s.crt  # openssl counts whole days; the mesh's are %[3]s`,
			service, SPIFFEID(service), hours(CertTTL)),
		func() (err error) {
			id, err = cp.ca.issue(service, time.Now())
			return err
		})
	if err != nil {
		return Identity{}, fmt.Errorf("mesh: issue certificate: %w", err)
	}
	return id, nil
}

// Resolve returns the registered endpoints of service. It fits
// SidecarConfig.Resolve, though registered sidecars need not use it: the
// control plane pushes them the table.
func (cp *ControlPlane) Resolve(service string) ([]Endpoint, error) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.endpointsLocked()[service], nil
}

// Stats aggregates the requests of every registered sidecar, in process or
// across the control socket.
func (cp *ControlPlane) Stats() []StatsRow { return cp.stats.Snapshot() }

// observe books a request a sidecar reported: in the stats, and as a span
// of its trace.
func (cp *ControlPlane) observe(r Request) {
	cp.stats.Add(r)
	cp.spans.add(r)
}

// Trace returns the spans the sidecars reported for traceID (32 hex
// digits), oldest first: one per sidecar the request passed.
func (cp *ControlPlane) Trace(traceID string) []Request { return cp.spans.trace(traceID) }

// RootPEM is the mesh CA's certificate, e.g. for `openssl verify -CAfile`.
func (cp *ControlPlane) RootPEM() string { return cp.ca.certPEM }

// Close stops certificate rotation and the control socket: listeners and
// connected remote sidecars, which keep serving with what they last got.
// In-process sidecars are their owner's to close.
func (cp *ControlPlane) Close() error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.closed {
		return nil
	}
	cp.closed = true
	cp.rotation.Stop()
	var errs []error
	for ln := range cp.listeners {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	for c := range cp.conns {
		_ = c.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mesh: close control plane: %w", err)
	}
	return nil
}

// join gives a new sidecar its identity, the rules and the endpoints, in
// that order, so that it can serve correctly from its first request.
func (cp *ControlPlane) join(ep Endpoint, p peer) (*member, error) {
	if err := checkService(ep.Service); err != nil {
		return nil, fmt.Errorf("mesh: register: %w", err)
	}
	if ep.Sidecar == "" {
		return nil, fmt.Errorf("mesh: register %s: no sidecar address to route to", ep.Service)
	}
	id, err := cp.Issue(ep.Service)
	if err != nil {
		return nil, err
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.closed {
		return nil, fmt.Errorf("mesh: register %s: control plane closed", ep.Service)
	}
	if err := p.SetIdentity(id); err != nil {
		return nil, fmt.Errorf("mesh: register %s: %w", ep.Service, err)
	}
	if err := p.Apply(cp.rules); err != nil {
		return nil, fmt.Errorf("mesh: register %s: %w", ep.Service, err)
	}
	m := &member{ep: ep, peer: p}
	cp.members = append(cp.members, m)
	cp.pushEndpointsLocked()
	event.Narrate(cp.sink, fmt.Sprintf("control plane: %s %s joined the mesh, its sidecar at %s; sidecars in the mesh: %d",
		ep.Service, ep.Version, ep.Sidecar, len(cp.members)))
	return m, nil
}

// drop takes m out of the registry and tells the others, so that no caller
// picks an instance that is gone.
func (cp *ControlPlane) drop(m *member) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	i := slices.Index(cp.members, m)
	if i < 0 {
		return
	}
	cp.members = slices.Delete(cp.members, i, i+1)
	cp.pushEndpointsLocked()
	event.Narrate(cp.sink, fmt.Sprintf("control plane: %s %s at %s left the mesh; sidecars in the mesh: %d",
		m.ep.Service, m.ep.Version, m.ep.Sidecar, len(cp.members)))
}

func (cp *ControlPlane) endpointsLocked() map[string][]Endpoint {
	eps := map[string][]Endpoint{}
	for _, m := range cp.members {
		eps[m.ep.Service] = append(eps[m.ep.Service], m.ep)
	}
	for _, list := range eps {
		slices.SortFunc(list, func(a, b Endpoint) int { return cmp.Compare(a.Sidecar, b.Sidecar) })
	}
	return eps
}

// pushEndpointsLocked sends every sidecar the whole table; the mesh is
// small enough that sending only the change would save nothing worth the code.
func (cp *ControlPlane) pushEndpointsLocked() {
	eps := cp.endpointsLocked()
	for _, m := range cp.members {
		m.peer.SetEndpoints(eps)
	}
}

// rotate re-issues every sidecar's certificate at half its life, so that
// none ever expires while its sidecar runs.
func (cp *ControlPlane) rotate() {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.closed {
		return
	}
	services := map[string]bool{}
	for _, m := range cp.members {
		services[m.ep.Service] = true
	}
	event.Narrate(cp.sink, fmt.Sprintf("control plane: rotating the certificates of %d sidecar(s) (%s) before they expire",
		len(cp.members), slices.Sorted(maps.Keys(services))))
	for _, m := range cp.members {
		id, err := cp.Issue(m.ep.Service)
		if err == nil {
			err = m.peer.SetIdentity(id)
		}
		if err != nil {
			event.Narrate(cp.sink, fmt.Sprintf("control plane: could not rotate the certificate of %s at %s: %v", m.ep.Service, m.ep.Sidecar, err))
		}
	}
	cp.rotation.Reset(CertTTL / 2)
}

// hours writes a whole number of hours as "1h" rather than "1h0m0s".
func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
