// Package event is the one contract every part of kcna-lab shares: each
// kernel-level step a sandbox takes, its output, narration, metric samples and
// final result travel as Events on one stream, which the TUI, `run --trace`
// and `demo` render. It is the ground under the stack's floors: a leaf
// package, so that every floor (kernel, sandbox, plugin, platform) can emit
// events and every front end can read them.
package event

import (
	"encoding/json"
	"strings"
	"time"
)

// Kind says what an Event carries.
type Kind string

// The kinds of event. One stream carries them all; renderers pick what they show.
const (
	// KindStep is a kernel-level action: Action, Shell, Err and Took are set.
	KindStep Kind = "step"
	// KindOutput is a chunk of the sandboxed process's output: Stream and Text.
	KindOutput Kind = "output"
	// KindNarration is a sentence for the learner: Text.
	KindNarration Kind = "narration"
	// KindMetric is a sample of a resource counter: Metric.
	KindMetric Kind = "metric"
	// KindOOM reports that the kernel's OOM killer ended a process in the
	// sandbox's cgroup, as read from memory.events or memory.oom_control.
	KindOOM Kind = "oom"
	// KindWarning is something the learner must read even without
	// --trace, said before it matters: Text.
	KindWarning Kind = "warning"
	// KindResult is the last event of a run: Result.
	KindResult Kind = "result"
	// KindCompare puts two views of the same thing side by side, such as
	// the host's process list and the sandbox's: Compare.
	KindCompare Kind = "compare"
)

// Event is one thing a learner can read about a sandbox.
type Event struct {
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`

	// Action is what the kernel was asked, e.g. "pivot_root(".", ".oldroot")".
	Action string `json:"action,omitempty"`
	// Shell is the command that would do the same, e.g. "pivot_root . .oldroot".
	Shell string `json:"shell,omitempty"`
	// Err is the failure, empty on success.
	Err string `json:"error,omitempty"`
	// Took is how long the step took.
	Took time.Duration `json:"took_ns,omitempty"`

	// Stream is "stdout" or "stderr" for KindOutput.
	Stream string `json:"stream,omitempty"`
	// Text is output or narration.
	Text string `json:"text,omitempty"`

	Metric  *Metric  `json:"metric,omitempty"`
	Result  *Result  `json:"result,omitempty"`
	Compare *Compare `json:"compare,omitempty"`
}

// Compare is two columns under one title, each as the kernel reported it.
type Compare struct {
	Title string `json:"title"`
	Left  Column `json:"left"`
	Right Column `json:"right"`
}

// Column is one side of a Compare.
type Column struct {
	Title string   `json:"title"`
	Lines []string `json:"lines"`
}

// OK reports whether a step succeeded.
func (e Event) OK() bool { return e.Err == "" }

// Metric is a sampled counter, such as memory.current against memory.max.
type Metric struct {
	// Name is the file the value came from, e.g. "memory.current" or "pids.current".
	Name string `json:"name"`
	// Value is the sample; Limit is 0 when there is no limit.
	Value int64 `json:"value"`
	Limit int64 `json:"limit,omitempty"`
	// Unit is "bytes", "count" or "usec".
	Unit string `json:"unit"`
}

// Result is how a sandboxed process ended.
type Result struct {
	// ExitCode follows the shell's convention: the command's own code,
	// 128+N when signal N ended it (137 after an OOM kill).
	ExitCode int `json:"exit_code"`
	// Signal names the signal that ended the process, if any ("SIGKILL").
	Signal string `json:"signal,omitempty"`
	// OOMKilled is true only when the cgroup's OOM counter says so.
	OOMKilled bool `json:"oom_killed,omitempty"`
}

// A Sink receives events. Emit must be safe for concurrent use and should
// not block for long: the sandbox calls it between kernel steps.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

// Emit calls f(e).
func (f SinkFunc) Emit(e Event) { f(e) }

// Discard is a Sink that drops every event.
var Discard Sink = SinkFunc(func(Event) {})

// Step runs fn as one kernel-level step and emits it with its timing and
// result. It returns fn's error unchanged.
func Step(sink Sink, action, shell string, fn func() error) error {
	start := time.Now()
	err := fn()
	e := Event{Time: start, Kind: KindStep, Action: action, Shell: shell, Took: time.Since(start)}
	if err != nil {
		e.Err = err.Error()
	}
	sink.Emit(e)
	return err
}

// Narrate emits a sentence for the learner.
func Narrate(sink Sink, text string) {
	sink.Emit(Event{Time: time.Now(), Kind: KindNarration, Text: text})
}

// Warn emits a warning.
func Warn(sink Sink, text string) {
	sink.Emit(Event{Time: time.Now(), Kind: KindWarning, Text: text})
}

// SideBySide emits a Compare of the host's view (left) and the sandbox's.
func SideBySide(sink Sink, title string, host, sandbox []string) {
	sink.Emit(Event{Time: time.Now(), Kind: KindCompare, Compare: &Compare{
		Title: title,
		Left:  Column{Title: "host", Lines: host},
		Right: Column{Title: "sandbox", Lines: sandbox},
	}})
}

// MarshalJSONLine encodes e as one line of JSON, the form used by
// `kcna-lab demo --json`.
func (e Event) MarshalJSONLine() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// Lines lays the two columns side by side in width cells: a header row,
// then the lines, each cell cut to fit. Both renderers, the TUI and the
// text trace, draw a Compare with it.
func (c Compare) Lines(width int) []string {
	col := max((width-3)/2, 8)
	cell := func(s string) string {
		r := []rune(strings.ReplaceAll(s, "\t", " "))
		if len(r) > col {
			r = append(r[:col-1], '…')
		}
		return string(r) + strings.Repeat(" ", col-len(r))
	}
	out := []string{cell(c.Left.Title) + " │ " + cell(c.Right.Title), strings.Repeat("─", col) + "─┼─" + strings.Repeat("─", col)}
	for i := range max(len(c.Left.Lines), len(c.Right.Lines)) {
		var l, r string
		if i < len(c.Left.Lines) {
			l = c.Left.Lines[i]
		}
		if i < len(c.Right.Lines) {
			r = c.Right.Lines[i]
		}
		out = append(out, strings.TrimRight(cell(l)+" │ "+cell(r), " "))
	}
	return out
}
