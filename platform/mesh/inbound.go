package mesh

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// The inbound side: traffic for the app arrives here from other sidecars (or
// from outside the mesh), is checked against the rules, and is passed to the
// app on its private address.

// xfcc is the header that tells the app who called, as Envoy names it.
const xfcc = "X-Forwarded-Client-Cert"

func (s *Sidecar) serveInbound(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rules := s.rules.Load()
	rec := Request{
		Time: start, Direction: Inbound, Source: r.RemoteAddr, Destination: s.cfg.Service,
		Method: r.Method, Path: r.URL.EscapedPath(), Endpoint: s.cfg.App, MTLS: r.TLS != nil,
	}
	sw := &statusWriter{ResponseWriter: w}
	// Deferred, so that a request the proxy aborts half-way (it panics with
	// http.ErrAbortHandler) is still booked.
	defer func() {
		rec.Status, rec.Latency = sw.code(), time.Since(start)
		s.record(rec)
	}()
	if s.onInbound != nil {
		s.onInbound(r)
	}
	startSpan(r.Header, &rec)

	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		// The handshake already verified the chain and the trust domain.
		rec.Source, _ = spiffeIDOf(r.TLS.PeerCertificates[0])
	}
	if rules.MTLS && r.TLS == nil {
		// A keep-alive connection accepted before mTLS was switched on: new
		// connections cannot get here in plaintext (see inboundListener).
		rec.Err = "plaintext refused: mTLS is on"
		w.Header().Set("Connection", "close")
		http.Error(sw, fmt.Sprintf("kcna-lab mesh: %s sidecar refuses plaintext: mTLS is on", s.cfg.Service), http.StatusForbidden)
		return
	}

	clean := cleanPath(r.URL.Path)
	if ok, rule := rules.For(s.cfg.Service).Permits(clean); !ok {
		rec.Rule = rule
		http.Error(sw, fmt.Sprintf("kcna-lab mesh: %s sidecar: %s %s refused by rule %q", s.cfg.Service, r.Method, clean, rule), http.StatusForbidden)
		return
	}
	u := *r.URL
	u.Path, u.RawPath = clean, ""
	out := r.WithContext(r.Context())
	out.URL = &u
	s.toApp.ServeHTTP(sw, out)
}

// rewriteToApp points the request at the app. The Host header stays the
// service name, as the app would see it behind a Kubernetes Service.
func (s *Sidecar) rewriteToApp(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = s.cfg.App
	pr.SetXForwarded()
	// Only this sidecar may say who the caller is; a header claiming it
	// that arrived from outside is a forgery.
	pr.Out.Header.Del(xfcc)
	if tlsState := pr.In.TLS; tlsState != nil && len(tlsState.PeerCertificates) > 0 {
		peer := tlsState.PeerCertificates[0]
		if id, err := spiffeIDOf(peer); err == nil {
			pr.Out.Header.Set(xfcc, clientCertHeader(SPIFFEID(s.cfg.Service), peer, id))
		}
	}
}

func (s *Sidecar) appError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the caller left; there is no one to answer
	}
	http.Error(w, fmt.Sprintf("kcna-lab mesh: %s sidecar: the app at %s did not answer: %v", s.cfg.Service, s.cfg.App, err), http.StatusBadGateway)
}

// inboundListener hands the HTTP server its connections. With mTLS off they
// pass straight through. With mTLS on, each one must first complete a TLS
// handshake with a client certificate from the mesh CA; one that does not is
// refused here, with an event saying why, and the app never hears of it.
// Handshakes run on their own goroutines so that one slow or silent client
// cannot hold up everyone else's connections.
type inboundListener struct {
	net.Listener
	s     *Sidecar
	conns chan net.Conn
	errs  chan error
	done  chan struct{}
	once  sync.Once
}

// handshakeTimeout bounds a TLS handshake on inbound.
const handshakeTimeout = 10 * time.Second

func newInboundListener(ln net.Listener, s *Sidecar) *inboundListener {
	l := &inboundListener{Listener: ln, s: s, conns: make(chan net.Conn), errs: make(chan error), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *inboundListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *inboundListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *inboundListener) acceptLoop() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// The server decides: it retries temporary errors (too many
			// open files) after a pause, and stops on the others.
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !l.s.rules.Load().MTLS {
			l.deliver(c)
			continue
		}
		go l.handshake(c)
	}
}

func (l *inboundListener) deliver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *inboundListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.s.serverTLS)
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	err := tc.Handshake()
	_ = c.SetDeadline(time.Time{})
	if err != nil {
		l.s.refuse(c, err)
		return
	}
	// The server sees a *tls.Conn whose handshake is done, and fills in
	// Request.TLS from it.
	l.deliver(tc)
}

// refuse hangs up on a connection that failed the mTLS handshake.
func (s *Sidecar) refuse(c net.Conn, err error) {
	what := "connection"
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) && rh.Conn != nil {
		// The first bytes were not a TLS handshake: most likely a plain HTTP
		// request. Answer in plain HTTP, as Go's own HTTPS server does, so
		// that curl shows the reason instead of an empty reply.
		what = "plaintext connection"
		_, _ = io.WriteString(rh.Conn, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n"+
			"kcna-lab mesh: "+s.cfg.Service+" sidecar requires mutual TLS; plaintext refused\n")
	}
	_ = c.Close()
	s.sink.Emit(event.Event{
		Time:   time.Now(),
		Kind:   event.KindStep,
		Action: fmt.Sprintf("%s sidecar: refuse %s from %s (mTLS is on)", s.cfg.Service, what, c.RemoteAddr()),
		Shell:  fmt.Sprintf("openssl s_client -connect %s -cert CALLER.crt -key CALLER.key -CAfile ca.crt", c.LocalAddr()),
		Err:    err.Error(),
	})
}

// statusWriter remembers the status the handler sent, for the request record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (which ReverseProxy uses to flush)
// reach the real writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// code is the status sent, or 0 if nothing was (the handler was aborted).
func (w *statusWriter) code() int { return w.status }
