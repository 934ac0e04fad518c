package mesh

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// SidecarConfig describes one sidecar and the app instance it stands next to.
type SidecarConfig struct {
	// Service and Version name the app, e.g. "reviews" and "v2". Service is
	// also the identity in the sidecar's certificate.
	Service string
	Version string
	// Inbound is where traffic for the app arrives, e.g. "0.0.0.0:15006".
	Inbound string
	// App is the app's own address, reached only through the sidecar,
	// e.g. "127.0.0.1:8080".
	App string
	// Outbound is where the app sends its calls to other services, e.g.
	// "127.0.0.1:15001", naming the destination service in the Host header
	// (curl -H 'Host: reviews' http://127.0.0.1:15001/). Empty: the app
	// calls no one, and no outbound listener is opened.
	Outbound string
	// Metrics is where the sidecar serves GET /metrics in the Prometheus
	// text format, e.g. "10.88.0.3:15090". Empty: no metrics listener.
	Metrics string
	// Advertise is the inbound address other sidecars dial. Empty: the
	// address Inbound is bound to, which must then not be 0.0.0.0 or [::].
	Advertise string
	// Resolve returns the endpoints of a service. Nil: the sidecar uses the
	// endpoints the control plane pushes (SetEndpoints).
	Resolve func(service string) ([]Endpoint, error)
}

// Endpoint is one running instance of a service.
type Endpoint struct {
	Service string `json:"service"`
	Version string `json:"version,omitempty"`
	// Addr is the app's own address, as its sidecar reaches it.
	Addr string `json:"addr"`
	// Sidecar is the address of the instance's sidecar inbound listener,
	// which is where callers send traffic. Empty for an instance outside
	// the mesh, which is then called directly, in plaintext, and only
	// while mTLS is off.
	Sidecar string `json:"sidecar,omitempty"`
	// Metrics is where the instance's sidecar serves /metrics for
	// Prometheus, if it does.
	Metrics string `json:"metrics,omitempty"`
}

// Sidecar is the proxy next to one app instance: every request into or out
// of the app passes through it, which is what lets the mesh add rules,
// retries and encryption without a line of code in the app.
type Sidecar struct {
	cfg  SidecarConfig
	sink event.Sink

	// What the control plane pushes, each swapped whole so that a request
	// in flight always sees one consistent version.
	rules     atomic.Pointer[Rules]
	identity  atomic.Pointer[tlsIdentity]
	endpoints atomic.Pointer[map[string][]Endpoint]

	stats Stats
	// report and leave are set by the control plane that registers the
	// sidecar: where request records go, and how to leave the registry.
	report atomic.Pointer[func(Request)]
	leave  atomic.Pointer[func()]
	// onInbound, when set (by tests, before Start), sees every inbound
	// request, TLS state included, before the sidecar acts on it.
	onInbound func(*http.Request)

	toApp     *httputil.ReverseProxy
	toMesh    *httputil.ReverseProxy
	plain     *http.Transport // hops in plaintext
	app       *http.Transport // inbound to the app
	secure    sync.Map        // service -> *http.Transport: mTLS hops, one pool per destination identity
	serverTLS *tls.Config     // inbound, with the current certificate looked up per handshake
	errLog    *log.Logger

	inLn, outLn, metricsLn    net.Listener
	inSrv, outSrv, metricsSrv *http.Server
	closeOnce                 sync.Once
}

