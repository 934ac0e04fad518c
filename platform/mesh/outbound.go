package mesh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"
)

// The outbound side: the app's calls to other services arrive here with the
// service in the Host header. The sidecar picks an endpoint by the split,
// bounds each try by the timeout, retries what may be retried, and speaks
// plaintext or mutual TLS to the chosen endpoint's sidecar.

var (
	errNoEndpoints = errors.New("no healthy upstream")
	errTryTimeout  = errors.New("per-try timeout")
)

// Retry back-off: each wait is random in [0, base<<n), capped, as Envoy
// does, so that many callers retrying at once do not all hit at the same moment.
const (
	retryBase    = 25 * time.Millisecond
	retryMaxWait = 250 * time.Millisecond
	// maxRetryBody is the largest request body kept in memory for replay;
	// a bigger one is streamed and its request tried only once.
	maxRetryBody = 1 << 20
)

type recordKey struct{}

func (s *Sidecar) serveOutbound(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	service := serviceFromHost(r.Host)
	rec := &Request{
		Time: start, Direction: Outbound, Source: s.cfg.Service, Destination: service,
		Method: r.Method, Path: r.URL.EscapedPath(), Listener: s.OutboundAddr(),
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		rec.Status, rec.Latency = sw.code(), time.Since(start)
		s.record(*rec)
	}()
	startSpan(r.Header, rec)
	if r.Method == http.MethodConnect {
		// An app that wants TLS to another service would tunnel it through
		// here, and the mesh could then neither read nor route the traffic.
		// Encryption between services is the mesh's job: the mtls rule.
		rec.Err = "CONNECT refused"
		http.Error(sw, fmt.Sprintf("kcna-lab mesh: %s sidecar proxies plain HTTP; for encryption between services, turn on the mesh's mtls rule", s.cfg.Service), http.StatusMethodNotAllowed)
		return
	}
	if err := checkService(service); err != nil {
		rec.Err = err.Error()
		http.Error(sw, fmt.Sprintf("kcna-lab mesh: %s sidecar: put the destination service in the Host header: %v", s.cfg.Service, err), http.StatusBadRequest)
		return
	}
	// The transport fills in the record (endpoint, version, tries); it runs
	// on this goroutine, inside ServeHTTP.
	s.toMesh.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), recordKey{}, rec)))
}

// rewriteToMesh keeps the service name as the Host header, which tells the
// destination sidecar (and its app) what was asked for; the transport fills
// in the address of the endpoint it picks for each try.
func rewriteToMesh(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = pr.In.Host
	pr.Out.Host = serviceFromHost(pr.In.Host)
}

func (s *Sidecar) meshError(w http.ResponseWriter, r *http.Request, err error) {
	if rec, ok := r.Context().Value(recordKey{}).(*Request); ok {
		rec.Err = err.Error()
	}
	if r.Context().Err() != nil {
		return // the app hung up; there is no one to answer
	}
	status := http.StatusBadGateway
	switch {
	case errors.Is(err, errNoEndpoints):
		status = http.StatusServiceUnavailable
	case errors.Is(err, errTryTimeout):
		status = http.StatusGatewayTimeout
	}
	http.Error(w, fmt.Sprintf("kcna-lab mesh: %s sidecar: %v", s.cfg.Service, err), status)
}

// outboundTransport is where the mesh's traffic rules live.
type outboundTransport struct{ s *Sidecar }

