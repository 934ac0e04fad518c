package mesh

import (
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Rules is everything the control plane tells every sidecar. It is plain data
// that survives a round trip through JSON, so it can be written by hand
// (`kcna-lab mesh apply rules.json`) and sent across a unix socket.
//
//	{
//	  "mtls": true,
//	  "services": {
//	    "reviews": {"split": {"v1": 90, "v2": 10}, "retries": 2, "timeout": "500ms"},
//	    "ratings": {"deny": ["/admin"]}
//	  }
//	}
type Rules struct {
	// MTLS is mesh-wide: when true, every sidecar-to-sidecar hop is mutual
	// TLS with certificates from the control plane's CA, and every sidecar's
	// inbound listener refuses plaintext. When false, hops are plaintext.
	//
	// A switch reaches the sidecars one after another, so a request that
	// crosses it (its caller still on the old mode, its callee on the new)
	// fails. Istio avoids that window with PERMISSIVE mode, in which a
	// sidecar accepts both while the mesh migrates; this mesh leaves it out.
	MTLS bool `json:"mtls"`
	// Services holds the rules for traffic to each destination service.
	Services map[string]ServiceRules `json:"services,omitempty"`
}

// ServiceRules governs the traffic sent to one destination service.
//
// Allow and Deny are enforced by the destination's own sidecar (on inbound),
// so that a caller which skips its sidecar cannot skip them either. Retries,
// Timeout and Split are applied by the caller's sidecar (on outbound), the
// only place that can pick another endpoint or try again.
type ServiceRules struct {
	// Allow, when not empty, lists the only path prefixes that may be reached.
	Allow []string `json:"allow,omitempty"`
	// Deny lists path prefixes that are refused with 403; it wins over Allow.
	// Prefixes match whole path segments: "/admin" matches "/admin" and
	// "/admin/users" but not "/administrator" (the Gateway API's PathPrefix).
	Deny []string `json:"deny,omitempty"`
	// Retries is how many more times an idempotent request (GET, HEAD,
	// OPTIONS, TRACE, PUT, DELETE) is tried after a 5xx answer, a connection
	// error or a timeout. Other methods are never retried: the first try may
	// have had its effect even though its answer was lost.
	Retries int `json:"retries,omitempty"`
	// Timeout bounds each try, response body included. Zero means none.
	Timeout Duration `json:"timeout,omitempty"`
	// Split weighs the versions of the service against each other, e.g.
	// {"v1": 90, "v2": 10}. The caller's sidecar picks a version by weight,
	// then an endpoint of that version at random. Versions with no running
	// endpoint are left out of the draw. Empty: every endpoint is equally likely.
	Split map[string]int `json:"split,omitempty"`
}

// MaxRetries bounds ServiceRules.Retries: more tries than this turn one
// failing request into a storm that keeps a struggling service down.
const MaxRetries = 10

// For returns the rules for traffic to service (the zero ServiceRules,
// which allows everything once with no timeout, when there are none).
func (r Rules) For(service string) ServiceRules { return r.Services[service] }

// Validate reports the first thing wrong with r.
func (r Rules) Validate() error {
	for _, name := range slices.Sorted(maps.Keys(r.Services)) {
		if err := checkService(name); err != nil {
			return fmt.Errorf("rules: %w", err)
		}
		if err := r.Services[name].validate(); err != nil {
			return fmt.Errorf("rules for %s: %w", name, err)
		}
	}
	return nil
}

func (sr ServiceRules) validate() error {
	for _, p := range slices.Concat(sr.Allow, sr.Deny) {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("path prefix %q must start with /", p)
		}
	}
	if sr.Retries < 0 || sr.Retries > MaxRetries {
		return fmt.Errorf("retries %d: must be between 0 and %d", sr.Retries, MaxRetries)
	}
	if sr.Timeout < 0 {
		return fmt.Errorf("timeout %v: must not be negative", sr.Timeout)
	}
	total := 0
	for v, w := range sr.Split {
		if v == "" {
			return fmt.Errorf("split: a version has no name")
		}
		if w < 0 {
			return fmt.Errorf("split: weight %d for %s: must not be negative", w, v)
		}
		total += w
	}
	if len(sr.Split) > 0 && total == 0 {
		return fmt.Errorf("split: the weights add up to 0, so no version could ever be picked")
	}
	return nil
}