// NewSidecar checks cfg and prepares a sidecar; Start opens its listeners.
// Until Apply is called the rules are the zero Rules: plaintext, everything
// allowed.
func NewSidecar(cfg SidecarConfig, sink event.Sink) (*Sidecar, error) {
	if sink == nil {
		sink = event.Discard
	}
	if err := checkService(cfg.Service); err != nil {
		return nil, fmt.Errorf("mesh: sidecar: %w", err)
	}
	if cfg.Inbound == "" || cfg.App == "" {
		return nil, fmt.Errorf("mesh: %s sidecar: Inbound and App addresses are both needed", cfg.Service)
	}
	s := &Sidecar{cfg: cfg, sink: sink}
	s.rules.Store(&Rules{})
	s.errLog = log.New(logSink{sink, cfg.Service + " sidecar"}, "", 0)
	s.plain, s.app = newTransport(nil), newTransport(nil)
	s.serverTLS = &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			id := s.identity.Load()
			if id == nil {
				return nil, errors.New("no certificate from the control plane yet")
			}
			return id.server, nil
		},
	}
	s.toApp = &httputil.ReverseProxy{
		Rewrite:      s.rewriteToApp,
		Transport:    s.app,
		ErrorHandler: s.appError,
		ErrorLog:     s.errLog,
		BufferPool:   copyBuffers,
	}
	s.toMesh = &httputil.ReverseProxy{
		Rewrite:      rewriteToMesh,
		Transport:    outboundTransport{s},
		ErrorHandler: s.meshError,
		ErrorLog:     s.errLog,
		BufferPool:   copyBuffers,
	}
	return s, nil
}

// Start opens the inbound (and, if configured, outbound) listener and serves
// them in the background until Close.
func (s *Sidecar) Start() error {
	if err := s.listen(); err != nil {
		return err
	}
	s.serve()
	return nil
}

// listen binds the listeners without serving yet, so that RunSidecar can
// announce the real addresses and wait for its first rules before it
// answers anyone.
func (s *Sidecar) listen() error {
	var err error
	s.inLn, err = s.listenStep(s.cfg.Inbound, func(bound string) (string, string) {
		host, port, _ := net.SplitHostPort(bound)
		return fmt.Sprintf("listen tcp %s (%s inbound: traffic for the app at %s)", bound, s.cfg.Service, s.cfg.App),
			fmt.Sprintf("socat TCP-LISTEN:%s,bind=%s,reuseaddr,fork TCP:%s", port, host, s.cfg.App)
	})
	if err != nil {
		return fmt.Errorf("mesh: %s sidecar: inbound listener: %w", s.cfg.Service, err)
	}
	if s.cfg.Outbound != "" {
		s.outLn, err = s.listenStep(s.cfg.Outbound, func(bound string) (string, string) {
			return fmt.Sprintf("listen tcp %s (%s outbound: the app's calls to other services)", bound, s.cfg.Service),
				fmt.Sprintf("curl -H 'Host: SERVICE' http://%s/PATH", bound)
		})
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("mesh: %s sidecar: outbound listener: %w", s.cfg.Service, err)
		}
	}
	if s.cfg.Metrics != "" {
		s.metricsLn, err = s.listenStep(s.cfg.Metrics, func(bound string) (string, string) {
			return fmt.Sprintf("listen tcp %s (%s metrics: GET /metrics in the Prometheus text format)", bound, s.cfg.Service),
				fmt.Sprintf("curl http://%s/metrics", bound)
		})
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("mesh: %s sidecar: metrics listener: %w", s.cfg.Service, err)
		}
	}
	return nil
}

// closeListeners closes what listen opened, for a listen that failed half-way.
func (s *Sidecar) closeListeners() {
	for _, ln := range []*net.Listener{&s.inLn, &s.outLn, &s.metricsLn} {
		if *ln != nil {
			_ = (*ln).Close()
			*ln = nil
		}
	}
}

// listenStep listens on addr and emits the step afterwards, so that it can
// name the port the kernel chose when addr asks for port 0.
func (s *Sidecar) listenStep(addr string, describe func(bound string) (action, shell string)) (net.Listener, error) {
	start := time.Now()
	ln, err := net.Listen("tcp", addr)
	bound := addr
	if err == nil {
		bound = ln.Addr().String()
	}
	e := event.Event{Time: start, Kind: event.KindStep, Took: time.Since(start)}
	e.Action, e.Shell = describe(bound)
	if err != nil {
		e.Err = err.Error()
	}
	s.sink.Emit(e)
	return ln, err
}

