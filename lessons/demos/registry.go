// Package demos registers the live demos and challenge checks that lessons
// name by id. A demo drives the sandbox and reports through its event
// stream; a check inspects live state, never the text a learner typed.
//
// Lesson files can only name what is registered here, which validation
// enforces, so an instructor's lesson cannot promise a demo that does not
// exist. A challenge may instead write its checks in its lesson file
// (checks:); this package runs those too (declared.go).
package demos

import (
	"context"
	"slices"

	"github.com/kcna-lab/kcna-lab/event"
	"github.com/kcna-lab/kcna-lab/sandbox"
)

// Demo is one live demonstration.
type Demo struct {
	ID    string
	Title string
	// Run performs the demo, emitting every step on sink. It returns an
	// error that says plainly why the host cannot run it, if it cannot.
	Run func(ctx context.Context, sink event.Sink) error
	// Blocked says, from a doctor report, why this host cannot run the
	// demo live ("" when it can).
	Blocked func(r sandbox.Report) string
	// ShellFlags are the `kcna-lab shell` flags for the sandbox a learner's
	// `s` opens in the demo's lesson.
	ShellFlags []string
}

// Verdict is the outcome of a challenge check.
type Verdict struct {
	Passed bool
	// Detail says what was found, e.g. "pids.max is 20".
	Detail string
}

// Check verifies one challenge from live state.
type Check struct {
	ID     string
	Verify func(ctx context.Context) (Verdict, error)
	// Setup, if set, builds the broken state a troubleshooting challenge
	// starts from (in sandboxes that outlive the call) and returns what
	// is broken and where to look. It may be run again to start over.
	Setup func(ctx context.Context, sink event.Sink) (string, error)
}

// Registry is a set of demos and checks, by id.
type Registry struct {
	demos  map[string]Demo
	checks map[string]Check
}

// Builtin is every demo and check built into kcna-lab. Each lesson's file in
// this package adds its own.
func Builtin() *Registry {
	ds := []Demo{dependenciesDemo(), sharedKernelDemo(), chrootDemo(), namespacesDemo(), cgroupsDemo(), ociDemo(), layersDemo(), securityDemo()}
	cs := append(checks(), ociBundleCheck())
	// Part 2 of the course: one file per lesson, each owning its demos
	// and checks.
	for _, part := range []struct {
		demos  func() []Demo
		checks func() []Check
	}{
		{orchestrationDemos, orchestrationChecks},
		{networkingDemos, networkingChecks},
		{discoveryDemos, discoveryChecks},
		{meshDemos, meshChecks},
		{storageDemos, storageChecks},
		{troubleshootDemos, troubleshootChecks},
		{imageDemos, imageChecks},
		{observeDemos, observeChecks},
	} {
		ds = append(ds, part.demos()...)
		cs = append(cs, part.checks()...)
	}
	return NewRegistry(ds, cs)
}

// NewRegistry holds the given demos and checks; instructors' tools and
// tests use it, kcna-lab itself uses Builtin.
func NewRegistry(ds []Demo, cs []Check) *Registry {
	r := &Registry{demos: map[string]Demo{}, checks: map[string]Check{}}
	for _, d := range ds {
		r.demos[d.ID] = d
	}
	for _, c := range cs {
		r.checks[c.ID] = c
	}
	return r
}

// HasDemo reports whether id names a registered demo.
func (r *Registry) HasDemo(id string) bool { _, ok := r.demos[id]; return ok }

// HasChallenge reports whether id names a registered challenge check.
func (r *Registry) HasChallenge(id string) bool { _, ok := r.checks[id]; return ok }

// Demo returns the demo registered as id.
func (r *Registry) Demo(id string) (Demo, bool) { d, ok := r.demos[id]; return d, ok }

// Check returns the check registered as id.
func (r *Registry) Check(id string) (Check, bool) { c, ok := r.checks[id]; return c, ok }

// DemoIDs lists the registered demo ids, sorted.
func (r *Registry) DemoIDs() []string {
	ids := make([]string, 0, len(r.demos))
	for id := range r.demos {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
