package mesh

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// The control socket carries JSON, one message per line, both ways, so that
// a learner can talk to the control plane by hand: `socat -
// UNIX-CONNECT:mesh.sock`, then {"type":"get-rules"}. A connection is one of
// two kinds:
//
//   - a sidecar's: it says hello with its endpoint and is sent its identity,
//     the rules and the endpoint table, then every later change; it sends
//     back its events and request records, which the control plane passes
//     on to its own sink and Stats. This is a tiny cousin of Envoy's xDS.
//   - an admin client's (the CLI): one request (push, get-rules, stats,
//     get-endpoints), one reply, as often as it likes.
//
// Anyone who can open the socket can change the rules and, by saying hello,
// obtain a certificate for any service, so whoever creates the listener must
// make it reachable only by the lab's user (mode 0600 in a 0700 directory).

// Serve answers control connections on l, typically a unix socket, until
// Close. Each connection is served on its own goroutine by ServeConn.
func (cp *ControlPlane) Serve(l net.Listener) error {
	cp.mu.Lock()
	if cp.closed {
		cp.mu.Unlock()
		return fmt.Errorf("mesh: serve %s: %w", l.Addr(), net.ErrClosed)
	}
	cp.listeners[l] = struct{}{}
	cp.mu.Unlock()
	event.Narrate(cp.sink, fmt.Sprintf("control plane: waiting for sidecars on %s:%s", l.Addr().Network(), l.Addr()))
	for {
		c, err := l.Accept()
		if err != nil {
			cp.mu.Lock()
			closed := cp.closed
			delete(cp.listeners, l)
			cp.mu.Unlock()
			if closed {
				return nil
			}
			return fmt.Errorf("mesh: serve %s: %w", l.Addr(), err)
		}
		go func() {
			if err := cp.ServeConn(c); err != nil {
				event.Narrate(cp.sink, fmt.Sprintf("control plane: a control connection ended: %v", err))
			}
		}()
	}
}

// ServeConn speaks the control protocol on c until it closes. It is the
// half of Serve that needs no listener: a parent that hands its sidecar
// process one end of a socketpair serves the other end with it.
func (cp *ControlPlane) ServeConn(c net.Conn) error {
	cp.mu.Lock()
	if cp.closed {
		cp.mu.Unlock()
		_ = c.Close()
		return fmt.Errorf("mesh: control connection: %w", net.ErrClosed)
	}
	cp.conns[c] = struct{}{}
	cp.mu.Unlock()
	defer func() {
		cp.mu.Lock()
		delete(cp.conns, c)
		cp.mu.Unlock()
		_ = c.Close()
	}()

	w := newWire(c)
	var m *member
	defer func() {
		if m != nil {
			cp.drop(m)
		}
	}()
	for {
		msg, err := w.recv()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("mesh: control connection: %w", err)
		}
		switch msg.Type {
		case msgHello:
			if m != nil || msg.Endpoint == nil {
				err = w.send(message{Type: msgError, Error: "hello: send it once, with an endpoint"})
				break
			}
			if m, err = cp.join(*msg.Endpoint, remotePeer{w}); err != nil {
				_ = w.send(message{Type: msgError, Error: err.Error()})
				return err
			}
		case msgEvent:
			if msg.Event != nil {
				cp.sink.Emit(*msg.Event)
			}
		case msgRequest:
			if msg.Request != nil {
				cp.observe(*msg.Request)
			}
		case msgPush:
			if msg.Rules == nil {
				err = w.send(message{Type: msgError, Error: "push: no rules"})
			} else if perr := cp.Push(*msg.Rules); perr != nil {
				err = w.send(message{Type: msgError, Error: perr.Error()})
			} else {
				err = w.send(message{Type: msgOK})
			}
		case msgGetRules:
			r := cp.Rules()
			err = w.send(message{Type: msgRules, Rules: &r})
		case msgStats:
			err = w.send(message{Type: msgStats, Stats: cp.Stats()})
		case msgGetEndpoints:
			cp.mu.Lock()
			eps := cp.endpointsLocked()
			cp.mu.Unlock()
			err = w.send(message{Type: msgEndpoints, Endpoints: eps})
		default:
			err = w.send(message{Type: msgError, Error: fmt.Sprintf("unknown message type %q", msg.Type)})
		}
		if err != nil {
			return fmt.Errorf("mesh: control connection: %w", err)
		}
	}
}

// RunSidecar is the body of a sidecar process: it connects to the control
// plane's socket at controlSocket and runs a sidecar there until ctx ends.
// The CLI calls it in a kcna-lab process started inside the app sandbox's
// network namespace.
func RunSidecar(ctx context.Context, cfg SidecarConfig, controlSocket string) error {
	c, err := Dial(ctx, controlSocket)
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	return c.RunSidecar(ctx, cfg)
}

