// Package classweb is the instructor's dashboard on the projector (issue
// "The instructor's dashboard"; it serves no lesson but the teaching of
// them all): a read-only page with the class table and the class per
// lesson, live, and the same as JSON at /api/class and /api/lessons.
//
// The page is the instructor's, never the students': off loopback every
// request needs the instructor's token (given once as ?token=, kept in a
// cookie, or sent as "Authorization: Bearer"). On loopback no token is
// asked: the students' labs have network namespaces of their own, so the
// server's loopback is not theirs to reach.
package classweb

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"

	"github.com/kcna-lab/kcna-lab/workshop/roster"
)

//go:embed page.html
var page []byte

//go:embed app.js
var appJS []byte

// The page's server is for one instructor and a projector: its bounds
// keep a room's network from tying up the server's descriptors.
const (
	// MaxConns is the connections served at once; more wait to be
	// accepted.
	MaxConns = 64
	// MaxStreams is the live pages (server-sent event streams) at once;
	// one more is refused with 503.
	MaxStreams = 16
)

// Listen listens on addr for the page, at most MaxConns connections
// served at once, and reports whether the address it got is loopback
// only: decided from the socket's own address, not from a name such as
// "localhost", which resolves as the system's resolver says.
func Listen(addr string) (net.Listener, bool, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, false, fmt.Errorf("--http %q: want HOST:PORT, e.g. 127.0.0.1:8088: %w", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, false, fmt.Errorf("--http %s: %w", addr, err)
	}
	return netutil.LimitListener(ln, MaxConns), Loopback(ln.Addr()), nil
}

// NewServer is the page's HTTP server: slow or idle clients are timed
// out, headers bounded.
func NewServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 16 << 10}
}

// Handler serves the page and its API over r. token "" asks for none.
func Handler(r *roster.Roster, token string) http.Handler {
	h := &handler{r: r, token: token, streams: make(chan struct{}, MaxStreams)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.page)
	mux.HandleFunc("GET /app.js", h.script)
	mux.HandleFunc("GET /api/class", h.class)
	mux.HandleFunc("GET /api/lessons", h.lessons)
	mux.HandleFunc("GET /events", h.events)
	return h.guard(mux)
}

// NewToken is a random token to print at the server's start.
func NewToken() string {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Loopback reports whether a listener's address is loopback only: the
// unspecified address (0.0.0.0, ::) is every address, so it is not.
func Loopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

type handler struct {
	r       *roster.Roster
	token   string
	streams chan struct{} // one per live page, at most MaxStreams
}

const cookieName = "kcna-lab-token"

// guard lets a request through with the token, or where none is asked;
// a token in the query is moved to a cookie, so it leaves the address bar
// and the server's logs after the first page.
func (h *handler) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
		if h.token == "" {
			next.ServeHTTP(w, req)
			return
		}
		if q := req.URL.Query().Get("token"); q != "" && h.matches(q) {
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			u := *req.URL
			u.RawQuery = ""
			http.Redirect(w, req, u.String(), http.StatusSeeOther)
			return
		}
		given := ""
		if c, err := req.Cookie(cookieName); err == nil {
			given = c.Value
		}
		if a := req.Header.Get("Authorization"); len(a) > 7 && a[:7] == "Bearer " {
			given = a[7:]
		}
		if !h.matches(given) {
			http.Error(w, "kcna-lab: this page is the instructor's: open the address `kcna-lab serve` printed, with its ?token=", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, req)
	})
}

func (h *handler) matches(s string) bool {
	return subtle.ConstantTimeCompare([]byte(s), []byte(h.token)) == 1
}

func (h *handler) page(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(page)
}

func (h *handler) script(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(appJS)
}

func (h *handler) class(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, struct {
		Version  uint64           `json:"version"`
		Students []roster.Student `json:"students"`
	}{h.r.Version(), h.r.Class()})
}

func (h *handler) lessons(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, struct {
		Lessons []roster.LessonStats `json:"lessons"`
	}{h.r.Lessons()})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// events tells the page, as server-sent events, that the class changed:
// at most five times a second however many students change at once, and
// a comment every 15 seconds so that proxies keep the stream open.
func (h *handler) events(w http.ResponseWriter, req *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	select {
	case h.streams <- struct{}{}:
		defer func() { <-h.streams }()
	default:
		http.Error(w, fmt.Sprintf("kcna-lab: %d live class pages are open already; close one, or use /api/class", MaxStreams), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	changes, stop := h.r.Subscribe()
	defer stop()
	send := func() bool {
		_, err := fmt.Fprintf(w, "event: change\ndata: %d\n\n", h.r.Version())
		fl.Flush()
		return err == nil
	}
	if !send() {
		return
	}
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		select {
		case <-req.Context().Done():
			return
		case <-keep.C:
			if _, err := fmt.Fprint(w, ": still here\n\n"); err != nil {
				return
			}
			fl.Flush()
		case <-changes:
			if !send() {
				return
			}
			time.Sleep(200 * time.Millisecond) // what comes meanwhile is one event
		}
	}
}
