package image

import "testing"

// TestRemoteRefScheme: the course's own registry on loopback is spoken to
// over plain HTTP, a public one over HTTPS (a flag that made every
// registry plain HTTP went unnoticed by the loopback round trip).
func TestRemoteRefScheme(t *testing.T) {
	for ref, want := range map[string]string{
		"127.0.0.1:5000/lab/app:1":       "http",
		"localhost:5000/lab/app:1":       "http",
		"registry.example.com/lab/app:1": "https",
		"docker.io/library/busybox:1.36": "https",
	} {
		r, err := ParseRef(ref)
		if err != nil {
			t.Fatalf("ParseRef(%q): %v", ref, err)
		}
		n, err := remoteRef(r)
		if err != nil {
			t.Fatalf("remoteRef(%q): %v", ref, err)
		}
		if got := n.Context().Scheme(); got != want {
			t.Errorf("%s is spoken to over %s, want %s", ref, got, want)
		}
	}
}
