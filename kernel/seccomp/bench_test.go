//go:build linux

package seccomp

import "testing"

// BenchmarkDockerProfile is what every sandbox start pays in kcna-lab:
// resolve Docker's profile for the bounding set and compile it.
func BenchmarkDockerProfile(b *testing.B) {
	p := &Profile{Name: Default}
	for b.Loop() {
		resolved, err := p.Resolve(dockerCaps)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Compile(resolved); err != nil {
			b.Fatal(err)
		}
	}
}