// RunSidecar runs a sidecar driven by the control plane at the other end of
// c until ctx ends. Its events and request records go to the control plane,
// which emits them on its own sink: one stream for the whole mesh.
//
// If the control plane goes away, the sidecar keeps serving with the rules
// and certificate it last had, as Envoy does when istiod is down: the data
// plane does not need the control plane to carry traffic, only to change.
func (c *Client) RunSidecar(ctx context.Context, cfg SidecarConfig) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fwd := newForwarder(c.w)
	defer fwd.stop()
	s, err := NewSidecar(cfg, fwd)
	if err != nil {
		return err
	}
	if err := s.listen(); err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	report := fwd.request
	s.report.Store(&report)
	ep, err := s.Endpoint()
	if err != nil {
		return err
	}
	if err := c.w.send(message{Type: msgHello, Endpoint: &ep}); err != nil {
		return fmt.Errorf("mesh: %s sidecar: join the control plane: %w", cfg.Service, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.w.c.Close() })
	defer stop()

	// Serve no one before the identity, the rules and the endpoints are in:
	// in a mesh with mTLS on, a sidecar serving early would take plaintext.
	need := map[string]bool{msgIdentity: true, msgRules: true, msgEndpoints: true}
	for len(need) > 0 {
		msg, err := c.w.recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("mesh: %s sidecar: waiting for its configuration: %w", cfg.Service, err)
		}
		if err := s.handle(msg); err != nil {
			return fmt.Errorf("mesh: %s sidecar: configuration: %w", cfg.Service, err)
		}
		delete(need, msg.Type)
	}
	s.serve()
	event.Narrate(fwd, fmt.Sprintf("%s %s sidecar ready: inbound %s → app %s, outbound %s", cfg.Service, cfg.Version, ep.Sidecar, cfg.App, s.OutboundAddr()))

	for {
		msg, err := c.w.recv()
		if err != nil {
			// Lost the control plane, or ctx ended and closed the socket.
			<-ctx.Done()
			return nil
		}
		if err := s.handle(msg); err != nil {
			event.Narrate(fwd, fmt.Sprintf("%s sidecar: kept its old configuration: %v", cfg.Service, err))
		}
	}
}

// handle applies one message from the control plane.
func (s *Sidecar) handle(msg message) error {
	switch msg.Type {
	case msgIdentity:
		if msg.Identity == nil {
			return errors.New("identity message without an identity")
		}
		return s.SetIdentity(*msg.Identity)
	case msgRules:
		if msg.Rules == nil {
			return errors.New("rules message without rules")
		}
		return s.Apply(*msg.Rules)
	case msgEndpoints:
		s.SetEndpoints(msg.Endpoints)
	case msgError:
		return fmt.Errorf("control plane: %s", msg.Error)
	}
	// Anything else is from a newer control plane; ignoring it is safe.
	return nil
}

// wire is one end of a control connection.
// Client is a connection to a control plane's socket: an admin client
// (Push, Rules, Stats), or, once RunSidecar is called on it, a sidecar's.
type Client struct {
	w *wire
	// mu makes admin calls one at a time, so each reply meets its request;
	// RunSidecar holds it for good.
	mu sync.Mutex
}

// Dial connects to the control plane listening on the unix socket at path.
func Dial(ctx context.Context, path string) (*Client, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("mesh: connect to the control plane: %w", err)
	}
	return NewClient(c), nil
}

// NewClient speaks the control protocol over c, e.g. one end of a
// socketpair whose other end the control plane serves with ServeConn.
func NewClient(c net.Conn) *Client { return &Client{w: newWire(c)} }

// Close closes the connection.
func (c *Client) Close() error { return c.w.c.Close() }

// Push asks the control plane to push r to every sidecar.
func (c *Client) Push(r Rules) error {
	_, err := c.call(message{Type: msgPush, Rules: &r}, msgOK)
	return err
}

// Rules returns the rules the control plane last pushed.
func (c *Client) Rules() (Rules, error) {
	reply, err := c.call(message{Type: msgGetRules}, msgRules)
	if err != nil {
		return Rules{}, err
	}
	if reply.Rules == nil {
		return Rules{}, nil
	}
	return *reply.Rules, nil
}

// Stats returns the control plane's aggregate of every sidecar's requests.
func (c *Client) Stats() ([]StatsRow, error) {
	reply, err := c.call(message{Type: msgStats}, msgStats)
	return reply.Stats, err
}

// Endpoints returns the registry: every service's running instances and
// their sidecars' inbound addresses, as the control plane pushes it.
func (c *Client) Endpoints() (map[string][]Endpoint, error) {
	reply, err := c.call(message{Type: msgGetEndpoints}, msgEndpoints)
	return reply.Endpoints, err
}