func (t outboundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := t.s
	rules := s.rules.Load()
	service := req.Host
	sr := rules.For(service)
	rec, _ := req.Context().Value(recordKey{}).(*Request)
	if rec == nil {
		rec = new(Request)
	}
	rec.MTLS = rules.MTLS

	tries := 1
	var body []byte
	if sr.Retries > 0 && idempotent(req.Method) {
		var ok bool
		var err error
		if body, ok, err = bufferBody(req); err != nil {
			return nil, err
		}
		if ok {
			tries += sr.Retries
		}
	}
	for try := 1; ; try++ {
		ep, err := s.pick(service, sr)
		if err != nil {
			return nil, err
		}
		rec.Version, rec.Endpoint, rec.Attempts = ep.Version, ep.target(), try
		resp, err := s.send(req, ep, rules.MTLS, time.Duration(sr.Timeout), body)
		if try == tries || req.Context().Err() != nil || !retryable(resp, err) {
			return resp, err
		}
		var why string
		if err != nil {
			why = err.Error()
		} else {
			why = resp.Status
			discard(resp)
		}
		s.sink.Emit(retryEvent(s.cfg.Service, service, req, try, tries, ep, why))
		wait := time.Duration(rand.Int64N(int64(min(retryBase<<(try-1), retryMaxWait))))
		select {
		case <-time.After(wait):
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
}

// pick draws a version by the split's weights, then an endpoint of that
// version at random.
func (s *Sidecar) pick(service string, sr ServiceRules) (Endpoint, error) {
	eps, err := s.resolve(service)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%w: resolve %s: %v", errNoEndpoints, service, err) //nolint:errorlint // errNoEndpoints is what callers match; the cause is text
	}
	if len(eps) == 0 {
		return Endpoint{}, fmt.Errorf("%w: service %s has no endpoints", errNoEndpoints, service)
	}
	if len(sr.Split) > 0 {
		has := func(v string) bool {
			for _, ep := range eps {
				if ep.Version == v {
					return true
				}
			}
			return false
		}
		total := 0
		for v, w := range sr.Split {
			if has(v) {
				total += w
			}
		}
		if total == 0 {
			return Endpoint{}, fmt.Errorf("%w: no endpoint of %s runs a version the split names", errNoEndpoints, service)
		}
		// Map order varies, but any fixed order splits [0, total) into
		// slices as wide as the weights, so the odds are right.
		n, version := rand.IntN(total), ""
		for v, w := range sr.Split {
			if !has(v) {
				continue
			}
			if n < w {
				version = v
				break
			}
			n -= w
		}
		var of []Endpoint
		for _, ep := range eps {
			if ep.Version == version {
				of = append(of, ep)
			}
		}
		eps = of
	}
	return eps[rand.IntN(len(eps))], nil
}

// send makes one try against ep.
// body, when not nil, is sent instead of req.Body: a retried request's
// body, kept so that every try can send it whole.
func (s *Sidecar) send(req *http.Request, ep Endpoint, mtls bool, timeout time.Duration, body []byte) (*http.Response, error) {
	var rt http.RoundTripper = s.plain
	scheme := "http"
	switch {
	case mtls && ep.Sidecar == "":
		return nil, fmt.Errorf("endpoint %s (%s) has no sidecar, so it cannot speak mTLS", ep.Addr, ep.Version)
	case mtls:
		rt, scheme = s.secureTransport(ep.Service), "https"
	}
	ctx, cancel := req.Context(), context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	out := req.WithContext(ctx)
	u := *req.URL
	u.Scheme, u.Host = scheme, ep.target()
	out.URL = &u
	switch {
	case body == nil:
	case len(body) == 0:
		out.Body, out.ContentLength = http.NoBody, 0
	default:
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	resp, err := rt.RoundTrip(out)
	if err != nil {
		cancel()
		if timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) && req.Context().Err() == nil {
			return nil, fmt.Errorf("%w: %s %s did not answer within %v", errTryTimeout, ep.Version, ep.target(), timeout)
		}
		return nil, fmt.Errorf("%s %s: %w", ep.Version, ep.target(), err)
	}
	// The timeout covers the body too, so the context lives until the
	// proxy has copied it and closes it.
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

func (ep Endpoint) target() string {
	if ep.Sidecar != "" {
		return ep.Sidecar
	}
	return ep.Addr
}

// retryable: a 5xx answer, or no answer at all (refused, reset, timed out).
func retryable(resp *http.Response, err error) bool {
	if err != nil {
		return !errors.Is(err, errNoEndpoints)
	}
	return resp.StatusCode >= 500
}

// idempotent methods may be sent twice without changing the outcome (RFC 9110, 9.2.2).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// bufferBody reads the request body into memory so that a retry can send it
// again. ok is false when it is too big to keep; the request then goes
// once, with what was read put back in front of the rest.
func bufferBody(req *http.Request) (body []byte, ok bool, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, true, nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, maxRetryBody+1))
	if err != nil {
		return nil, false, fmt.Errorf("read request body: %w", err)
	}
	if len(b) > maxRetryBody {
		req.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), req.Body), req.Body}
		return nil, false, nil
	}
	return b, true, nil
}

func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// serviceFromHost reads "reviews" from "reviews", "reviews:9080" or "REVIEWS".
func serviceFromHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(host)
}
