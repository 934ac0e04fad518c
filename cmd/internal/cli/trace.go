package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/kcna-lab/kcna-lab/event"
)

// traceSink prints events as `run --trace` and `demo` show them: each step
// with its result and the shell command that would do the same, output
// indented beneath, narration as plain sentences.
type traceSink struct {
	mu        sync.Mutex
	w         io.Writer
	narration bool // demo: print narration and output too
}

func NewTraceSink(w io.Writer) *traceSink { return &traceSink{w: w} }

func NewDemoSink(w io.Writer) *traceSink { return &traceSink{w: w, narration: true} }

func (t *traceSink) Emit(e event.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Kind {
	case event.KindStep:
		status := "ok"
		if !e.OK() {
			status = "FAILED: " + e.Err
		}
		fmt.Fprintf(t.w, "  %-44s  $ %s   %s %s\n", e.Action, e.Shell, status, tookText(e.Took))
	case event.KindNarration:
		if t.narration {
			fmt.Fprintf(t.w, "\n%s\n", e.Text)
		} else {
			fmt.Fprintf(t.w, "  # %s\n", e.Text)
		}
	case event.KindOutput:
		if t.narration {
			for _, line := range strings.Split(strings.TrimRight(e.Text, "\n"), "\n") {
				fmt.Fprintf(t.w, "  | %s\n", line)
			}
		}
	case event.KindOOM:
		fmt.Fprintf(t.w, "  OOM: %s\n", e.Text)
	case event.KindWarning:
		fmt.Fprintf(t.w, "  warning: %s\n", e.Text)
	case event.KindCompare:
		if c := e.Compare; c != nil {
			fmt.Fprintf(t.w, "\n%s\n", c.Title)
			for _, l := range c.Lines(78) {
				fmt.Fprintf(t.w, "  %s\n", l)
			}
		}
	case event.KindMetric:
		// Samples are for the TUI's gauges; a text trace would drown in them.
	case event.KindResult:
		if r := e.Result; r != nil {
			switch {
			case r.OOMKilled:
				fmt.Fprintf(t.w, "  exit %d (killed by the OOM killer)\n", r.ExitCode)
			case r.Signal != "":
				fmt.Fprintf(t.w, "  exit %d (%s)\n", r.ExitCode, r.Signal)
			default:
				fmt.Fprintf(t.w, "  exit %d\n", r.ExitCode)
			}
		}
	}
}

func tookText(d time.Duration) string {
	switch {
	case d <= 0:
		return ""
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
}

// NewJSONSink prints each event as one line of JSON (`demo --json`).
func NewJSONSink(w io.Writer) event.Sink { return &jsonSink{w: w} }

// jsonSink prints each event as one line of JSON (`demo --json`).
type jsonSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (j *jsonSink) Emit(e event.Event) {
	b, err := e.MarshalJSONLine()
	if err != nil {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_, _ = j.w.Write(b)
}