func (s *Sidecar) serve() {
	s.inSrv = s.newServer(http.HandlerFunc(s.serveInbound))
	go s.run(s.inSrv, newInboundListener(s.inLn, s))
	if s.outLn != nil {
		s.outSrv = s.newServer(http.HandlerFunc(s.serveOutbound))
		go s.run(s.outSrv, s.outLn)
	}
	if s.metricsLn != nil {
		s.metricsSrv = s.newServer(http.HandlerFunc(s.serveMetrics))
		go s.run(s.metricsSrv, s.metricsLn)
	}
}

func (s *Sidecar) newServer(h http.Handler) *http.Server {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		// The server's complaints become events rather than stderr lines,
		// which would tear through the TUI.
		ErrorLog: s.errLog,
	}
	// HTTP/1.1 only: every hop stays readable with curl -v.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	return srv
}

func (s *Sidecar) run(srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.sink.Emit(event.Event{Time: time.Now(), Kind: event.KindStep,
			Action: fmt.Sprintf("%s sidecar: serve %s", s.cfg.Service, ln.Addr()), Err: err.Error()})
	}
}

// Close stops both listeners, drops open connections, and leaves the control
// plane's registry so that callers stop picking this instance.
func (s *Sidecar) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if leave := s.leave.Swap(nil); leave != nil {
			(*leave)()
		}
		for _, srv := range []*http.Server{s.inSrv, s.outSrv, s.metricsSrv} {
			if srv != nil {
				err = errors.Join(err, srv.Close())
			}
		}
		if s.inSrv == nil { // listening, never served
			for _, ln := range []net.Listener{s.inLn, s.outLn, s.metricsLn} {
				if ln != nil {
					err = errors.Join(err, ln.Close())
				}
			}
		}
		s.plain.CloseIdleConnections()
		s.app.CloseIdleConnections()
		s.secure.Range(func(_, t any) bool { t.(*http.Transport).CloseIdleConnections(); return true })
		event.Narrate(s.sink, fmt.Sprintf("%s %s sidecar stopped", s.cfg.Service, s.cfg.Version))
	})
	if err != nil {
		return fmt.Errorf("mesh: close %s sidecar: %w", s.cfg.Service, err)
	}
	return nil
}

// Apply swaps in new rules; requests already in flight finish under the old
// ones. Invalid rules are refused and the old ones stay. Rules with mTLS on
// need an identity (SetIdentity) to work: without one, every hop fails.
func (s *Sidecar) Apply(r Rules) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("mesh: %s sidecar: %w", s.cfg.Service, err)
	}
	r = r.clone()
	old := s.rules.Swap(&r)
	if old.MTLS == r.MTLS {
		return nil
	}
	// Pooled connections were made in the old mode; drop the idle ones so
	// that the next hop is made in the new mode. (Inbound checks the mode
	// per request too, for connections that are busy right now.)
	if r.MTLS {
		s.plain.CloseIdleConnections()
		event.Narrate(s.sink, fmt.Sprintf("%s sidecar: mTLS on — inbound now accepts only TLS connections whose client certificate the mesh CA signed; calls to other sidecars use TLS 1.3 with this sidecar's certificate", s.cfg.Service))
	} else {
		s.secure.Range(func(_, t any) bool { t.(*http.Transport).CloseIdleConnections(); return true })
		event.Narrate(s.sink, fmt.Sprintf("%s sidecar: mTLS off — hops between sidecars are plaintext again", s.cfg.Service))
	}
	return nil
}

// SetIdentity installs the certificate the sidecar presents and the root it
// trusts. New connections use it at once; open ones keep the old one.
func (s *Sidecar) SetIdentity(in Identity) error {
	want := SPIFFEID(s.cfg.Service)
	return event.Step(s.sink,
		fmt.Sprintf("%s sidecar: load certificate %s (valid until %s)", s.cfg.Service, in.SPIFFEID, in.NotAfter.Format(time.TimeOnly)),
		fmt.Sprintf("openssl x509 -noout -ext subjectAltName -enddate -in %s.crt", s.cfg.Service),
		func() error {
			if in.SPIFFEID != want {
				return fmt.Errorf("mesh: %s sidecar: refusing the identity of %s (want %s)", s.cfg.Service, in.SPIFFEID, want)
			}
			id, err := parseIdentity(in)
			if err != nil {
				return fmt.Errorf("mesh: %s sidecar: %w", s.cfg.Service, err)
			}
			s.identity.Store(id)
			return nil
		})
}