func (c *Client) call(req message, want string) (message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.w.send(req); err != nil {
		return message{}, fmt.Errorf("mesh: %s: %w", req.Type, err)
	}
	_ = c.w.c.SetReadDeadline(time.Now().Add(callTimeout))
	defer func() { _ = c.w.c.SetReadDeadline(time.Time{}) }()
	reply, err := c.w.recv()
	switch {
	case err != nil:
		return message{}, fmt.Errorf("mesh: %s: no reply from the control plane: %w", req.Type, err)
	case reply.Type == msgError:
		return message{}, fmt.Errorf("mesh: %s: control plane: %s", req.Type, reply.Error)
	case reply.Type != want:
		return message{}, fmt.Errorf("mesh: %s: control plane answered %q, want %q", req.Type, reply.Type, want)
	}
	return reply, nil
}

type message struct {
	Type      string                `json:"type"`
	Endpoint  *Endpoint             `json:"endpoint,omitempty"`
	Identity  *Identity             `json:"identity,omitempty"`
	Rules     *Rules                `json:"rules,omitempty"`
	Endpoints map[string][]Endpoint `json:"endpoints,omitempty"`
	Event     *event.Event          `json:"event,omitempty"`
	Request   *Request              `json:"request,omitempty"`
	Stats     []StatsRow            `json:"stats,omitempty"`
	Error     string                `json:"error,omitempty"`
}

// Message types.
const (
	msgHello     = "hello"     // sidecar → control plane: Endpoint
	msgIdentity  = "identity"  // control plane → sidecar: Identity
	msgRules     = "rules"     // control plane → sidecar or admin: Rules
	msgEndpoints = "endpoints" // control plane → sidecar or admin: Endpoints
	msgEvent     = "event"     // sidecar → control plane: Event
	msgRequest   = "request"   // sidecar → control plane: Request
	msgPush      = "push"      // admin → control plane: Rules; reply ok or error
	msgGetRules  = "get-rules" // admin → control plane; reply rules
	msgStats     = "stats"     // admin → control plane; reply stats
	// admin → control plane; reply endpoints
	msgGetEndpoints = "get-endpoints"
	msgOK           = "ok"
	msgError        = "error"
)

// Timeouts on the socket: a write that takes this long means the other
// side has stopped reading, and an admin call this long means the control
// plane is stuck (a push waits on each remote sidecar's write at most once).
const (
	writeTimeout = 5 * time.Second
	callTimeout  = time.Minute
)

// remotePeer is a sidecar in another process, reached across the socket.
type remotePeer struct{ w *wire }

func (p remotePeer) Apply(r Rules) error { return p.w.send(message{Type: msgRules, Rules: &r}) }

func (p remotePeer) SetIdentity(id Identity) error {
	return p.w.send(message{Type: msgIdentity, Identity: &id})
}

// SetEndpoints ignores a failed send: the connection is then broken, and
// its reader will take the sidecar out of the registry.
func (p remotePeer) SetEndpoints(eps map[string][]Endpoint) {
	_ = p.w.send(message{Type: msgEndpoints, Endpoints: eps})
}

type wire struct {
	c   net.Conn
	dec *json.Decoder
	mu  sync.Mutex // one writer at a time, so lines never interleave
	enc *json.Encoder
}

func newWire(c net.Conn) *wire {
	return &wire{c: c, dec: json.NewDecoder(c), enc: json.NewEncoder(c)}
}

func (w *wire) send(m message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := w.enc.Encode(m); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// recv reads the next message; only one goroutine may call it.
func (w *wire) recv() (message, error) {
	var m message
	err := w.dec.Decode(&m)
	return m, err
}

// forwarder is the sink of a sidecar in its own process: it queues events
// and request records for the control plane. Emit must not block a request,
// so when the queue is full (the control plane is slow or gone) it drops.
type forwarder struct {
	w        *wire
	ch       chan message
	done     chan struct{}
	finished chan struct{}
	once     sync.Once
}

func newForwarder(w *wire) *forwarder {
	f := &forwarder{w: w, ch: make(chan message, 4096), done: make(chan struct{}), finished: make(chan struct{})}
	go f.run()
	return f
}

func (f *forwarder) Emit(e event.Event) { f.queue(message{Type: msgEvent, Event: &e}) }

func (f *forwarder) request(r Request) { f.queue(message{Type: msgRequest, Request: &r}) }

func (f *forwarder) queue(m message) {
	select {
	case <-f.done:
	case f.ch <- m:
	default:
	}
}

func (f *forwarder) run() {
	defer close(f.finished)
	for {
		select {
		case m := <-f.ch:
			_ = f.w.send(m)
		case <-f.done:
			// Flush what is queued, such as the sidecar's last words.
			for {
				select {
				case m := <-f.ch:
					_ = f.w.send(m)
				default:
					return
				}
			}
		}
	}
}

// stop flushes the queue and ends the forwarder.
func (f *forwarder) stop() {
	f.once.Do(func() { close(f.done) })
	<-f.finished
}
