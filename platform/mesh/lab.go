package mesh

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kcna-lab/kcna-lab/sandbox"
)

// The mesh in real sandboxes: a lab is a control plane in this process
// and a few pods, each a sandbox running a small web app with a sidecar
// (kcna-lab itself) inside the sandbox's network namespace. This file holds
// what every system can compile; the pods themselves are in pod_linux.go
// and lab_linux.go.

// Ports inside every pod's network namespace, as Istio numbers them: the
// app listens on loopback only, so nothing but its own sidecar reaches it.
const (
	AppPort      = 8080
	InboundPort  = 15006
	OutboundPort = 15001
)

// OutboundAddr is the sidecar's outbound listener as the app in a pod
// sees it, e.g. for wget -qO- --header 'Host: reviews' http://127.0.0.1:15001/.
func OutboundAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(OutboundPort)) }

// DefaultLab is the name `kcna-lab mesh` commands use without --name.
const DefaultLab = "mesh"

// ControlSocket is the unix socket of the mesh called name, under the
// sandboxes' state directory, where `kcna-lab mesh` commands find it.
func ControlSocket(name string) string {
	return filepath.Join(sandbox.StateDir(), "mesh", name+".sock")
}

// Running lists the names of the meshes whose control sockets exist; the
// socket of a mesh whose process died may still be there until the next
// `kcna-lab clean`, so callers dial to be sure.
func Running() []string {
	socks, _ := filepath.Glob(ControlSocket("*"))
	names := make([]string, 0, len(socks))
	for _, s := range socks {
		names = append(names, strings.TrimSuffix(filepath.Base(s), ".sock"))
	}
	slices.Sort(names)
	return names
}

// Service is one instance in a lab: a service name and the version its
// app says it is.
type Service struct {
	Service, Version string
}

// LabServices is the lab's app, a tiny cousin of Istio's Bookinfo sample:
// a frontend that calls reviews, which runs in two versions so that a
// split between them can be seen.
func LabServices() []Service {
	return []Service{{"reviews", "v1"}, {"reviews", "v2"}, {"frontend", "v1"}}
}

// PodName is the sandbox name of a service instance in the lab called lab:
// "mesh-reviews-v1".
func PodName(lab string, s Service) string {
	if s.Service == "frontend" {
		return lab + "-" + s.Service
	}
	return lab + "-" + s.Service + "-" + s.Version
}

// Answer is what one HTTP request got: the status (0 when no answer came)
// and the body, or what went wrong.
type Answer struct {
	Status int    `json:"status"`
	Body   string `json:"body,omitempty"`
	Err    string `json:"error,omitempty"`
}

// Count is how many requests got one answer.
type Count struct {
	Answer
	N int `json:"n"`
}

// Tally counts equal answers, most frequent first.
func Tally(answers []Answer) []Count {
	var out []Count
	for _, a := range answers {
		i := slices.IndexFunc(out, func(c Count) bool { return c.Answer == a })
		if i < 0 {
			out = append(out, Count{Answer: a})
			i = len(out) - 1
		}
		out[i].N++
	}
	slices.SortStableFunc(out, func(a, b Count) int { return cmp.Compare(b.N, a.N) })
	return out
}

// String is the answer as a learner reads it: "200 reviews v1".
func (a Answer) String() string {
	switch {
	case a.Status == 0:
		return "no answer: " + a.Err
	case a.Body != "":
		return strconv.Itoa(a.Status) + " " + a.Body
	}
	// wget prints no body for an error status, only the status again.
	return strconv.Itoa(a.Status) + " " + http.StatusText(a.Status)
}

// fetchScript is a shell loop that sends n GETs with busybox wget and
// marks each answer, so that one exec into a sandbox sends them all.
// wget -S prints the status line and headers to stderr, indented; timeout
// bounds each try (busybox's own wget -T crashes in some builds).
// Each of extra ("Name: value") is sent as one more header.
func fetchScript(url, host string, n int, extra ...string) string {
	header := ""
	if host != "" {
		extra = append([]string{"Host: " + host}, extra...)
	}
	for _, h := range extra {
		header += "--header " + shellQuote(h) + " "
	}
	return fmt.Sprintf(`i=0; while [ $i -lt %d ]; do i=$((i+1)); echo %s; timeout 10 wget -S -qO- %s%s 2>&1; echo; echo %s; done`,
		n, beginMark, header, shellQuote(url), endMark)
}

const (
	beginMark = "@@kcna-lab-begin"
	endMark   = "@@kcna-lab-end"
)

var statusLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s*HTTP/\d(?:\.\d)? (\d{3})`) })

// parseFetch reads fetchScript's output back into answers.
func parseFetch(out string) []Answer {
	var answers []Answer
	var cur *Answer
	var body, errs []string
	for _, line := range strings.Split(out, "\n") {
		switch {
		case line == beginMark:
			cur, body, errs = &Answer{}, nil, nil
		case line == endMark && cur != nil:
			cur.Body = strings.TrimSpace(strings.Join(body, "\n"))
			cur.Err = strings.Join(errs, "; ")
			if cur.Status == 0 && cur.Err == "" {
				cur.Err = "no answer within 10s"
			}
			answers = append(answers, *cur)
			cur = nil
		case cur == nil:
		case statusLine().MatchString(line):
			if cur.Status == 0 {
				cur.Status, _ = strconv.Atoi(statusLine().FindStringSubmatch(line)[1])
			}
		case strings.HasPrefix(line, "  "): // another response header
		case strings.HasPrefix(line, "wget: "):
			errs = append(errs, strings.TrimPrefix(line, "wget: "))
		case strings.TrimSpace(line) != "":
			body = append(body, line)
		}
	}
	return answers
}

// PlaintextGet sends one plain HTTP GET from this process to addr, with
// host as the Host header, and reads the answer: it is how a client
// outside the mesh (or one that skips its sidecar) talks to a sidecar's
// inbound port. err is set when no HTTP answer came at all.
func PlaintextGet(ctx context.Context, addr, host, path string) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return Answer{}, err
	}
	req.Host = host
	// No proxy from the environment and no pooled connection: one fresh
	// TCP connection, as a stranger's would be.
	t := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer t.CloseIdleConnections()
	resp, err := t.RoundTrip(req)
	if err != nil {
		return Answer{Err: err.Error()}, fmt.Errorf("GET http://%s%s: %w", addr, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return Answer{Status: resp.StatusCode, Body: strings.TrimSpace(string(b))}, nil
}