// SetEndpoints replaces the endpoint table used when SidecarConfig.Resolve is
// nil: service name to its running instances.
func (s *Sidecar) SetEndpoints(eps map[string][]Endpoint) {
	s.endpoints.Store(&eps)
}

// Endpoint is this sidecar's own entry for the registry. It needs Start
// first when Advertise is empty, since the inbound port may be chosen then.
func (s *Sidecar) Endpoint() (Endpoint, error) {
	addr := s.cfg.Advertise
	if addr == "" {
		if s.inLn == nil {
			return Endpoint{}, fmt.Errorf("mesh: %s sidecar: not started, so its inbound address is not known yet", s.cfg.Service)
		}
		addr = s.inLn.Addr().String()
		if ap, ok := s.inLn.Addr().(*net.TCPAddr); ok && ap.IP.IsUnspecified() {
			return Endpoint{}, fmt.Errorf("mesh: %s sidecar: inbound listens on %s, which other sidecars cannot dial; set Advertise", s.cfg.Service, addr)
		}
	}
	return Endpoint{Service: s.cfg.Service, Version: s.cfg.Version, Addr: s.cfg.App, Sidecar: addr, Metrics: s.MetricsAddr()}, nil
}

// InboundAddr is the address the inbound listener is bound to ("" before Start).
func (s *Sidecar) InboundAddr() string { return addrOf(s.inLn) }

// OutboundAddr is the address the outbound listener is bound to ("" before
// Start or without one).
func (s *Sidecar) OutboundAddr() string { return addrOf(s.outLn) }

// Stats is what this sidecar has seen, per direction and service.
func (s *Sidecar) Stats() []StatsRow { return s.stats.Snapshot() }

// Rules returns the rules in force.
func (s *Sidecar) Rules() Rules { return s.rules.Load().clone() }

// record books one proxied request: stats, the learner's event, and the
// control plane's copy.
func (s *Sidecar) record(r Request) {
	s.stats.Add(r)
	s.sink.Emit(r.Event())
	if f := s.report.Load(); f != nil {
		(*f)(r)
	}
}

func (s *Sidecar) resolve(service string) ([]Endpoint, error) {
	if s.cfg.Resolve != nil {
		return s.cfg.Resolve(service)
	}
	if m := s.endpoints.Load(); m != nil {
		return (*m)[service], nil
	}
	return nil, nil
}

// secureTransport returns the mTLS pool for service's sidecars. One pool per
// destination service, because a pooled connection was verified for one
// SPIFFE ID and must never be reused to reach another.
func (s *Sidecar) secureTransport(service string) *http.Transport {
	if t, ok := s.secure.Load(service); ok {
		return t.(*http.Transport)
	}
	t := newTransport(clientConfig(s.identity.Load, service))
	if prev, loaded := s.secure.LoadOrStore(service, t); loaded {
		return prev.(*http.Transport)
	}
	return t
}

func newTransport(tlsConf *tls.Config) *http.Transport {
	t := &http.Transport{
		// Never the environment's HTTP_PROXY: the sidecar is the proxy.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		// A proxy passes bodies through as they are; asking for gzip on the
		// app's behalf would change what the app receives.
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
	}
	t.Protocols = new(http.Protocols)
	t.Protocols.SetHTTP1(true)
	return t
}

// copyBuffers lends the proxies the 32 KiB buffers they copy bodies
// through; without it every request through a sidecar allocates two.
var copyBuffers = &bufferPool{}

type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return *p
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.pool.Put(&buf) }

func addrOf(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	return ln.Addr().String()
}

// logSink turns the standard library's log lines (http.Server, ReverseProxy)
// into step events with the line as the error.
type logSink struct {
	sink event.Sink
	who  string
}

func (l logSink) Write(p []byte) (int, error) {
	l.sink.Emit(event.Event{Time: time.Now(), Kind: event.KindStep, Action: l.who,
		Err: strings.TrimSpace(string(p))})
	return len(p), nil
}
