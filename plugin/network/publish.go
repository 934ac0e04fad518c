package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// dialTimeout bounds how long a client waits when the sandbox does not
// answer (nothing listening gives a refusal at once; a dead address would
// otherwise hang for the kernel's SYN retries, about two minutes).
const dialTimeout = 5 * time.Second

// Publish forwards TCP connections to 127.0.0.1:hostPort on to target (a
// sandbox's IP and port), copying both ways until each side has finished
// sending; a half-close on one side (shutdown(SHUT_WR)) is passed on to
// the other, so request/response protocols that close their sending side
// first still get their answer. It binds to 127.0.0.1 only: nothing
// outside this machine can reach a sandbox. Close stops listening and
// cuts the connections in flight.
func Publish(hostPort int, target netip.AddrPort, sink event.Sink) (io.Closer, error) {
	if sink == nil {
		sink = event.Discard
	}
	if hostPort < 1 || hostPort > 65535 {
		return nil, fmt.Errorf("publish: host port %d is out of range; want 1 to 65535", hostPort)
	}
	if !target.IsValid() || target.Port() == 0 {
		return nil, fmt.Errorf("publish 127.0.0.1:%d: target %q is not an address and port", hostPort, target)
	}
	shell := fmt.Sprintf("socat TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork TCP:%s", hostPort, target)
	ln, err := listenPublished(hostPort, target.String(), int(target.Port()), shell, sink)
	if err != nil {
		return nil, err
	}
	return serveProxy(ln, target), nil
}

// listenPublished listens on 127.0.0.1:hostPort for a proxy to target,
// with a clear error where the port is taken or privileged.
func listenPublished(hostPort int, target string, targetPort int, shell string, sink event.Sink) (net.Listener, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(hostPort))
	var ln net.Listener
	err := event.Step(sink,
		fmt.Sprintf("listen(tcp, %s) forwarding to %s", addr, target),
		shell,
		func() (err error) { ln, err = net.Listen("tcp4", addr); return err })
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("publish %d: port %d on 127.0.0.1 is already in use (by another program or another --publish); choose another host port", hostPort, hostPort)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("publish %d: ports below 1024 need root; choose 1024 or above", hostPort)
	case err != nil:
		return nil, fmt.Errorf("publish %d: %w", hostPort, err)
	}
	event.Narrate(sink, fmt.Sprintf("Port %d on 127.0.0.1 now leads to %s. kcna-lab does this with a userspace proxy: it accepts each connection and opens a second one to the sandbox. Docker publishes a port with an iptables DNAT rule in the nat table (its DOCKER chain rewrites the destination HOST:%d to CONTAINER:%d before routing) and also runs docker-proxy, a userspace proxy like this one, for connections to the host's own loopback address. kcna-lab leaves the host's firewall alone.", hostPort, target, hostPort, targetPort))
	return ln, nil
}

// serveProxy forwards what ln accepts to target, dialling from the
// network namespace this process is in: the listener may belong to
// another (a rootless holder serves the host's loopback this way).
func serveProxy(ln net.Listener, target netip.AddrPort) io.Closer {
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p
}

// proxy is one published port.
type proxy struct {
	ln     net.Listener
	target netip.AddrPort

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// serve accepts until Close.
func (p *proxy) serve() {
	defer p.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, as net/http does.
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		if !p.track(c) {
			_ = c.Close()
			return
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// track remembers a connection so Close can cut it; false once closed.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		_ = c.Close()
	}
}

// forward joins one client to a fresh connection to the target.
func (p *proxy) forward(client net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.target.String(), dialTimeout)
	if err != nil {
		p.untrack(client)
		return
	}
	if !p.track(up) {
		p.untrack(client, up)
		return
	}
	errc := make(chan error, 2)
	go func() { errc <- pipe(up, client) }()
	go func() { errc <- pipe(client, up) }()
	for range 2 {
		if err := <-errc; err != nil {
			// A reset or a cut on one side ends both directions: closing
			// unblocks the other copy.
			_ = client.Close()
			_ = up.Close()
		}
	}
	p.untrack(client, up)
}

// pipe copies src to dst until src has no more to send, then half-closes
// dst so its reader sees end of file while it can still send a reply the
// other way.
func pipe(dst, src net.Conn) error {
	if _, err := io.Copy(dst, src); err != nil {
		return err
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close stops listening, cuts every connection and waits for the
// forwarding goroutines to end.
func (p *proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	err := p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}