// Permits reports whether a request for the (cleaned) path p may reach the
// app, and if not, which rule refused it.
func (sr ServiceRules) Permits(p string) (ok bool, rule string) {
	for _, prefix := range sr.Deny {
		if matchPrefix(p, prefix) {
			return false, "deny " + prefix
		}
	}
	if len(sr.Allow) == 0 {
		return true, ""
	}
	for _, prefix := range sr.Allow {
		if matchPrefix(p, prefix) {
			return true, ""
		}
	}
	return false, "allow " + strings.Join(sr.Allow, ", ") + " (no match)"
}

// matchPrefix matches whole segments, so that denying /admin does not also
// deny /administrator and allowing /api does not also allow /api-internal.
func matchPrefix(p, prefix string) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return true
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// cleanPath is the path the rules judge and the app receives. Both must see
// the same one: if the sidecar judged "/admin/../public" as /public but
// passed it on raw, an app that routes on the raw prefix would serve /admin.
// A trailing slash is kept, since apps often treat "/dir/" and "/dir" apart.
func cleanPath(p string) string {
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

// String sums r up for a learner, naming what each rule is called in Istio.
func (r Rules) String() string {
	var parts []string
	if r.MTLS {
		parts = append(parts, "mTLS on (Istio: PeerAuthentication mode STRICT)")
	} else {
		parts = append(parts, "mTLS off")
	}
	for _, name := range slices.Sorted(maps.Keys(r.Services)) {
		sr := r.Services[name]
		var s []string
		if len(sr.Split) > 0 {
			var w []string
			for _, v := range slices.Sorted(maps.Keys(sr.Split)) {
				w = append(w, v+" "+strconv.Itoa(sr.Split[v]))
			}
			s = append(s, "split "+strings.Join(w, " / ")+" (VirtualService weights)")
		}
		if sr.Retries > 0 {
			s = append(s, fmt.Sprintf("retries %d (VirtualService retries)", sr.Retries))
		}
		if sr.Timeout > 0 {
			s = append(s, fmt.Sprintf("timeout %v per try", time.Duration(sr.Timeout)))
		}
		if len(sr.Deny) > 0 {
			s = append(s, "deny "+strings.Join(sr.Deny, ", ")+" (AuthorizationPolicy DENY)")
		}
		if len(sr.Allow) > 0 {
			s = append(s, "allow only "+strings.Join(sr.Allow, ", ")+" (AuthorizationPolicy ALLOW)")
		}
		if len(s) == 0 {
			s = append(s, "defaults")
		}
		parts = append(parts, name+": "+strings.Join(s, ", "))
	}
	return strings.Join(parts, "; ")
}

// clone copies r deeply, so that a caller changing its maps after Apply or
// Push cannot change the rules a sidecar is reading at the same time.
func (r Rules) clone() Rules {
	out := Rules{MTLS: r.MTLS}
	if r.Services != nil {
		out.Services = make(map[string]ServiceRules, len(r.Services))
		for name, sr := range r.Services {
			sr.Allow = slices.Clone(sr.Allow)
			sr.Deny = slices.Clone(sr.Deny)
			sr.Split = maps.Clone(sr.Split)
			out.Services[name] = sr
		}
	}
	return out
}

// Duration is a time.Duration written in JSON as "500ms" or "2s" (a bare
// number is read as nanoseconds), so rules files stay readable.
type Duration time.Duration

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "500ms" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var n int64
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("duration %s: want a string such as \"500ms\" or a number of nanoseconds", b)
		}
		*d = Duration(n)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// checkService accepts what Kubernetes accepts as a Service name (an RFC 1123
// label), because the name travels in Host headers and SPIFFE IDs.
func checkService(name string) error {
	if name == "" || len(name) > 63 {
		return fmt.Errorf("service name %q: must be 1 to 63 characters", name)
	}
	for i, c := range name {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '-' || i == 0 || i == len(name)-1) {
			return fmt.Errorf("service name %q: only a-z, 0-9 and inner '-' are allowed", name)
		}
	}
	return nil
}
