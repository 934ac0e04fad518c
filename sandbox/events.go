package sandbox

import "github.com/kcna-lab/kcna-lab/event"

// The event contract, re-exported so callers of sandbox need one import.
type (
	Event  = event.Event
	Sink   = event.Sink
	Metric = event.Metric
	Result = event.Result
)
